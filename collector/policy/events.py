"""What a report's `policy` field adds to the ledger: counts per event, and each action.

Counts are kept per host, local day of the off-hours period they fell in (the night of the
morning report) and mode; each action keeps its time and the period it fell in, which the
savings use. Written in the report's own ledger transaction, so a resent report adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from energy_common.schema import parse_time

if TYPE_CHECKING:
    from collector.compliance.calendar import Calendar
    from collector.compliance.periods import Compliance
    from collector.records import RecordBatch


@dataclass(frozen=True, slots=True)
class EventRow:
    host_id: str
    day: str
    mode: str
    event: str
    site: str
    department: str
    n: int


@dataclass(frozen=True, slots=True)
class ActionRow:
    host_id: str
    at: float
    mode: str
    action: str
    period_start: float | None
    day: str
    site: str
    department: str


def _day(cal: Calendar, t: float) -> tuple[str, float | None]:
    p = cal.period_at(t)
    if p is not None:
        return p.day, p.start
    return datetime.fromtimestamp(t, cal.tz).date().isoformat(), None


def rows(
    batch: RecordBatch, compliance: Compliance | None
) -> tuple[tuple[EventRow, ...], tuple[ActionRow, ...]]:
    doc = batch.policy
    if not doc or compliance is None:
        return (), ()
    e = batch.entity
    cal = compliance.calendar_for(e.site, e.department)
    site, dept = e.site or "", e.department or ""
    mode = str(doc.get("mode") or "off")
    day, _ = _day(cal, batch.sent_at)
    events = tuple(
        EventRow(e.id, day, mode, str(k), site, dept, int(v))
        for k, v in sorted((doc.get("events") or {}).items())
        if int(v) > 0
    )
    actions = []
    for a in doc.get("actions") or ():
        at = parse_time(a["at"])
        aday, start = _day(cal, at)
        actions.append(ActionRow(e.id, at, a["mode"], a["action"], start, aday, site, dept))
    return events, tuple(actions)
