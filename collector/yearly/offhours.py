"""Off-hours sleep over a year: compliance by month, site and department, recurring
offenders (counted; named only in the internal edition) and the top sleep blockers."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from collector.ledger import Ledger

if TYPE_CHECKING:
    from collector.yearly.figures import HostYear, Settings

RATE_KEYS = ("host_periods", "noncompliant", "compliant", "unknown", "wasted_kwh", "eur", "kgco2e")


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None else round(x, n)


def _days(year: int) -> tuple[str, str]:
    return f"{year}-01-01", f"{year + 1}-01-01"


def compliance(
    ledger: Ledger, year: int, s: Settings, by: str | None
) -> dict[tuple[str, ...], dict[str, float]]:
    """Host-periods of the year's periods per (month[, by]), judged as the morning report
    judges them (collector/compliance/report.py: verdict)."""
    group = ["substr(day, 1, 7)"] + ([by] if by else [])
    cols = ", ".join(group)
    out = {}
    for row in ledger.execute(
        f"SELECT {cols}, COUNT(*), SUM(CASE WHEN on_s > ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN on_s <= ? AND covered_s >= ? * (period_end - period_start) "
        "THEN 1 ELSE 0 END), SUM(wasted_wh), SUM(eur), SUM(kgco2e) "
        f"FROM host_periods WHERE day >= ? AND day < ? GROUP BY {cols}",
        (s.tolerance_s, s.tolerance_s, s.coverage_min - 1e-9, *_days(year)),
    ):
        k = len(group)
        key = tuple(str(x or "") for x in row[:k])
        n, bad, ok, wh, eur, kg = row[k:]
        out[key] = {
            "host_periods": int(n),
            "noncompliant": int(bad or 0),
            "compliant": int(ok or 0),
            "unknown": int(n) - int(bad or 0) - int(ok or 0),
            "wasted_kwh": (wh or 0.0) / 1000.0,
            "eur": float(eur or 0.0),
            "kgco2e": float(kg or 0.0),
        }
    return out


def rate_row(c: dict[str, float]) -> dict[str, Any]:
    n = c["host_periods"]
    return {
        "host_periods": int(n),
        "compliant": int(c["compliant"]),
        "noncompliant": int(c["noncompliant"]),
        "unknown": int(c["unknown"]),
        "rate": _r(c["compliant"] / n, 4) if n else None,
        "wasted_kwh": _r(c["wasted_kwh"]),
        "eur": _r(c["eur"], 2),
        "kgco2e": _r(c["kgco2e"]),
    }


def sum_rates(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) for k in RATE_KEYS}


def section(
    ledger: Ledger,
    year: int,
    s: Settings,
    hosts: dict[str, HostYear],
    small: int,
    edition: str,
) -> dict[str, Any]:
    """`small`: groups of fewer hosts are merged into '*' (0: none merged)."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    by_month = compliance(ledger, year, s, None)
    reporting = [h for h in hosts.values() if h.months]

    def by(name: str) -> list[dict[str, Any]]:
        hosts_in = Counter(getattr(h, name) for h in reporting)
        acc: dict[str, list[dict[str, float]]] = defaultdict(list)
        for (_, g), v in compliance(ledger, year, s, name).items():
            acc["*" if hosts_in[g] < small else g].append(v)
        merged = sum(n for g, n in hosts_in.items() if n < small)
        return [
            {name: g, "hosts": merged if g == "*" else hosts_in[g], **rate_row(sum_rates(v))}
            for g, v in sorted(acc.items())
        ]

    return {
        "year": rate_row(sum_rates(list(by_month.values()))),
        "by_month": [{"month": m, **rate_row(by_month.get((m,), sum_rates([])))} for m in months],
        "by_site": by("site"),
        "by_department": by("department"),
        "recurring_offenders": recurring(ledger, year, s, hosts, small, edition),
        "top_blockers": [
            {"app": a, "what": w, "hosts": int(n), "host_periods": int(p)}
            for a, w, n, p in ledger.execute(
                "SELECT b.app, b.what, COUNT(DISTINCT b.host_id), COUNT(*) "
                "FROM period_blockers b JOIN host_periods p ON p.host_id = b.host_id "
                "AND p.period_start = b.period_start WHERE p.day >= ? AND p.day < ? "
                "GROUP BY b.app, b.what ORDER BY COUNT(*) DESC, b.app LIMIT 10",
                _days(year),
            )
        ],
    }


def recurring(
    ledger: Ledger,
    year: int,
    s: Settings,
    hosts: dict[str, HostYear],
    small: int,
    edition: str,
) -> dict[str, Any]:
    """Hosts left on (over the tolerance) at least `recurring_offender_periods` off-hours
    periods of the year: counted by department; named in the internal edition only."""
    counts: Counter[str] = Counter()
    for hid, n in ledger.execute(
        "SELECT host_id, COUNT(*) FROM host_periods WHERE day >= ? AND day < ? AND on_s > ? "
        "GROUP BY host_id",
        (*_days(year), s.tolerance_s),
    ):
        counts[hid] = int(n)
    bad = [hid for hid, n in counts.items() if n >= s.recurring_offender_periods]
    dept_hosts = Counter(h.department for h in hosts.values() if h.months)
    by_dept: Counter[str] = Counter(
        "*" if dept_hosts[hosts[h].department] < small else hosts[h].department
        for h in bad
        if h in hosts
    )
    out: dict[str, Any] = {
        "threshold_periods": s.recurring_offender_periods,
        "hosts": len(bad),
        "hosts_left_on_at_least_once": len(counts),
        "by_department": [{"department": k, "hosts": v} for k, v in sorted(by_dept.items())],
    }
    if edition == "internal" and bad:
        marks = ",".join("?" * len(bad))
        names = dict(
            ledger.execute(f"SELECT host_id, hostname FROM hosts WHERE host_id IN ({marks})", bad)
        )
        out["named"] = sorted(
            (
                {
                    "hostname": names.get(h, h),
                    "site": hosts[h].site if h in hosts else "",
                    "department": hosts[h].department if h in hosts else "",
                    "periods_left_on": counts[h],
                }
                for h in bad
            ),
            key=lambda r: (-r["periods_left_on"], r["hostname"]),
        )
    return out
