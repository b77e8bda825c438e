"""The strategy's objectives against the year: baseline (from the ledger's baseline year,
or given in the configuration), this year's value, the change, the target, met or not; a
regression against the baseline is said whatever the target."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from collector.yearly.settings import OBJECTIVE_INDICATORS

if TYPE_CHECKING:
    from collector.yearly.figures import Settings

LOWER_IS_BETTER = {
    "total_kwh": True,
    "endpoint_kwh": True,
    "usage_kgco2e": True,
    "embodied_kgco2e": True,
    "wasted_kwh": True,
    "compliance_rate": False,
    "pue": True,
    "measured_share": False,
}
assert set(LOWER_IS_BETTER) == set(OBJECTIVE_INDICATORS)


def indicator(doc: dict[str, Any], name: str, datacenter: str | None) -> float | None:
    if name != "pue":
        v = doc["indicators"].get(name)
        return None if v is None else float(v)
    years = [d for d in doc["datacenters"] if d["year"]]
    if datacenter:
        found = [d["year"]["pue"] for d in years if d["datacenter"] == datacenter]
        return found[0] if found else None
    # every datacenter together: all facility energy over all IT energy, only where each
    # one's PUE is given (its two sides cover the year: collector/datacenter/facility.py)
    if any(d["year"]["pue"] is None for d in years):
        return None
    fac = sum(d["year"]["facility_kwh"] or 0.0 for d in years)
    it = sum(d["year"]["it_kwh"] or 0.0 for d in years)
    return round(fac / it, 3) if it and fac else None


def evaluate(
    doc: dict[str, Any], s: Settings, figures_of: Callable[[int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """`figures_of(year)`: the figures of a baseline year (computed once per year)."""
    out = []
    cache: dict[int, dict[str, Any]] = {}
    for o in s.objectives:
        value = indicator(doc, o.indicator, o.datacenter)
        baseline, source = o.baseline_value, "config" if o.baseline_value is not None else None
        if baseline is None and o.baseline_year is not None and o.baseline_year != doc["year"]:
            if o.baseline_year not in cache:
                cache[o.baseline_year] = figures_of(o.baseline_year)
            base = cache[o.baseline_year]
            if base["scope"]["hosts_reporting"] or base["datacenters"]:
                baseline, source = indicator(base, o.indicator, o.datacenter), "ledger"
        lower = LOWER_IS_BETTER[o.indicator]
        target = o.target
        if target is None and o.change is not None and baseline is not None:
            target = baseline * (1.0 + o.change)
        change = (value - baseline) / baseline if value is not None and baseline else None
        met = None
        if value is not None and target is not None:
            met = value <= target + 1e-9 if lower else value >= target - 1e-9
        out.append(
            {
                **{k: v for k, v in dataclasses.asdict(o).items() if k != "baseline_value"},
                "target_change": o.change,
                "baseline": None if baseline is None else round(baseline, 4),
                "baseline_from": source,
                "value": None if value is None else round(value, 4),
                "change": None if change is None else round(change, 4),
                "target": None if target is None else round(target, 4),
                "lower_is_better": lower,
                "met": met,
                "regression": None
                if change is None
                else (change > 1e-9 if lower else change < -1e-9),
            }
        )
    return out
