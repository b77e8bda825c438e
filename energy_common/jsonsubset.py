"""A validator for the subset of JSON Schema (draft 2020-12) the report contract uses, in two
forms from the same schema: `generate` writes a yes/no check out as one Python function (the
fast path: no call per value, no walk of the schema's dicts), and `check` walks the schema to
name the first violation and its JSON path. `energy_common/schema.py` uses both: the first on
every report, the second to explain a refusal. Every string is also refused if it holds a
control character or a lone surrogate (`chars`), unless the JSON text showed none can be there
(`SUSPECT_ESCAPE`).

Keywords understood: type, const, enum, minimum, maximum, minLength, maxLength, pattern,
format (date-time), required, properties, additionalProperties, maxProperties, propertyNames,
items, minItems, maxItems, uniqueItems; the report schema uses no other (a schema that does
is not checked for it).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

# Control characters (C0, DEL, C1) and lone UTF-16 surrogates are refused in every string: they
# split line-protocol points, break log lines and cannot be stored as UTF-8.
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@functools.lru_cache(maxsize=8192)
def parse_time(text: str) -> float:
    """RFC 3339 UTC timestamp ('…Z', the reports' `date-time`) to POSIX seconds. Cached:
    validation checks every timestamp is a real date, parsing reads it again, and segments
    share their boundaries."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Violation(ValueError):
    """A value that does not satisfy the schema; the message starts with its JSON path."""


_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
}


def _compile(pattern: str) -> re.Pattern[str]:
    # JSON Schema (ECMA-262) `$` is the end of the text; Python's `$` also matches before a
    # trailing newline, which would let "…\n" through as a second spelling of the same id
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)


# In JSON text a control character or a surrogate can only reach a string through an escape
# (\n, \u0000, \ud800…): a payload without one of these needs no per-string check.
SUSPECT_ESCAPE = re.compile(rb"\\(?:[bfnrt]|u00[0-1]|u007[fF]|u00[89]|u[dD][89a-fA-F])")


class _Invalid(Exception):
    """A violation found deep in the document; the path is built only on the way out."""

    def __init__(self, msg: str) -> None:
        self.msg = msg
        self.parts: list[str] = []


Check = Callable[[Any, bool], None]


def check(value: Any, schema: dict[str, Any], path: str = "$", chars: bool = True) -> None:
    """Raise Violation naming the JSON path of the first violation of `schema`.
    `chars=False` skips the per-string control-character check (the caller showed that the
    JSON text has no escape that could produce one)."""
    compiled = _compiled.get(id(schema))
    if compiled is None:
        compiled = _compiled.setdefault(id(schema), _compile_schema(schema))
    try:
        compiled(value, chars)
    except _Invalid as exc:
        where = path + "".join(reversed(exc.parts))
        raise Violation(f"{where}: {exc.msg}") from None


_compiled: dict[int, Check] = {}


