"""The agent report, version 1: the one contract between agent and collector.

`REPORT_SCHEMA` (a JSON Schema, draft 2020-12) is the single source of truth. The agent builds
reports that satisfy it; the collector parses with `parse_report` (or `checked_report`, the same
checks without the objects), which checks a payload against that same schema and then checks
what JSON Schema cannot say: contiguity, ordering and plausible durations. The schema check is
a small built-in validator (the collector must parse thousands of reports a second; the
`jsonschema` package is ten times slower; energy_common/jsonsubset.py), in two forms from the
same schema: one written out as a Python function says yes or no (the fast path of every
parse), and `validate` walks the schema to name the first violation and its path when that
check says no.
docs/report-schema.json is generated from it (`python -m agent.schema > docs/report-schema.json`)
and a test checks that it is current.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from energy_common.jsonsubset import SUSPECT_ESCAPE, Violation, check, generate, parse_time

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


def validate(value: Any, schema: dict[str, Any], path: str = "$", chars: bool = True) -> None:
    """Raise ReportError('schema', …) naming the JSON path of the first violation.
    `chars=False` skips the per-string control-character check (the caller showed that the
    JSON text has no escape that could produce one)."""
    try:
        check(value, schema, path, chars)
    except Violation as exc:
        raise ReportError("schema", str(exc)) from None


# --- typed view of a valid report -------------------------------------------------------------


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


# the report's check written out once (energy_common/jsonsubset.py); `validate` explains a
# refusal
_report_is_valid = generate(REPORT_SCHEMA)


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
    chars = not isinstance(payload, bytes) or SUSPECT_ESCAPE.search(payload) is not None
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
