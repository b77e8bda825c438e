"""A parsed agent report becomes a RecordBatch: the only place that knows the report format."""

from __future__ import annotations

from collector.records import Entity, Interval, RecordBatch
from energy_common.schema import Report


def to_batch(report: Report) -> RecordBatch:
    h = report.host
    entity = Entity(
        id=report.agent_id,
        name=h.hostname,
        kind=h.kind,
        model=h.model,
        os=h.os,
        site=h.site,
        department=h.department,
        manufactured=h.manufactured,
        cpus=h.cpus,
        memory_bytes=h.memory_bytes,
        tags=h.tags,
    )
    intervals = tuple(
        Interval(
            start=s.start,
            end=s.end,
            state=s.state,
            cpu_util=s.cpu_util,
            measured_j=s.energy_j,
            measured_source=s.energy_source,
            clean=s.clean,
        )
        for s in report.segments
        if s.end > s.start
    )
    return RecordBatch(
        source="agent",
        key=report.seq,
        entity=entity,
        intervals=intervals,
        sent_at=report.sent_at,
        sleep_blockers=report.sleep_blockers,
        stream=report.incarnation or "",
        spool_dropped=report.spool_dropped,
        unreadable=report.unreadable,
        policy=report.policy,
        wake=report.wake,
        hardware={
            k: v
            for k, v in (("serial", h.serial), ("uuid", h.smbios_uuid), ("macs", list(h.macs)))
            if v
        }
        or None,
    )
