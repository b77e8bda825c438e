"""The datacenters' live figures from the latest polls (power by role, rack and IT category,
the instantaneous power ratio) and today's PUE and coverage from the ledger, on /metrics."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from collector.datacenter.facility import pue
from collector.ledger import Ledger
from collector.sources.snmp.metrics import SnmpMetrics
from collector.sources.snmp.polls import Poll, outlet_role
from collector.sources.snmp.settings import SnmpDeviceConfig


def live_power(metrics: SnmpMetrics, polls: list[Poll]) -> None:
    by: dict[tuple[str, str], float] = {}
    it_by_cat: dict[tuple[str, int], float] = {}
    racks: dict[tuple[str, str, str], float] = {}
    for poll in polls:
        d = poll.device
        if not d.datacenter:
            continue
        total = sum(r.power_w or 0.0 for r in poll.rows if r.account and not r.breakdown)
        for r in poll.rows:  # outlets feeding something else: out of the device's role
            own = outlet_role(d, r) if r.account else None
            if own and r.power_w is not None:
                total -= r.power_w
                by[(d.datacenter, own)] = by.get((d.datacenter, own), 0.0) + r.power_w
        if d.role == "it":  # one measurement point for IT: UPS output and PDUs overlap
            key_c = (d.datacenter, d.category)
            it_by_cat[key_c] = it_by_cat.get(key_c, 0.0) + total
        else:
            by[(d.datacenter, d.role)] = by.get((d.datacenter, d.role), 0.0) + total
        if d.rack and d.role == "it":
            key = (d.datacenter, d.room or "", d.rack)
            racks[key] = racks.get(key, 0.0) + total
    for (dc, cat), w in it_by_cat.items():
        metrics.it_power.labels(dc, str(cat)).set(w)
    for dc in {dc for dc, _ in it_by_cat}:
        lowest = min(c for d_, c in it_by_cat if d_ == dc)
        by[(dc, "it")] = it_by_cat[(dc, lowest)]
        for d_, c in it_by_cat:
            if d_ == dc:
                metrics.pue_category.labels(dc, str(c)).set(1 if c == lowest else 0)
    for (dc, room, rack), w in racks.items():
        metrics.rack_power.labels(dc, room, rack).set(w)
    for (dc, role), w in by.items():
        metrics.dc_power.labels(dc, role).set(w)
    for dc in {dc for dc, _ in by}:
        it, fac = by.get((dc, "it"), 0.0), by.get((dc, "facility"), 0.0)
        if it > 0 and fac > 0:
            metrics.dc_ratio.labels(dc).set(fac / it)


def day_indicators(
    metrics: SnmpMetrics,
    ledger: Ledger,
    devices: list[SnmpDeviceConfig],
    tz: ZoneInfo,
    coverage_min: float,
) -> None:
    """Today's PUE and coverage per datacenter, from the ledger (exact, not live power), by
    the rule of every surface (collector/datacenter/facility.py): none, and the series
    removed, when a side covers less than `coverage_min` of the day so far."""
    now = time.time()
    day = datetime.fromtimestamp(now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    start = day.timestamp()
    for dc in sorted({d.datacenter for d in devices if d.datacenter}):
        p = pue(ledger, dc, start, now, coverage_min=coverage_min)
        for role, energy in (("facility", p.facility), ("it", p.it)):
            if energy.meters:
                metrics.coverage.labels(dc, role).set(energy.coverage)
        cat = str(p.category) if p.category is not None else "unknown"
        for other in ("1", "2", "3", "unknown"):  # one series a datacenter, or none
            if other != cat or p.value is None:
                with contextlib.suppress(KeyError):  # never set
                    metrics.pue_today.remove(dc, other)
        if p.value is not None:
            metrics.pue_today.labels(dc, cat).set(p.value)
