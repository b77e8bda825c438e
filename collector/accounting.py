"""From a normalised RecordBatch to ledger rows and figures: energy, CO2e, local days.

Pure but for one narrow interface (`HostPowerSource`: the measured power of VM hosts, read
from the ledger). The ingest pipeline calls `Accountant.account` for every batch; the ledger,
the time-series sink and /metrics consume what it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Protocol
from zoneinfo import ZoneInfo

from collector.compliance.periods import BlockerRow, Compliance, PeriodRow
from collector.ledger import Accounted, DayRow, HostRow
from collector.model.carbon import CarbonModel
from collector.model.energy import Energy, Hypervisor, interval_energy
from collector.model.profiles import ProfileBook
from collector.policy.events import rows as policy_rows
from collector.quickinit import quick_init
from collector.records import Interval, RecordBatch


class HostPowerSource(Protocol):
    def vm_watts(
        self, vm: str, vm_cpus: int, server: str, host_cpus: int, start: float, end: float
    ) -> float | None: ...


@quick_init
@dataclass(frozen=True, slots=True)
class Figure:
    """One interval's result, for the time-series sink and /metrics."""

    interval: Interval
    energy: Energy
    kgco2e: float
    carbon_basis: str

    @property
    def provenance(self) -> str:
        e = self.energy
        if e.wh_attributed:
            return "attributed"
        return "measured" if e.wh_measured else "modelled"


class LocalDays:
    """Splits [start, end) at local midnights of one time zone (DST-safe, via zoneinfo)."""

    def __init__(self, tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self._bounds: dict[date, tuple[float, float]] = {}
        # hour (POSIX // 3600) -> (date, start, end) of the local day holding it, for days of
        # exactly 86,400 s that begin and end on their own date (no clock change): an interval
        # inside one of them is that day's alone, as the general split below would find
        self._plain: dict[int, tuple[str, float, float]] = {}

    def bounds(self, d: date) -> tuple[float, float]:
        b = self._bounds.get(d)
        if b is None:
            a = datetime.combine(d, dtime(0), self.tz).timestamp()
            z = datetime.combine(d + timedelta(days=1), dtime(0), self.tz).timestamp()
            b = self._bounds[d] = (a, z)
        return b

    def split(self, start: float, end: float) -> list[tuple[str, float, float]]:
        plain = self._plain.get(int(start // 3600))
        if plain is not None and plain[1] <= start < end <= plain[2]:
            return [(plain[0], start, end)]
        out = []
        d = datetime.fromtimestamp(start, self.tz).date()
        self._remember(d)
        t = start
        while t < end:
            _, day_end = self.bounds(d)
            b = min(end, day_end)
            if b > t:
                out.append((d.isoformat(), t, b))
            t = b
            d = d + timedelta(days=1)
        return out

    def _remember(self, d: date) -> None:
        a, z = self.bounds(d)
        if (
            z - a != 86400.0
            or datetime.fromtimestamp(a, self.tz).date() != d
            or datetime.fromtimestamp(z - 1.0, self.tz).date() != d
            or int(a // 3600) in self._plain
        ):
            return
        if len(self._plain) > 100_000:
            self._plain.clear()
        entry = (d.isoformat(), a, z)
        for hour in range(int(a // 3600), int((z - 1.0) // 3600) + 1):
            self._plain[hour] = entry


class Accountant:
    def __init__(
        self,
        book: ProfileBook,
        carbon: CarbonModel,
        tz: str = "Europe/Paris",
        hypervisors: dict[str, Hypervisor] | None = None,
        vm_hosts: dict[str, str] | None = None,
        compliance: Compliance | None = None,
        host_power: HostPowerSource | None = None,
    ) -> None:
        self.book = book
        # measured host power for VM attribution (I/O behind a narrow interface; None: model)
        self.host_power = host_power
        self.attribution = {"measured": 0, "modelled": 0}
        self.carbon = carbon
        self.days = LocalDays(tz)
        self.hypervisors = hypervisors or {}
        self.vm_hosts = vm_hosts or {}
        self.compliance = compliance

    def account(
        self,
        batch: RecordBatch,
        received_at: float,
        covered: tuple[str, float, float] | None = None,
        overlap_s: float = 0.0,
    ) -> tuple[Accounted, list[Figure]]:
        """`covered` (stream, start, end) the report covered before any cut, and `overlap_s` the
        seconds cut from it (collector/identity.py), are kept with it in the ledger."""
        e = batch.entity
        profile = self.book.profile_for(e.kind, e.model, e.tags)
        hv = self.hypervisors.get(self.vm_hosts.get(e.name, "")) if e.kind == "vm" else None
        figures: list[Figure] = []
        days: list[DayRow] = []
        watts: list[float] = []  # each interval's mean power, for the compliance rows
        split = self.days.split
        carbon_kg = self.carbon.kg
        for iv in batch.intervals:
            share_w = None
            if (
                hv is not None
                and self.host_power is not None
                and iv.state not in ("off", "suspended")
            ):
                share_w = self.host_power.vm_watts(
                    e.name, e.cpus or 1, hv.name, hv.cpus, iv.start, iv.end
                )
                self.attribution["modelled" if share_w is None else "measured"] += 1
            energy = interval_energy(iv, e, profile, hv, share_w)
            wh = energy.wh
            kg, basis = carbon_kg(wh / 1000.0, iv.start, iv.end)
            figures.append(Figure(iv, energy, kg, basis))
            span = iv.end - iv.start
            watts.append(wh * 3600.0 / span if span > 0 else 0.0)
            for day, a, b in split(iv.start, iv.end):
                f = (b - a) / span
                part = energy if f == 1.0 else energy.scaled(f)  # the whole interval: as is
                days.append(
                    DayRow(
                        e.id,
                        day,
                        iv.state,
                        b - a,
                        part.wh_measured,
                        part.wh_modelled,
                        part.wh_attributed,
                        kg * f,
                        basis,
                    )
                )
        intervals = batch.intervals
        last = intervals[-1] if intervals else None
        host = HostRow(
            e.id,
            batch.source,
            e.name,
            e.kind,
            e.model,
            e.os,
            e.site,
            e.department,
            e.manufactured,
            e.cpus,
            e.memory_bytes,
            dict(e.tags),
            intervals[0].start if intervals else batch.sent_at,
            last.end if last else batch.sent_at,
            last.state if last else "unknown",
            received_at,
            batch.spool_dropped,
            json.dumps(batch.wake, sort_keys=True, separators=(",", ":")) if batch.wake else None,
            json.dumps(batch.hardware, sort_keys=True, separators=(",", ":"))
            if batch.hardware
            else None,
        )
        periods: tuple[PeriodRow, ...] = ()
        blockers: tuple[BlockerRow, ...] = ()
        if self.compliance is not None:
            period_rows, blocker_rows = self.compliance.rows(batch, profile, watts)
            periods, blockers = tuple(period_rows), tuple(blocker_rows)
        return Accounted(
            batch.source,
            batch.dedup_entity,
            batch.key,
            host,
            tuple(days),
            periods,
            blockers,
            covered,
            overlap_s,
            *policy_rows(batch, self.compliance),
        ), figures
