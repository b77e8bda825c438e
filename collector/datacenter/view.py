"""One datacenter view for every surface: the /datacenters page, /api/v1/status and
`energy-collector status`, and /metrics (`energy_dc_energy_today_kwh`, `energy_dc_pue`).

Per datacenter, from the ledger at a given time: today's and this month's IT and site energy
and PUE (ISO/IEC 30134-2, collector/datacenter/facility.py: none where a side covers less
than `coverage_min` of the period, `pue_*_missing` saying why, with each side's coverage;
`it_fallback_*` when the IT side is readings without a category), and the *basis* of each side:
`metered` (SNMP or LoRaWAN meters, read as it happens), `billed` (readings imported from bills:
a month's energy spread evenly over its hours, so a day's PUE from them is an allocation, not
a measurement), `metered+billed` (both over the period), or null (nothing yet). A datacenter
known from bills only is in the view like any other: the basis says how it is known. Live
power (W) comes from the SNMP poller where devices are polled, else it is null.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.datacenter.facility import Pue, pue
from collector.ledger import Ledger


def names(ledger: Ledger, live: dict[str, Any]) -> list[str]:
    found = {
        n
        for (n,) in ledger.execute(
            "SELECT DISTINCT datacenter FROM meters WHERE datacenter IS NOT NULL "
            "AND datacenter <> ''"
        )
    }
    return sorted(found | set(live))


def basis(ledger: Ledger, dc: str, role: str, start: float, end: float) -> str | None:
    """How the meters of `role` know the period: metered, billed, metered+billed or None."""
    kinds = {
        bool(billed)
        for (billed,) in ledger.execute(
            "SELECT DISTINCT CASE WHEN m.profile = 'csv' THEN 1 ELSE 0 END FROM meter_hours h "
            "JOIN meters m ON m.meter = h.meter WHERE m.datacenter = ? AND m.role = ? "
            "AND h.hour_start >= ? AND h.hour_start < ?",
            (dc, role, start, end),
        )
    }
    if not kinds:
        return None
    return "+".join(b for b, on in (("metered", False in kinds), ("billed", True in kinds)) if on)


def _side(p: Pue, which: str) -> float | None:
    e = p.facility if which == "facility" else p.it
    return round(e.wh / 1000.0, 3) if e.meters else None


def datacenter_view(
    ledger: Ledger,
    tz: str,
    now: float,
    live: dict[str, Any] | None = None,
    *,
    coverage_min: float,
) -> dict[str, dict[str, Any]]:
    """{datacenter: figures}, today and this month up to `now` (local days of `tz`)."""
    live = live or {}
    z = ZoneInfo(tz)
    day0 = datetime.fromtimestamp(now, z).replace(hour=0, minute=0, second=0, microsecond=0)
    month0 = day0.replace(day=1).timestamp()
    d0 = day0.timestamp()
    out: dict[str, dict[str, Any]] = {}
    for dc in names(ledger, live):
        today = pue(ledger, dc, d0, now, coverage_min=coverage_min)
        month = pue(ledger, dc, month0, now, coverage_min=coverage_min)
        lv = live.get(dc, {})
        out[dc] = {
            "it_kwh_today": _side(today, "it"),
            "facility_kwh_today": _side(today, "facility"),
            "pue_today": None if today.value is None else round(today.value, 3),
            "pue_month": None if month.value is None else round(month.value, 3),
            "pue_today_missing": today.missing,
            "pue_month_missing": month.missing,
            "it_fallback_today": today.fallback,
            "it_fallback_month": month.fallback,
            "it_basis_today": basis(ledger, dc, "it", d0, now),
            "facility_basis_today": basis(ledger, dc, "facility", d0, now),
            "it_basis_month": basis(ledger, dc, "it", month0, now),
            "facility_basis_month": basis(ledger, dc, "facility", month0, now),
            "it_coverage_today": round(today.it.coverage, 4) if today.it.meters else None,
            "facility_coverage_today": (
                round(today.facility.coverage, 4) if today.facility.meters else None
            ),
            "it_coverage_month": round(month.it.coverage, 4) if month.it.meters else None,
            "facility_coverage_month": (
                round(month.facility.coverage, 4) if month.facility.meters else None
            ),
            "coverage_min": coverage_min,
            "it_category": month.category,
            "it_w": lv.get("it_w"),
            "facility_w": lv.get("facility_w"),
            "devices": lv.get("devices", 0),
            "up": lv.get("up", 0),
        }
        for k, v in lv.items():  # what else the poller says of its devices (no_sysuptime…)
            out[dc].setdefault(k, v)
    return out


def energy_today_kwh(view: dict[str, dict[str, Any]]) -> float:
    """The datacenters' energy today as the yearly total counts it: each one's site energy,
    else its IT energy."""
    total = 0.0
    for dc in view.values():
        side = dc["facility_kwh_today"]
        total += side if side is not None else dc["it_kwh_today"] or 0.0
    return round(total, 3)


class DatacenterGauges(Collector):
    """/metrics from the same view, so a datacenter known from bills only has series too."""

    def __init__(self, view: Any) -> None:
        self.view = view  # () -> datacenter_view(...)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        energy = GaugeMetricFamily(
            "energy_dc_energy_today_kwh",
            "Datacenter energy today (local day) by role (it, facility) and basis (metered: "
            "meters read live; billed: a bill's energy spread evenly over its hours).",
            labels=["datacenter", "role", "basis"],
        )
        ratio = GaugeMetricFamily(
            "energy_dc_pue",
            "Datacenter PUE (site over IT energy) today and this month, with the basis of its "
            "site side; absent when a side covers less than compliance.coverage_min of the "
            "period (the status API's pue_*_missing says why).",
            labels=["datacenter", "period", "basis"],
        )
        for dc, v in self.view().items():
            for role in ("it", "facility"):
                kwh = v[f"{role}_kwh_today"]
                if kwh is not None:
                    energy.add_metric([dc, role, v[f"{role}_basis_today"] or "none"], kwh)
            for period in ("today", "month"):
                if v[f"pue_{period}"] is not None:
                    b = v[f"facility_basis_{period}"] or "none"
                    ratio.add_metric([dc, period, b], v[f"pue_{period}"])
        yield energy
        yield ratio
