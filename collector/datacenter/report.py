"""PUE per datacenter over an hour, a day, a month or a year (local time), and the yearly
export of the EU reporting indicators (Delegated Regulation (EU) 2024/1364): PUE always, and
WUE, ERF and REF where water, reused and renewable energy are configured for that year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from collector.datacenter.facility import Pue, partial_pue, pue
from collector.ledger import Ledger


def period_bounds(kind: str, start: str, tz: str) -> tuple[float, float]:
    z = ZoneInfo(tz)
    if kind == "hour":
        t = datetime.fromisoformat(start).replace(minute=0, second=0, microsecond=0, tzinfo=z)
        return t.timestamp(), (t + timedelta(hours=1)).timestamp()
    if kind == "year":
        d = date(int(start[:4]), 1, 1)
    elif kind == "month":
        d = date(int(start[:4]), int(start[5:7]), 1)  # YYYY-MM or a day of it
    else:
        d = date.fromisoformat(start[:10])
    if kind == "day":
        end = d + timedelta(days=1)
    elif kind == "month":
        d = d.replace(day=1)
        end = (d + timedelta(days=32)).replace(day=1)
    elif kind == "year":
        end = d.replace(year=d.year + 1)
    else:
        raise ValueError("period: hour, day, month or year")
    return (
        datetime.combine(d, dtime(0), z).timestamp(),
        datetime.combine(end, dtime(0), z).timestamp(),
    )


def _doc(p: Pue) -> dict[str, Any]:
    return {
        "pue": None if p.value is None else round(p.value, 4),
        "pue_missing": p.missing,
        "it_fallback": p.fallback,
        "facility_kwh": round(p.facility.wh / 1000, 3),
        "it_kwh": round(p.it.wh / 1000, 3),
        "facility_coverage": round(p.facility.coverage, 4),
        "it_coverage": round(p.it.coverage, 4),
        "it_category": p.category,
        "it_categories_available": list(p.categories),
        "coverage_min": p.coverage_min,
    }


def pue_report(
    ledger: Ledger,
    datacenter: str,
    kind: str,
    start: str,
    tz: str = "Europe/Paris",
    room: str | None = None,
    category: int | None = None,
    *,
    coverage_min: float,
    now: float | None = None,
) -> dict[str, Any]:
    """The datacenter's PUE over the period (a period in progress: up to `now`, as the
    yearly report counts it); with `room`, that zone's partial PUE (its `facility_kwh` is
    then the zone's total energy). IT energy of one ISO/IEC 30134-2 category: `category`,
    else the lowest the datacenter has (facility.py: the rule, and when there is none)."""
    a, b = period_bounds(kind, start, tz)
    if now is not None:
        b = min(b, max(a, now))
    doc: dict[str, Any] = {"datacenter": datacenter, "period": kind, "start": start}
    if room is None:
        return {**doc, **_doc(pue(ledger, datacenter, a, b, category, coverage_min=coverage_min))}
    part = _doc(partial_pue(ledger, datacenter, room, a, b, category, coverage_min=coverage_min))
    return {**doc, "room": room, "partial": True, **part}


def eu_report(
    ledger: Ledger,
    year: int,
    inputs: list[Any],
    tz: str = "Europe/Paris",
    *,
    coverage_min: float,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """One row per datacenter with meters: PUE from the year's energies (a year in progress:
    up to `now`); WUE (L/kWh of IT energy), ERF and REF (shares of the total energy) when the
    year's inputs are given and the side they divide by covers the year as the PUE's must
    (a year's water over a few hours of IT energy is no WUE)."""
    a, b = period_bounds("year", str(year), tz)
    if now is not None:
        b = min(b, max(a, now))
    out = []
    for (dc,) in ledger.execute(
        "SELECT DISTINCT datacenter FROM meters WHERE datacenter IS NOT NULL "
        "AND datacenter <> '' ORDER BY datacenter"
    ):
        p = pue(ledger, dc, a, b, coverage_min=coverage_min)
        row: dict[str, Any] = {
            "datacenter": dc,
            "year": year,
            **_doc(p),
            "wue_l_per_kwh": None,
            "erf": None,
            "ref": None,
        }
        given = next((x for x in inputs if x.datacenter == dc and x.year == year), None)
        total_kwh = p.facility.wh / 1000 if p.missing not in ("no_site", "site_coverage") else 0
        it_covered = p.missing not in ("no_it", "it_coverage")
        if given is not None:
            if given.water_m3 is not None and p.it.wh > 0 and it_covered:
                row["wue_l_per_kwh"] = round(given.water_m3 * 1000 / (p.it.wh / 1000), 4)
            if given.reused_energy_kwh is not None and total_kwh > 0:
                row["erf"] = round(given.reused_energy_kwh / total_kwh, 4)
            if given.renewable_energy_kwh is not None and total_kwh > 0:
                row["ref"] = round(given.renewable_energy_kwh / total_kwh, 4)
        out.append(row)
    return out
