"""Did we improve? This year's figures against the previous year's, both from the ledger:
every headline indicator and every breakdown (kind, site, department, datacenter PUE), as
the previous value, the change and the relative change, and whether it is better or worse.
A first year says so; a previous year the ledger covers only in part is flagged, so that a
change is never read as like for like when it is not."""

from __future__ import annotations

from typing import Any

from collector.yearly.objectives import LOWER_IS_BETTER, indicator

HEADLINE = (
    "total_kwh",
    "endpoint_kwh",
    "usage_kgco2e",
    "embodied_kgco2e",
    "wasted_kwh",
    "compliance_rate",
    "measured_share",
    "pue",
)
PARTIAL = 0.9  # a previous year with data on fewer days than this share is partial
SAME = 0.005  # a relative change under half a percent is "unchanged"


def _row(key: str, prev: float | None, now: float | None, lower: bool) -> dict[str, Any]:
    change = None if prev is None or now is None else round(now - prev, 4)
    rel = round(change / prev, 4) if change is not None and prev else None
    verdict = None
    if change is not None:
        moved = abs(rel) >= SAME if rel is not None else abs(change) > 1e-9
        verdict = "same" if not moved else "better" if (change < 0) == lower else "worse"
    return {
        "key": key,
        "previous": prev,
        "value": now,
        "change": change,
        "change_pct": rel,
        "lower_is_better": lower,
        "verdict": verdict,
    }


def _by(rows_now: list[dict[str, Any]], rows_prev: list[dict[str, Any]], col: str) -> list:
    prev = {r[col]: r["kwh"] for r in rows_prev}
    keys = [r[col] for r in rows_now] + [k for k in prev if k not in {r[col] for r in rows_now}]
    now = {r[col]: r["kwh"] for r in rows_now}
    return [_row(k, prev.get(k), now.get(k), True) for k in keys]


def previous_year(doc: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    """The comparison section of `doc` with `prev`, the previous year's figures (None, or
    a year without any data, makes this the first year measured)."""
    year = doc["year"] - 1
    if prev is None or not (prev["scope"]["hosts_reporting"] or prev["datacenters"]):
        return {"year": year, "first_year": True}
    sc = prev["scope"]
    partial = sc["days_with_data"] < PARTIAL * sc["days_in_year"]
    like_for_like = not partial and not doc["scope"]["in_progress"]
    headline = [
        _row(k, indicator(prev, k, None), indicator(doc, k, None), LOWER_IS_BETTER[k])
        for k in HEADLINE
    ]
    pue_prev = {d["datacenter"]: (d["year"] or {}).get("pue") for d in prev["datacenters"]}
    pue_now = {d["datacenter"]: (d["year"] or {}).get("pue") for d in doc["datacenters"]}
    if not like_for_like:  # the changes are given, but no verdict on unequal periods
        for r in headline:
            r["verdict"] = None if r["verdict"] is None else "not_comparable"
    return {
        "year": year,
        "first_year": False,
        "like_for_like": like_for_like,
        "partial": partial,
        "previous_days_with_data": sc["days_with_data"],
        "in_progress": doc["scope"]["in_progress"],
        "headline": [r for r in headline if r["previous"] is not None or r["value"] is not None],
        "by_kind": _by(doc["energy"]["by_kind"], prev["energy"]["by_kind"], "kind"),
        "by_site": _by(doc["energy"]["by_site"], prev["energy"]["by_site"], "site"),
        "by_department": _by(
            doc["energy"]["by_department"], prev["energy"]["by_department"], "department"
        ),
        "pue": [
            _row(dc, pue_prev.get(dc), pue_now.get(dc), True)
            for dc in sorted(set(pue_prev) | set(pue_now))
        ],
        "monthly_kwh": [r["total_kwh"] for r in prev["energy"]["by_month"]],
        "regressions": [r["key"] for r in headline if r["verdict"] == "worse"],
    }


def trajectory(objectives: Any, prev: dict[str, Any] | None) -> None:
    """Each objective on its way: last year's value beside the baseline, this year and the
    target, and the share of the way from baseline to target covered (1 = reached, below 0
    = moving away from it)."""
    if prev is not None and not (prev["scope"]["hosts_reporting"] or prev["datacenters"]):
        prev = None  # a year without data has no value to show
    for o in objectives:
        o["previous"] = None if prev is None else indicator(prev, o["indicator"], o["datacenter"])
        base, value, target = o["baseline"], o["value"], o["target"]
        way = None
        if base is not None and value is not None and target is not None and target != base:
            way = round((value - base) / (target - base), 4)
        o["progress"] = way
