"""Windows settings from the registry, on top of the YAML configuration, in this order:
the MSI's properties (`HKLM\\Software\\EnergyAgent\\Install`, written at install), then Group
Policy (`HKLM\\Software\\Policies\\EnergyAgent`, written by the ADMX templates in
configs/windows/): policy wins.

A value is named after the configuration key it sets, dotted for sections (`site`,
`transport`, `mqtt.host`, `mqtt.tls.enabled`, `http.url`…); tags are the values of the subkey
`Tags` (name = tag, data = value). DWORD values set numbers and booleans (0 is false). A value
naming no option, or of the wrong type, is logged and ignored: a typo in a GPO must not stop
5,000 agents, and the YAML's own value stays.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import typing
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("energy_agent")

POLICY_KEY = r"Software\Policies\EnergyAgent"
INSTALL_KEY = r"Software\EnergyAgent\Install"


def read_registry(key: str = POLICY_KEY) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(values of the key, values of its Tags subkey) from HKLM; empty where absent."""
    if sys.platform != "win32":
        return [], []
    import winreg

    def values(path: str) -> list[tuple[str, Any]]:
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, path) as k:
                out = []
                i = 0
                while True:
                    try:
                        name, data, _ = winreg.EnumValue(k, i)
                    except OSError:
                        return out
                    out.append((name, data))
                    i += 1
        except OSError:
            return []

    return values(key), values(key + r"\Tags")


def _field_type(cls: type, dotted: str) -> Any:
    """The declared type of a dotted option of `cls`, or None if there is no such option."""
    *sections, name = dotted.split(".")
    for section in sections:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        f = fields.get(section)
        if f is None or not f.metadata.get("section"):
            return None
        cls = hints[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields or fields[name].metadata.get("section"):
        return None
    return typing.get_type_hints(cls)[name]


def _coerce(tp: Any, data: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if args else tp
    if base is bool:
        if isinstance(data, int):
            return data != 0
        if isinstance(data, str) and data.strip().lower() in ("0", "1", "true", "false"):
            return data.strip().lower() in ("1", "true")
        raise ValueError("expected a DWORD 0 or 1")
    if base is int:
        return int(data)
    if base is float:
        return float(data)
    if base is str:
        if not isinstance(data, str):
            raise ValueError("expected a string (REG_SZ)")
        return data
    raise ValueError(f"cannot be set by policy ({base})")


def parse_tags(text: str) -> dict[str, str]:
    """`name=value;name=value` (the MSI's TAGS property); blanks ignored."""
    out = {}
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if sep and name.strip():
            out[name.strip()] = value.strip()
    return out


def installer_values(values: Iterable[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], dict]:
    """The MSI's values as option names: empty ones are properties not given; `ca_file`
    serves both transports; `enrolment.*` goes to the transport chosen; `tags` is a string."""
    given = {n: v for n, v in values if not (isinstance(v, str) and not v.strip())}
    transport = str(given.get("transport", "")).strip()
    out: list[tuple[str, Any]] = []
    tags: dict[str, str] = {}
    for name, data in given.items():
        if name == "tags":
            tags = parse_tags(str(data))
        elif name == "ca_file":
            out += [("mqtt.tls.ca_file", data), ("http.ca_file", data)]
        elif name == "enrolment.secret_file":
            out.append((f"{'http' if transport == 'http' else 'mqtt'}.enrolment_secret_file", data))
        elif name == "enrolment.url":
            if transport != "http":
                out.append(("mqtt.enrolment_url", data))
        else:
            out.append((name, data))
    return out, tags


def policy_overlay(
    cls: type,
    values: Iterable[tuple[str, Any]],
    tags: Iterable[tuple[str, Any]],
    key: str = POLICY_KEY,
) -> dict[str, Any]:
    """The nested mapping that the registry values of `key` put on top of the YAML."""
    out: dict[str, Any] = {}
    for name, data in values:
        tp = _field_type(cls, name)
        if tp is None or name == "tags":
            log.warning("registry: HKLM\\%s\\%s names no option; ignored", key, name)
            continue
        try:
            value = _coerce(tp, data)
        except (TypeError, ValueError) as exc:
            log.warning("registry: HKLM\\%s\\%s = %r: %s; ignored", key, name, data, exc)
            continue
        *sections, leaf = name.split(".")
        target = out
        for s in sections:
            target = target.setdefault(s, {})
        target[leaf] = value
    tag_map = {str(k): str(v) for k, v in tags if isinstance(v, str)}
    if tag_map:
        out["tags"] = tag_map
    return out
