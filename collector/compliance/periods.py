"""Per host, per off-hours period: on-time, excused time, coverage, wasted energy.

Called for every accepted batch (in the same ledger transaction as its energy), so the
compliance figures are exactly as idempotent as the rest of the ledger. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.compliance.calendar import Calendar
from collector.model.carbon import CarbonModel
from collector.model.profiles import Profile
from collector.quickinit import quick_init
from collector.records import Entity, RecordBatch

ON_STATES = ("active", "idle", "unknown")


@quick_init
@dataclass(frozen=True, slots=True)
class PeriodRow:
    host_id: str
    period_start: float
    period_end: float
    day: str
    period_kind: str
    calendar: str
    site: str
    department: str
    kind: str
    on_s: float  # on outside grace and maintenance: what the verdict counts
    excused_s: float  # on during grace or maintenance
    covered_s: float  # any state reported
    wasted_wh: float
    eur: float
    kgco2e: float


@dataclass(frozen=True, slots=True)
class BlockerRow:
    host_id: str
    period_start: float
    app: str
    what: str


class Compliance:
    def __init__(
        self,
        calendars: dict[str, Calendar],
        default: str,
        sites: dict[str, str],
        departments: dict[str, str],
        exempt_kinds: list[str],
        exempt_tags: list[str],
        tariff_eur_per_kwh: float,
        carbon: CarbonModel,
    ) -> None:
        self.calendars = calendars
        self.default = default
        self.sites = sites
        self.departments = departments
        self.exempt_kinds = set(exempt_kinds)
        self.exempt_tags = [tuple(t.split("=", 1)) for t in exempt_tags]
        self.tariff = tariff_eur_per_kwh
        self.carbon = carbon

    def calendar_for(self, site: str | None, department: str | None) -> Calendar:
        name = self.departments.get(department or "") or self.sites.get(site or "") or self.default
        return self.calendars[name]

    def exempt(self, e: Entity) -> bool:
        if e.kind in self.exempt_kinds:
            return True
        tags = e.tags
        for k, v in self.exempt_tags:  # noqa: SIM110 (a loop, not any(): asked for every report)
            if tags.get(k) == v:
                return True
        return False

    def rows(
        self, batch: RecordBatch, profile: Profile, watts: list[float]
    ) -> tuple[list[PeriodRow], list[BlockerRow]]:
        """`watts`: the mean power the energy model gave each interval (same order)."""
        e = batch.entity
        if self.exempt(e):
            return [], []
        cal = self.calendar_for(e.site, e.department)
        sleep_w = profile.power_w("suspended", None)
        acc: dict[float, list[float]] = {}
        periods = {}
        for iv, w in zip(batch.intervals, watts, strict=True):
            on = iv.state in ON_STATES
            for part in cal.parts(iv.start, iv.end):
                p = part.period
                periods[p.start] = p
                a = acc.setdefault(p.start, [0.0, 0.0, 0.0, 0.0])
                secs = part.end - part.start
                a[2] += secs
                if on:
                    counted = secs - part.excused
                    a[0] += counted
                    a[1] += part.excused
                    a[3] += max(w - sleep_w, 0.0) * counted / 3600.0
        out = []
        for start, (on_s, excused_s, covered_s, wasted_wh) in acc.items():
            p = periods[start]
            kg, _ = self.carbon.kg(wasted_wh / 1000.0, p.start, p.end)
            out.append(
                PeriodRow(
                    e.id,
                    p.start,
                    p.end,
                    p.day,
                    p.kind,
                    cal.name,
                    e.site or "",
                    e.department or "",
                    e.kind,
                    on_s,
                    excused_s,
                    covered_s,
                    wasted_wh,
                    wasted_wh / 1000.0 * self.tariff,
                    kg,
                )
            )
        blockers = []
        if batch.sleep_blockers:
            night = cal.period_at(batch.sent_at)
            if night is not None:
                blockers = [
                    BlockerRow(e.id, night.start, b.get("app", "?"), b.get("what", ""))
                    for b in batch.sleep_blockers
                ]
        return out, blockers
