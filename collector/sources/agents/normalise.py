"""An agent report becomes a RecordBatch: the only place that knows the report format.

Built straight from the checked JSON document (`checked_report` runs every check of
`parse_report`), without the agent-side `Report` objects in between: the collector makes one
of these per report, thousands a second.
"""

from __future__ import annotations

from typing import Any

from collector.records import Entity, Interval, RecordBatch
from energy_common.schema import Limits, checked_report


def parse_batch(
    payload: bytes | str | dict[str, Any], now: float | None, limits: Limits
) -> RecordBatch:
    """Parse and check one report (ReportError with a countable reason, as `parse_report`)."""
    doc, sent_at, _, times = checked_report(payload, now=now, limits=limits)
    h = doc["host"]
    get = h.get
    entity = Entity(
        doc["agent_id"],
        h["hostname"],
        h["kind"],
        get("model"),
        get("os"),
        get("site"),
        get("department"),
        get("manufactured"),
        get("cpus"),
        get("memory_bytes"),
        dict(get("tags", {})),
    )
    intervals = []
    for seg, (start, end) in zip(doc["segments"], times, strict=True):
        if end > start:
            energy = seg.get("energy_j")
            intervals.append(
                Interval(
                    start,
                    end,
                    seg["state"],
                    seg.get("cpu_util"),
                    None if energy is None else float(energy["value"]),
                    None if energy is None else energy["source"],
                    seg.get("clean"),
                )
            )
    serial, uuid, macs = get("serial"), get("smbios_uuid"), get("macs")
    hardware: dict[str, Any] = {}
    if serial:
        hardware["serial"] = serial
    if uuid:
        hardware["uuid"] = uuid
    if macs:
        hardware["macs"] = list(macs)
    return RecordBatch(
        "agent",
        doc["seq"],
        entity,
        tuple(intervals),
        sent_at,
        tuple(doc.get("sleep_blockers", ())),
        doc.get("incarnation") or "",
        doc.get("spool_dropped", 0),
        tuple(doc.get("unreadable", ())),
        doc.get("policy"),
        doc.get("wake"),
        hardware or None,
    )