def _compile_schema(schema: dict[str, Any]) -> Check:
    """One closure per schema node, with everything the node asks for looked up once: the
    collector validates thousands of reports a second, and walking the schema's dicts for
    every value was most of the cost."""
    const = schema.get("const", _ABSENT)
    enum = schema.get("enum")
    expected = schema.get("type")
    is_type: Callable[[Any], bool] | None = None
    if expected is not None:
        if expected == "integer":
            is_type = _is_int
        elif expected == "number":
            is_type = _is_number
        else:
            py = _TYPES[expected]

            def is_type(v: Any, py: type = py) -> bool:
                return isinstance(v, py)

    max_len = schema.get("maxLength")
    min_len = schema.get("minLength", 0)
    pattern = schema.get("pattern")
    rx = _compile(pattern) if pattern is not None else None
    is_time = schema.get("format") == "date-time"
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    props = {k: _compile_schema(v) for k, v in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    max_props = schema.get("maxProperties")
    extra = schema.get("additionalProperties", True)
    extra_check = _compile_schema(extra) if isinstance(extra, dict) else None
    names = schema.get("propertyNames")
    names_check = _compile_schema(names) if names is not None else None
    max_items = schema.get("maxItems")
    min_items = schema.get("minItems", 0)
    unique = bool(schema.get("uniqueItems"))
    items = schema.get("items")
    items_check = _compile_schema(items) if items is not None else None

    def check(value: Any, chars: bool) -> None:
        if const is not _ABSENT and value != const:
            raise _Invalid(f"must be {const!r}")
        if enum is not None and value not in enum:
            raise _Invalid(f"{value!r} is not one of {enum}")
        if is_type is not None and not is_type(value):
            raise _Invalid(f"expected {expected}, got {type(value).__name__}")
        if isinstance(value, str):
            if max_len is not None and len(value) > max_len:
                raise _Invalid(f"longer than {max_len}")
            if len(value) < min_len:
                raise _Invalid(f"shorter than {min_len}")
            if chars:
                bad = _BAD_CHARS.search(value)
                if bad is not None:
                    raise _Invalid(f"control character or lone surrogate {bad.group()!r}")
            if rx is not None and rx.search(value) is None:
                raise _Invalid(f"{value[:64]!r} has the wrong format")
            if is_time:
                try:
                    parse_time(value)
                except ValueError:
                    raise _Invalid(f"{value!r} is not a real date") from None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value or value in (_INF, _NINF):
                raise _Invalid("not a finite number")
            if minimum is not None and value < minimum:
                raise _Invalid(f"{value} is below {minimum}")
            if maximum is not None and value > maximum:
                raise _Invalid(f"{value} is above {maximum}")
        elif isinstance(value, dict):
            for key in required:
                if key not in value:
                    raise _Invalid(f"missing required field {key!r}")
            if max_props is not None and len(value) > max_props:
                raise _Invalid(f"more than {max_props} entries")
            for key, item in value.items():
                sub = props.get(key)
                try:
                    if sub is not None:
                        sub(item, chars)
                    elif extra is False:
                        raise _Invalid(f"unknown field {str(key)[:64]!r}")
                    elif extra_check is not None:
                        if names_check is not None:
                            try:
                                names_check(key, chars)
                            except _Invalid as exc:
                                exc.parts.append(".<key>")
                                raise
                        extra_check(item, chars)
                except _Invalid as exc:
                    if not exc.parts or exc.parts[-1] != ".<key>":
                        exc.parts.append(f".{key}")
                    raise
        elif isinstance(value, list):
            if max_items is not None and len(value) > max_items:
                raise _Invalid(f"more than {max_items} items")
            if len(value) < min_items:
                raise _Invalid(f"fewer than {min_items} items")
            if unique and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
                raise _Invalid("items repeat")
            if items_check is not None:
                for i, item in enumerate(value):
                    try:
                        items_check(item, chars)
                    except _Invalid as exc:
                        exc.parts.append(f"[{i}]")
                        raise

    return check


class _Source:
    """Python source of a yes/no check for one schema: `generate` writes it once."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "_BAD": _BAD_CHARS.search,
            "_INF": _INF,
            "_NINF": _NINF,
            "_M": _ABSENT,
            "_dumps": json.dumps,
            "parse_time": parse_time,
            "_Invalid": _Invalid,
        }
        self.n = 0

    def name(self, value: Any, prefix: str) -> str:
        self.n += 1
        key = f"{prefix}{self.n}"
        self.names[key] = value
        return key

    def var(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)


_STRING_KEYS = {"maxLength", "minLength", "pattern", "format"}
_NUMBER_KEYS = {"minimum", "maximum"}
_OBJECT_KEYS = {"required", "maxProperties", "properties", "additionalProperties", "propertyNames"}
_ARRAY_KEYS = {"maxItems", "minItems", "uniqueItems", "items"}
_NOTES = {"description", "title", "$schema", "$id"}


def _node(src: _Source, schema: dict[str, Any], v: str, d: int) -> None:
    """Lines that `return False` unless `v` passes `schema`. A node of a shape not written
    out here calls the reference check; any doubt only costs the slow path."""
    expected = schema.get("type")
    keys = set(schema) - _NOTES
    const = schema.get("const", _ABSENT)
    enum = schema.get("enum")
    choices = [const] if const is not _ABSENT else enum
    if expected is None:
        if (
            choices is not None
            and keys <= {"const", "enum"}
            and all(type(c) is str for c in choices)
        ):
            src.emit(d, f"if {v} not in {src.name(frozenset(choices), '_E')}: return False")
            src.emit(d, f"if type({v}) is not str: return False")
            src.emit(d, f"if chars and _BAD({v}) is not None: return False")
            return
        ref = src.name(_compile_schema(schema), "_R")
        src.emit(d, "try:")
        src.emit(d + 1, f"{ref}({v}, chars)")
        src.emit(d, "except _Invalid:")
        src.emit(d + 1, "return False")
        return
    if const is not _ABSENT:
        src.emit(d, f"if {v} != {src.name(const, '_C')}: return False")
    if enum is not None:
        src.emit(d, f"if {v} not in {src.name(tuple(enum), '_E')}: return False")
    if expected == "string":
        src.emit(d, f"if type({v}) is not str: return False")
        if "maxLength" in schema:
            src.emit(d, f"if len({v}) > {int(schema['maxLength'])}: return False")
        if schema.get("minLength", 0):
            src.emit(d, f"if len({v}) < {int(schema['minLength'])}: return False")
        src.emit(d, f"if chars and _BAD({v}) is not None: return False")
        if "pattern" in schema:
            rx = src.name(_compile(schema["pattern"]).search, "_P")
            src.emit(d, f"if {rx}({v}) is None: return False")
        if schema.get("format") == "date-time":
            src.emit(d, f"parse_time({v})")  # ValueError: not a real date (slow path says so)
    elif expected in ("integer", "number"):
        if expected == "integer":
            src.emit(d, f"if type({v}) is not int: return False")
        else:
            src.emit(d, f"if type({v}) is float:")
            src.emit(d + 1, f"if {v} != {v} or {v} == _INF or {v} == _NINF: return False")
            src.emit(d, f"elif type({v}) is not int: return False")
        if "minimum" in schema:
            src.emit(d, f"if {v} < {src.name(schema['minimum'], '_C')}: return False")
        if "maximum" in schema:
            src.emit(d, f"if {v} > {src.name(schema['maximum'], '_C')}: return False")
    elif expected == "boolean":
        src.emit(d, f"if {v} is not True and {v} is not False: return False")
    elif expected == "object":
        _object(src, schema, v, d)
    elif expected == "array":
        src.emit(d, f"if type({v}) is not list: return False")
        if "maxItems" in schema:
            src.emit(d, f"if len({v}) > {int(schema['maxItems'])}: return False")
        if schema.get("minItems", 0):
            src.emit(d, f"if len({v}) < {int(schema['minItems'])}: return False")
        if schema.get("uniqueItems"):
            src.emit(
                d,
                f"if len({{_dumps(x, sort_keys=True) for x in {v}}}) < len({v}): return False",
            )
        if schema.get("items") is not None:
            item = src.var()
            src.emit(d, f"for {item} in {v}:")
            _node(src, schema["items"], item, d + 1)
    else:
        raise ValueError(f"type {expected!r} is not supported by the report validator")


def _object(src: _Source, schema: dict[str, Any], v: str, d: int) -> None:
    src.emit(d, f"if type({v}) is not dict: return False")
    required = list(schema.get("required", ()))
    if required:
        src.emit(d, f"if not {src.name(frozenset(required), '_K')} <= {v}.keys(): return False")
    if "maxProperties" in schema:
        src.emit(d, f"if len({v}) > {int(schema['maxProperties'])}: return False")
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    if extra is False:
        src.emit(d, f"if not {v}.keys() <= {src.name(frozenset(props), '_K')}: return False")
    if isinstance(extra, dict):
        key, item = src.var(), src.var()
        src.emit(d, f"for {key}, {item} in {v}.items():")
        inner = d + 1
        if props:
            src.emit(d + 1, f"if {key} in {src.name(frozenset(props), '_K')}: continue")
        if schema.get("propertyNames") is not None:
            _node(src, schema["propertyNames"], key, inner)
        _node(src, extra, item, inner)
    for name, sub in props.items():
        item = src.var()
        if name in required:
            src.emit(d, f"{item} = {v}[{name!r}]")
            _node(src, sub, item, d)
        else:
            src.emit(d, f"{item} = {v}.get({name!r}, _M)")
            src.emit(d, f"if {item} is not _M:")
            _node(src, sub, item, d + 1)


def generate(schema: dict[str, Any]) -> Callable[[Any, bool], bool]:
    """A check of `schema` written out as one Python function (no call per value, no walk of
    the schema's dicts): True when the value is valid. False means "not shown valid": the
    reference check (`check`) then says why, with the path, or lets it through."""
    src = _Source()
    src.emit(0, "def fast(v0, chars):")
    src.emit(1, "try:")
    _node(src, schema, "v0", 2)
    src.emit(1, "except Exception:")
    src.emit(2, "return False")
    src.emit(1, "return True")
    code = "\n".join(src.lines) + "\n"
    exec(compile(code, f"<validator of {schema.get('$id', 'a schema')}>", "exec"), src.names)
    fast: Callable[[Any, bool], bool] = src.names["fast"]
    return fast


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_ABSENT = object()
_INF = float("inf")
_NINF = float("-inf")
