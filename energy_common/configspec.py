"""Typed YAML configuration: dataclasses are the schema, the docs and the defaults at once.

Each option is a dataclass field with `opt(default, doc, …)`; `load(cls, data, source)` checks a
parsed YAML mapping against it and raises ConfigError naming the file, the dotted key and what is
wrong. `reference(cls)` renders the Markdown reference that docs/ carry (a test keeps it current).
The agent's and the collector's configurations use this same machinery.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

T = TypeVar("T")


class ConfigError(Exception):
    """An invalid configuration; the message names file, key and problem."""


def opt(
    default: Any,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[Any, ...] | None = None,
    secret: bool = False,
) -> Any:
    """Declare one option. Mutable defaults (dicts, lists, dataclasses) are copied per instance."""
    meta = {
        "doc": doc,
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
        "secret": secret,
    }
    if isinstance(default, (dict, list)):
        proto: dict[Any, Any] | list[Any] = default

        def factory() -> Any:
            return type(proto)(proto)

        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def section(cls: type[T], doc: str) -> Any:
    return dataclasses.field(default_factory=cls, metadata={"doc": doc, "section": True})


def load_file(
    cls: type[T], path: str | Path | None, overlay: tuple[str, dict[str, Any]] | None = None
) -> T:
    """Load `path` (YAML) into `cls`; None means the built-in defaults. `overlay` is (what,
    mapping) put on top of the file's values (Windows policies), named in errors."""
    if path is None:
        if overlay and overlay[1]:
            return load(cls, overlay[1], f"<defaults> + {overlay[0]}")
        return load(cls, {}, "<defaults>")
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if overlay and overlay[1] and isinstance(data, dict):
        return load(cls, merge(data, overlay[1]), f"{source} + {overlay[0]}")
    return load(cls, data, source)


def load(cls: type[T], data: Any, source: str, prefix: str = "") -> T:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where}: expected a mapping, got {_kind(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: {prefix}{key}: unknown option{hint}")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        key = f"{prefix}{name}"
        tp = hints[name]
        if f.metadata.get("section"):
            values[name] = load(tp, data[name] if data[name] is not None else {}, source, key + ".")
        else:
            values[name] = _check(data[name], tp, f.metadata, source, key)
    obj = cls(**values)
    validate_hook = getattr(obj, "validate", None)
    if callable(validate_hook):
        try:
            validate_hook()
        except ValueError as exc:
            raise ConfigError(f"{source}: {prefix}{exc}") from None
    return obj


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _check(value: Any, tp: Any, meta: Any, source: str, key: str) -> Any:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {msg}")

    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        tp = args[0]
        origin = typing.get_origin(tp)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise fail(f"{value!r} is not one of {', '.join(map(str, choices))}")
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {_kind(value)}")
        return value
    if tp in (int, float):
        ok = isinstance(value, int) if tp is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            want = "an integer" if tp is int else "a number"
            raise fail(f"expected {want}, got {_kind(value)} {value!r}")
        lo, hi = meta.get("minimum"), meta.get("maximum")
        if lo is not None and value < lo:
            raise fail(f"{value} is below the minimum {lo}")
        if hi is not None and value > hi:
            raise fail(f"{value} is above the maximum {hi}")
        return tp(value)
    if tp is str:
        if not isinstance(value, str):
            raise fail(f"expected a string, got {_kind(value)}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise fail(f"expected a mapping, got {_kind(value)}")
        out = {}
        for k, v in value.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise ConfigError(f"{source}: {key}.{k}: expected a string, got {_kind(v)}")
            out[str(k)] = str(v)
        return out
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise fail(f"expected a list, got {_kind(value)}")
        if isinstance(item_tp, type) and dataclasses.is_dataclass(item_tp):
            return [load(item_tp, v, source, f"{key}[{i}].") for i, v in enumerate(value)]
        return [_check(v, item_tp, {}, source, f"{key}[{i}]") for i, v in enumerate(value)]
    raise fail(f"unsupported option type {tp}")  # a bug in the declaration, not in the file


def reference(cls: type, prefix: str = "") -> list[str]:
    """Markdown rows `| key | default | meaning |` for every option, sections expanded."""
    rows: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        if f.metadata.get("section"):
            rows.extend(reference(hints[f.name], key + "."))
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        shown = "—" if default in (None, "", {}, []) else f"`{default}`"
        doc = f.metadata.get("doc", "")
        choices = f.metadata.get("choices")
        if choices:
            doc += f" One of: {', '.join(f'`{c}`' for c in choices)}."
        rows.append(f"| `{key}` | {shown} | {doc} |")
        item = typing.get_args(hints[f.name])
        if (
            typing.get_origin(hints[f.name]) is list
            and item
            and isinstance(item[0], type)
            and dataclasses.is_dataclass(item[0])
        ):
            rows.extend(reference(item[0], key + "[]."))
    return rows


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`, mappings merged key by key (the last layer wins)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def table(cls: type) -> str:
    """The Markdown table of a configuration's options, as docs/*-config.md carry it."""
    return "| key | default | meaning |\n|---|---|---|\n" + "\n".join(reference(cls)) + "\n"


def check_url(key: str, url: str) -> None:
    """An http(s) URL with a host, or a ValueError naming the key: what `run` would fail on
    at its first request, said by check-config."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{key}: {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{key}: {url!r} has no host")


def read_secret(value: str | None, file: str | None, what: str) -> str | None:
    """A secret from its file (first line) or the inline value. An empty secret is an error:
    a blank first line must never mean "no authentication"."""
    if file is None:
        if value is not None and not value.strip():
            raise ConfigError(f"{what.removesuffix('_file')}: empty")
        return value
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {file}: {exc.strerror or exc}") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"{what}: {file}: the first line is empty")
    return secret
