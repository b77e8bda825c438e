"""The fleet's age on 31 December and the renewals its lifetimes make due (extending
lifetimes is a REEN lever)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from collector.model.profiles import ProfileBook

if TYPE_CHECKING:
    from collector.yearly.figures import HostYear

OLDEST_BUCKET = 8  # years; the last bucket is "8 and more"


def age_years(manufactured: str | None, on: date) -> float | None:
    """Age from the `YYYY-MM` (or `YYYY`, taken as mid-year) the machine reports."""
    if not manufactured or len(manufactured) < 4 or not manufactured[:4].isdigit():
        return None
    y = int(manufactured[:4])
    m = int(manufactured[5:7]) if len(manufactured) >= 7 and manufactured[5:7].isdigit() else 7
    if not 1 <= m <= 12 or y < 1970:
        return None
    return (on.year - y) + (on.month - m) / 12.0


def section(hosts: dict[str, HostYear], book: ProfileBook, year: int) -> dict[str, Any]:
    on = date(year, 12, 31)
    ages: Counter[str] = Counter()
    renewals: Counter[int] = Counter()
    known: list[float] = []
    physical = [h for h in hosts.values() if h.kind != "vm"]
    for h in physical:
        age = age_years(h.manufactured, on)
        if age is None or h.manufactured is None:
            continue
        known.append(age)
        bucket = min(int(max(age, 0.0)), OLDEST_BUCKET)
        ages[f"{bucket}+" if bucket == OLDEST_BUCKET else str(bucket)] += 1
        life = book.profile_for(h.kind, h.model, h.tags).lifetime_years
        # due this year or overdue: counted in this year
        renewals[max(int(h.manufactured[:4]) + math.ceil(life), year)] += 1
    return {
        "physical_hosts": len(physical),
        "age_distribution": [
            {"age_years": k, "hosts": ages[k]}
            for k in [*map(str, range(OLDEST_BUCKET)), f"{OLDEST_BUCKET}+"]
        ],
        "age_unknown": len(physical) - len(known),
        "mean_age_years": round(sum(known) / len(known), 1) if known else None,
        "renewals_due": [{"year": y, "hosts": renewals[y]} for y in sorted(renewals)],
    }
