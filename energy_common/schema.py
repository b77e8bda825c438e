"""The agent report, version 1: the one contract between agent and collector.

`REPORT_SCHEMA` (a JSON Schema, draft 2020-12) is the single source of truth. The agent builds
reports that satisfy it; the collector parses with `parse_report` (or `checked_report`, the same
checks without the objects), which checks a payload against that same schema and then checks
what JSON Schema cannot say: contiguity, ordering and plausible durations. The schema check is
a small built-in validator (the collector must parse thousands of reports a second; the
`jsonschema` package is ten times slower), in two forms from the same schema: `_generate` writes
a yes/no check out as one Python function (the fast path of every parse), and `validate` walks
the schema to name the first violation and its path when that check says no.
docs/report-schema.json is generated from it (`python -m agent.schema > docs/report-schema.json`)
and a test checks that it is current.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SCHEMA_ID = "energy-agent/1"
STATES = ("active", "idle", "suspended", "off", "unknown")
ON_STATES = ("active", "idle")
KINDS = ("desktop", "laptop", "thin_client", "workstation", "vm", "server")
ENERGY_SOURCES = ("rapl", "battery", "emi")  # emi: Windows Energy Meter Interface
# what `unreadable` may name
PROBES = ("sleep_blockers", "suspend_events", "shutdown_events", "input_idle")
# the off-hours sleep policy (agent/policy.py decides; these are what a report may say)
POLICY_MODES = ("off", "advise", "active")
POLICY_ACTIONS = ("sleep", "hibernate", "shutdown")
POLICY_EVENTS = (
    "warned",  # a warning was shown to the user
    "withdrawn",  # a warning was taken back: the user came back, a blocker appeared
    "postponed",  # the user asked for one more hour
    "declined",  # the user said "not tonight"
    "opted_out",  # an off-hours window skipped: ops granted this machine an opt-out
    "blocked",  # an off-hours window where a honoured sleep blocker held the action
    "acted",  # the machine was put to sleep / hibernated / shut down
    "advised",  # advise mode: the action the policy would have taken
    "failed",  # the operating system refused the action
    "wake_sent",  # magic packets sent as a wake proxy for the collector
)
# RFC 3339 in UTC with a literal Z, optional fraction: what the agent writes, nothing else.
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"
MAX_REPORT_BYTES = 256 * 1024
MAX_SEGMENTS = 2000
# Bounds no real machine reaches: they keep absurd values out of the model and every integer
# inside a signed 64-bit ledger column.
MAX_MEMORY_BYTES = 2**45  # 32 TiB
MAX_SEQ = 2**53
MAX_ENERGY_J = 1e12  # ~278 MWh in one segment; the mean-power limit is far tighter
# Control characters (C0, DEL, C1) and lone UTF-16 surrogates are refused in every string: they
# split line-protocol points, break log lines and cannot be stored as UTF-8.
_BAD_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

_TS = {"type": "string", "pattern": TIMESTAMP_PATTERN, "format": "date-time"}
_SHORT = {"type": "string", "maxLength": 128}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.invalid/energy-agent/1/report.json",
    "title": "Energy agent report, version 1",
    "type": "object",
    "required": ["schema", "agent_id", "seq", "sent_at", "host", "boot_time", "segments"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_ID, "description": "Schema name and version."},
        "agent_id": {
            "type": "string",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            "description": "Random UUID made once per installation, kept in the state directory.",
        },
        "seq": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_SEQ,
            "description": "Strictly increasing per agent; (agent_id, seq) identifies a report.",
        },
        "sent_at": {**_TS, "description": "When the report was built (UTC)."},
        "agent_version": {**_SHORT, "description": "Agent software version."},
        "incarnation": {
            "type": "string",
            "pattern": "^[0-9a-f]{8,32}$",
            "description": "Random hex made whenever the agent starts its sequence afresh (first "
            "start, lost or corrupt state): `seq` is unique within one incarnation.",
        },
        "spool_dropped": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_SEQ,
            "description": "Reports this agent dropped from its spool (bound hit) since install.",
        },
        "host": {
            "type": "object",
            "required": ["hostname", "kind"],
            "additionalProperties": False,
            "description": "Facts about the machine; no user data.",
            "properties": {
                "hostname": {"type": "string", "minLength": 1, "maxLength": 253},
                "kind": {"enum": list(KINDS)},
                "model": _SHORT,
                "os": _SHORT,
                "site": _SHORT,
                "department": _SHORT,
                "manufactured": {
                    "type": "string",
                    "pattern": "^[0-9]{4}(-[0-9]{2})?$",
                    "description": "Manufacture year or year-month (DMI BIOS date).",
                },
                "cpus": {"type": "integer", "minimum": 1, "maximum": 4096},
                "memory_bytes": {"type": "integer", "minimum": 0, "maximum": MAX_MEMORY_BYTES},
                "serial": {
                    **_SHORT,
                    "minLength": 1,
                    "description": "The machine's serial number (SMBIOS system serial), to "
                    "match it to the asset register.",
                },
                "smbios_uuid": {
                    "type": "string",
                    "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                    "description": "The SMBIOS system UUID (lower case), to match it to the "
                    "asset register.",
                },
                "macs": {
                    "type": "array",
                    "maxItems": 16,
                    "items": {"type": "string", "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"},
                    "description": "MAC addresses of the physical network interfaces, to "
                    "match it to the asset register.",
                },
                "tags": {
                    "type": "object",
                    "maxProperties": 32,
                    "propertyNames": {"type": "string", "minLength": 1, "maxLength": 64},
                    "additionalProperties": _SHORT,
                },
            },
        },
        "boot_time": {**_TS, "description": "When the machine last booted (UTC)."},
        "segments": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SEGMENTS,
            "description": "Contiguous, non-overlapping state segments since the previous report.",
            "items": {
                "type": "object",
                "required": ["start", "end", "state"],
                "additionalProperties": False,
                "properties": {
                    "start": _TS,
                    "end": _TS,
                    "state": {"enum": list(STATES)},
                    "clean": {
                        "type": "boolean",
                        "description": "On `off` segments: the shutdown before it was clean.",
                    },
                    "cpu_util": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "description": "Mean CPU utilisation (0..1) over an on-segment.",
                    },
                    "energy_j": {
                        "type": "object",
                        "required": ["value", "source"],
                        "additionalProperties": False,
                        "description": "Energy measured by the host itself over the segment.",
                        "properties": {
                            "value": {"type": "number", "minimum": 0, "maximum": MAX_ENERGY_J},
                            "source": {"enum": list(ENERGY_SOURCES)},
                        },
                    },
                },
            },
        },
        "unreadable": {
            "type": "array",
            "maxItems": 8,
            "uniqueItems": True,
            "description": "Probes the agent could not read for this report (their output was "
            "not understood, or the call failed): an empty `sleep_blockers` then means "
            "unknown, not none.",
            "items": {"enum": list(PROBES)},
        },
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "required": ["version"],
            "description": "The off-hours sleep policy the agent follows (docs/policy.md): "
            "the version it holds (the collector sends a newer one in its answer), and what "
            "it did since the previous report: counts per event, and each action's time "
            "and kind. Never who was at the machine.",
            "properties": {
                "version": {"type": "string", "maxLength": 64},
                "mode": {"enum": list(POLICY_MODES)},
                "events": {
                    "type": "object",
                    "propertyNames": {"enum": list(POLICY_EVENTS)},
                    "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100000},
                },
                "actions": {
                    "type": "array",
                    "maxItems": 32,
                    "items": {
                        "type": "object",
                        "required": ["at", "action", "mode"],
                        "additionalProperties": False,
                        "properties": {
                            "at": _TS,
                            "action": {"enum": list(POLICY_ACTIONS)},
                            "mode": {"enum": ["advise", "active"]},
                        },
                    },
                },
            },
        },
        "wake": {
            "type": "object",
            "additionalProperties": False,
            "description": "Whether the machine can be woken over the network, for wake "
            "proxies and for ops (docs/policy.md): LAN interfaces, Fast Startup, Modern "
            "Standby, S3 and hibernation support where the OS says. In the first report "
            "and then once an hour; the collector keeps the last.",
            "properties": {
                "interfaces": {
                    "type": "array",
                    "maxItems": 8,
                    "items": {
                        "type": "object",
                        "required": ["mac", "ipv4"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "maxLength": 64},
                            "mac": {
                                "type": "string",
                                "pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                            },
                            "ipv4": {
                                "type": "string",
                                "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
                            },
                            "wol": {"type": "string", "pattern": "^[a-zA-Z]{0,16}$"},
                            "wakeup": {"type": "string", "maxLength": 16},
                        },
                    },
                },
                "fast_startup": {"type": "boolean"},
                "modern_standby": {"type": "boolean"},
                "s3": {"type": "boolean"},
                "hibernate": {"type": "boolean"},
            },
        },
        "sleep_blockers": {
            "type": "array",
            "maxItems": 64,
            "description": "What currently keeps the machine from sleeping (application, reason).",
            "items": {
                "type": "object",
                "required": ["app", "what"],
                "additionalProperties": False,
                "properties": {
                    "app": _SHORT,
                    "what": _SHORT,
                    "reason": {"type": "string", "maxLength": 200},
                },
            },
        },
    },
}


class ReportError(ValueError):
    """A payload that is not a valid report. `reason` is a short label for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --- a validator for the subset of JSON Schema used above ------------------------------------

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
_SUSPECT_ESCAPE = re.compile(rb"\\(?:[bfnrt]|u00[0-1]|u007[fF]|u00[89]|u[dD][89a-fA-F])")


