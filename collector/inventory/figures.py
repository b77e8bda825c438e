"""Embodied CO2e and lifetimes from the register: plain functions on plain data.

Per asset: its manufacturing footprint (the model's value from `inventory.models`, else the
register's own value, else its kind's default, each with its source), amortised linearly over
its life: from its start of service (use date, else delivery, else purchase) to its
decommission date when it has left service; while in service, over its expected lifetime, or
its age so far once it has outlived it (a life cannot be shorter than what it has lived). A
year's embodied figure is the share of that amortisation falling in the year's days of service.

Lifetimes, on the year's last day (or today for the year in progress): the fleet's age by
kind, the share in service past its expected lifetime, the assets retired in the year with
their ages, the mean age at retirement, and what one more year of life for every asset in
service would take off the year's embodied total.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from collector.inventory.assets import Asset, is_retired
from collector.inventory.factors import Factor
from collector.inventory.store import Stored

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Life:
    """An asset's footprint, its source, and its life as the register tells it."""

    asset: Asset
    kgco2e: float
    basis: str  # model, register, default
    source: str
    expected_years: float
    start: date | None
    end: date | None  # out of service (decommissioned, retired, gone from the register)

    def age_years(self, on: date) -> float | None:
        if self.start is None:
            return None
        last = min(on, self.end) if self.end else on
        return max((last - self.start).days, 0) / DAYS_PER_YEAR

    def life_years(self, on: date) -> float:
        """The years the footprint is spread over, as known on `on`."""
        if self.end is not None and self.start is not None:
            return max((self.end - self.start).days / DAYS_PER_YEAR, 1 / DAYS_PER_YEAR)
        age = self.age_years(on)
        return max(self.expected_years, age or 0.0)

    def in_year(self, first: date, last: date) -> float:
        """Days of [first, last] it was in service (unknown start: every day up to its end)."""
        a = max(first, self.start) if self.start else first
        b = min(last, self.end) if self.end else last
        return max((b - a).days + 1, 0) if b >= a else 0.0


def lives(
    register: list[Stored],
    factors: dict[str, Factor],
    models: dict[str, float],
    retired_states: list[str],
) -> list[Life]:
    out = []
    for s in register:
        a = s.asset
        f = factors.get(a.kind) or factors["other"]
        model_kg = models.get((a.model or "").strip().lower())
        if model_kg is not None:
            kg, basis, src = model_kg, "model", f"inventory.models: {a.model}"
        elif a.embodied_kgco2e is not None:
            kg, basis, src = a.embodied_kgco2e, "register", f"{a.source} asset field"
        else:
            kg, basis, src = f.kgco2e, "default", f.source
        end = a.decommission_date
        if end is None and (is_retired(a.state, retired_states) or a.deleted or s.removed_at):
            # left service without a date: the register's last change, else when it vanished
            when = a.date_mod[:10] if a.date_mod else None
            if when:
                end = date.fromisoformat(when)
            elif s.removed_at:
                end = datetime.fromtimestamp(s.removed_at).date()
        out.append(
            Life(a, kg, basis, src, a.lifetime_years or f.lifetime_years, a.in_service_from(), end)
        )
    return out


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None else round(x, n)


def year_figures(ls: list[Life], year: int, today: date | None = None) -> dict[str, Any]:
    """The year's embodied total and the fleet's lifetimes, by kind (JSON-ready)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    on = min(last, today) if today else last
    emb: dict[str, float] = defaultdict(float)
    basis_n: dict[str, int] = defaultdict(int)
    kinds: dict[str, dict[str, Any]] = {}
    retired_rows: list[dict[str, Any]] = []
    all_retire_ages: list[float] = []
    extra_year_saving = 0.0
    for life in ls:
        k = life.asset.kind
        row = kinds.setdefault(
            k,
            {
                "kind": k,
                "in_service": 0,
                "ages": [],
                "age_unknown": 0,
                "past_expected": 0,
                "retired_in_year": 0,
                "embodied_kgco2e": 0.0,
                "expected_lifetime_years": life.expected_years,
            },
        )
        if life.start is not None and life.start > on:
            continue  # not yet in service
        days = life.in_year(first, on)
        if days:
            share = life.kgco2e * days / (life.life_years(on) * DAYS_PER_YEAR)
            emb[k] += share
            row["embodied_kgco2e"] += share
            basis_n[life.basis] += 1
        if life.end is not None and life.start is not None and life.end <= on:
            all_retire_ages.append(life.age_years(life.end) or 0.0)
        if life.end is not None and first <= life.end <= on:
            row["retired_in_year"] += 1
            retired_rows.append(
                {"kind": k, "age_years": _r(life.age_years(life.end), 1), "retired": str(life.end)}
            )
        if life.end is None or life.end > on:
            row["in_service"] += 1
            age = life.age_years(on)
            if age is None:
                row["age_unknown"] += 1
            else:
                row["ages"].append(age)
                if age > life.expected_years:
                    row["past_expected"] += 1
            # one more year of life: its yearly amortisation kg/L becomes kg/(L+1)
            L = life.life_years(on)
            extra_year_saving += life.kgco2e / L - life.kgco2e / (L + 1)
    by_kind = []
    for k in sorted(kinds):
        r = kinds[k]
        ages = r.pop("ages")
        known = len(ages)
        by_kind.append(
            {
                **r,
                "embodied_kgco2e": _r(r["embodied_kgco2e"]),
                "mean_age_years": _r(sum(ages) / known, 2) if known else None,
                "past_expected_share": _r(r["past_expected"] / known, 4) if known else None,
            }
        )
    in_service = sum(r["in_service"] for r in by_kind)
    total = sum(emb.values())
    retired_ages = [r["age_years"] for r in retired_rows if r["age_years"] is not None]
    return {
        "year": year,
        "as_of": str(on),
        "assets_in_service": in_service,
        "embodied_kgco2e": _r(total),
        "embodied_basis": dict(sorted(basis_n.items())),
        "by_kind": by_kind,
        "retired_in_year": sorted(retired_rows, key=lambda r: (r["retired"], r["kind"])),
        "mean_age_at_retirement_years": _r(sum(retired_ages) / len(retired_ages), 2)
        if retired_ages
        else None,
        "mean_age_at_retirement_all_years": _r(sum(all_retire_ages) / len(all_retire_ages), 2)
        if all_retire_ages
        else None,
        "one_more_year_saving_kgco2e": _r(extra_year_saving),
        "one_more_year_saving_share": _r(extra_year_saving / total, 4) if total else None,
    }


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()