class _Invalid(Exception):
    """A violation found deep in the document; the path is built only on the way out."""

    def __init__(self, msg: str) -> None:
        self.msg = msg
        self.parts: list[str] = []


Check = Callable[[Any, bool], None]


def validate(value: Any, schema: dict[str, Any], path: str = "$", chars: bool = True) -> None:
    """Raise ReportError('schema', …) naming the JSON path of the first violation.
    `chars=False` skips the per-string control-character check (the caller showed that the
    JSON text has no escape that could produce one)."""
    check = _compiled.get(id(schema))
    if check is None:
        check = _compiled.setdefault(id(schema), _compile_schema(schema))
    try:
        check(value, chars)
    except _Invalid as exc:
        where = path + "".join(reversed(exc.parts))
        raise ReportError("schema", f"{where}: {exc.msg}") from None


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
    """Python source of a yes/no check for one schema: `_generate` writes it once."""

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


def _generate(schema: dict[str, Any]) -> Callable[[Any, bool], bool]:
    """A check of `schema` written out as one Python function (no call per value, no walk of
    the schema's dicts): True when the value is valid. False means "not shown valid": the
    reference check (`validate`) then says why, with the path, or lets it through."""
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


# --- typed view of a valid report -------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def parse_time(text: str) -> float:
    """RFC 3339 UTC timestamp ('…Z') to POSIX seconds. Cached: validation checks every
    timestamp is a real date, parsing reads it again, and segments share their boundaries."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def format_time(ts: float) -> str:
    """POSIX seconds to the report's timestamp form, millisecond precision, trailing zeros cut."""
    dt = datetime.fromtimestamp(round(ts, 3), tz=timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    ms = dt.microsecond // 1000
    return f"{text}.{ms:03d}Z" if ms else f"{text}Z"


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    state: str
    clean: bool | None = None
    cpu_util: float | None = None
    energy_j: float | None = None
    energy_source: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Host:
    hostname: str
    kind: str
    model: str | None = None
    os: str | None = None
    site: str | None = None
    department: str | None = None
    manufactured: str | None = None
    cpus: int | None = None
    memory_bytes: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    serial: str | None = None
    smbios_uuid: str | None = None
    macs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    agent_id: str
    seq: int
    sent_at: float
    host: Host
    boot_time: float
    segments: tuple[Segment, ...]
    sleep_blockers: tuple[dict[str, str], ...] = ()
    agent_version: str | None = None
    spool_dropped: int = 0
    incarnation: str | None = None
    unreadable: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None
    wake: dict[str, Any] | None = None


# the report's check written out once (see `_generate`); `validate` explains a refusal
_report_is_valid = _generate(REPORT_SCHEMA)


@dataclass(frozen=True, slots=True)
class Limits:
    """Plausibility limits the collector applies on top of the schema."""

    clock_skew_s: float = 300.0  # how far in the future `end`/`sent_at` may be
    max_span_s: float = 400 * 86400.0  # longest time one report may cover (a machine off a year)
    max_energy_w: float = 5000.0  # mean power (measured or modelled) absurd for one host
    min_time: float = 1577836800.0  # 2020-01-01T00:00:00Z: nothing earlier is a real report
    boot_tolerance_s: float = 120.0  # an on-segment may straddle boot_time by this much


def parse_report(
    payload: bytes | str | dict[str, Any], *, now: float | None = None, limits: Limits = Limits()
) -> Report:
    """Parse and check one report. Raises ReportError with a countable reason.

    Reasons: `oversized`, `json` (not JSON, or nested too deeply), `schema` (including real
    calendar dates, bounded numbers, no control characters or lone surrogates), `timeline`
    (overlap, gap, reversed, too long, an on-segment across boot_time), `future` (beyond clock
    skew), `past` (before `limits.min_time`), `value` (absurd measured energy).
    """
    doc, sent_at, boot_time, _ = checked_report(payload, now=now, limits=limits)
    h = doc["host"]
    host = Host(
        hostname=h["hostname"],
        kind=h["kind"],
        model=h.get("model"),
        os=h.get("os"),
        site=h.get("site"),
        department=h.get("department"),
        manufactured=h.get("manufactured"),
        cpus=h.get("cpus"),
        memory_bytes=h.get("memory_bytes"),
        tags=dict(h.get("tags", {})),
        serial=h.get("serial"),
        smbios_uuid=h.get("smbios_uuid"),
        macs=tuple(h.get("macs", ())),
    )
    return Report(
        agent_id=doc["agent_id"],
        seq=doc["seq"],
        sent_at=sent_at,
        host=host,
        boot_time=boot_time,
        segments=tuple(_segment(s) for s in doc["segments"]),
        sleep_blockers=tuple(doc.get("sleep_blockers", ())),
        agent_version=doc.get("agent_version"),
        spool_dropped=doc.get("spool_dropped", 0),
        incarnation=doc.get("incarnation"),
        unreadable=tuple(doc.get("unreadable", ())),
        policy=doc.get("policy"),
        wake=doc.get("wake"),
    )


def checked_report(
    payload: bytes | str | dict[str, Any], *, now: float | None = None, limits: Limits = Limits()
) -> tuple[dict[str, Any], float, float, list[tuple[float, float]]]:
    """Every check of `parse_report`, without building its objects: the document of a valid
    report, its `sent_at` and `boot_time`, and each segment's (start, end), in POSIX seconds.
    The collector builds its own records from these (collector/sources/agents/normalise.py).
    """
    if isinstance(payload, (bytes, str)):
        if len(payload) > MAX_REPORT_BYTES:
            raise ReportError("oversized", f"{len(payload)} bytes > {MAX_REPORT_BYTES}")
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReportError("json", str(exc)[:120]) from None
        except RecursionError:
            # the report's shape is four levels deep; the C parser stops at the interpreter's
            # recursion limit long before memory is at risk
            raise ReportError("json", "nested too deeply") from None
    else:
        doc = payload
    # bytes straight off the wire: a control character or surrogate needs an escape in the
    # JSON text; a str or a dict may hold them raw, so those get every string checked
    chars = not isinstance(payload, bytes) or _SUSPECT_ESCAPE.search(payload) is not None
    if not _report_is_valid(doc, chars):
        validate(doc, REPORT_SCHEMA, chars=chars)  # names the violation (raises)
    segments = doc["segments"]
    times = [(parse_time(s["start"]), parse_time(s["end"])) for s in segments]
    sent_at = parse_time(doc["sent_at"])
    boot_time = parse_time(doc["boot_time"])
    first = min(times[0][0], boot_time, sent_at)
    if first < limits.min_time:
        raise ReportError("past", f"{format_time(first)} is before {format_time(limits.min_time)}")
    prev_end: float | None = None
    for i, (start, end) in enumerate(times):
        if end < start:
            raise ReportError("timeline", f"$.segments[{i}]: ends before it starts")
        if prev_end is not None and abs(start - prev_end) > 0.0015:
            kind = "overlaps" if start < prev_end else "leaves a gap after"
            raise ReportError("timeline", f"$.segments[{i}]: {kind} the previous segment")
        seg = segments[i]
        energy = seg.get("energy_j")
        if energy is not None:
            energy_j = float(energy["value"])
            duration = end - start
            mean_w = energy_j / duration if energy_j and duration > 0 else 0.0
            if mean_w > limits.max_energy_w:
                raise ReportError("value", f"$.segments[{i}].energy_j: mean power absurd")
        state = seg["state"]
        if (
            state in ("active", "idle", "suspended")
            and start < boot_time - limits.boot_tolerance_s
            and end > boot_time + limits.boot_tolerance_s
        ):
            # a machine that was on (or asleep) cannot have booted in the middle of it
            raise ReportError("timeline", f"$.segments[{i}]: {state} across boot_time")
        prev_end = end
    span = times[-1][1] - times[0][0]
    if span > limits.max_span_s:
        raise ReportError("timeline", f"report spans {span:.0f} s > {limits.max_span_s:.0f} s")
    if boot_time > sent_at + limits.boot_tolerance_s:
        raise ReportError("timeline", "boot_time is after sent_at")
    if now is not None:
        latest = max(sent_at, times[-1][1])
        if latest > now + limits.clock_skew_s:
            raise ReportError("future", f"{latest - now:.0f} s ahead of the collector's clock")
    return doc, sent_at, boot_time, times


def _segment(s: dict[str, Any]) -> Segment:
    energy = s.get("energy_j")
    return Segment(
        start=parse_time(s["start"]),
        end=parse_time(s["end"]),
        state=s["state"],
        clean=s.get("clean"),
        cpu_util=s.get("cpu_util"),
        energy_j=None if energy is None else float(energy["value"]),
        energy_source=None if energy is None else energy["source"],
    )


def segment_to_json(seg: Segment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "start": format_time(seg.start),
        "end": format_time(seg.end),
        "state": seg.state,
    }
    if seg.clean is not None:
        out["clean"] = seg.clean
    if seg.cpu_util is not None:
        out["cpu_util"] = round(min(max(seg.cpu_util, 0.0), 1.0), 4)
    if seg.energy_j is not None and seg.energy_source is not None:
        out["energy_j"] = {"value": round(seg.energy_j, 1), "source": seg.energy_source}
    return out


def report_to_json(report: Report) -> dict[str, Any]:
    h = report.host
    host: dict[str, Any] = {"hostname": h.hostname, "kind": h.kind}
    for key in (
        "model",
        "os",
        "site",
        "department",
        "manufactured",
        "cpus",
        "memory_bytes",
        "serial",
        "smbios_uuid",
    ):
        value = getattr(h, key)
        if value is not None:
            host[key] = value
    if h.tags:
        host["tags"] = dict(h.tags)
    if h.macs:
        host["macs"] = list(h.macs)
    out: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "agent_id": report.agent_id,
        "seq": report.seq,
        "sent_at": format_time(report.sent_at),
        "host": host,
        "boot_time": format_time(report.boot_time),
        "segments": [segment_to_json(s) for s in report.segments],
    }
    if report.agent_version:
        out["agent_version"] = report.agent_version
    if report.incarnation:
        out["incarnation"] = report.incarnation
    if report.spool_dropped:
        out["spool_dropped"] = report.spool_dropped
    if report.sleep_blockers:
        out["sleep_blockers"] = [dict(b) for b in report.sleep_blockers]
    if report.unreadable:
        out["unreadable"] = list(report.unreadable)
    if report.policy:
        out["policy"] = report.policy
    if report.wake:
        out["wake"] = report.wake
    return out


def encode_report(report: Report) -> bytes:
    return json.dumps(report_to_json(report), separators=(",", ":")).encode()


if __name__ == "__main__":
    print(json.dumps(REPORT_SCHEMA, indent=2))
