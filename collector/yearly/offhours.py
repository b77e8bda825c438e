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


def host_month_rates(
    ledger: Ledger, year: int, s: Settings
) -> dict[tuple[str, str], dict[str, float]]:
    """(host, month) → its host-periods of the year judged as the morning report judges
    them (collector/compliance/report.py: verdict), in one pass over `host_periods`."""
    out = {}
    for hid, month, n, bad, ok, wh, eur, kg in ledger.execute(
        "SELECT host_id, substr(day, 1, 7), COUNT(*), SUM(CASE WHEN on_s > ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN on_s <= ? AND covered_s >= ? * (period_end - period_start) "
        "THEN 1 ELSE 0 END), SUM(wasted_wh), SUM(eur), SUM(kgco2e) "
        "FROM host_periods WHERE day >= ? AND day < ? GROUP BY host_id, substr(day, 1, 7)",
        (s.tolerance_s, s.tolerance_s, s.coverage_min - 1e-9, *_days(year)),
    ):
        out[(hid, month)] = {
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
    """`small`: groups of fewer hosts are merged into '*' (0: none merged). Sites and
    departments are the hosts' own, as for energy."""
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    rates = host_month_rates(ledger, year, s)
    by_month: dict[str, list[dict[str, float]]] = defaultdict(list)
    per_host: dict[str, list[dict[str, float]]] = defaultdict(list)
    left_on: Counter[str] = Counter()
    for (hid, month), v in rates.items():
        by_month[month].append(v)
        per_host[hid].append(v)
        left_on[hid] += int(v["noncompliant"])

    def by(name: str) -> list[dict[str, Any]]:
        judged: dict[str, list[str]] = defaultdict(list)
        for hid in per_host:
            h = hosts.get(hid)
            judged[getattr(h, name) if h else ""].append(hid)
        acc: dict[str, list[dict[str, float]]] = defaultdict(list)
        members: Counter[str] = Counter()
        for g, ids in judged.items():
            key = "*" if len(ids) < small else g
            members[key] += len(ids)
            for hid in ids:
                acc[key] += per_host[hid]
        return [
            {name: g, "hosts": members[g], **rate_row(sum_rates(v))} for g, v in sorted(acc.items())
        ]

    return {
        "year": rate_row(sum_rates(list(rates.values()))),
        "by_month": [{"month": m, **rate_row(sum_rates(by_month.get(m, [])))} for m in months],
        "by_site": by("site"),
        "by_department": by("department"),
        "recurring_offenders": recurring(ledger, s, hosts, left_on, small, edition),
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
    s: Settings,
    hosts: dict[str, HostYear],
    left_on: Counter[str],
    small: int,
    edition: str,
) -> dict[str, Any]:
    """Hosts left on (over the tolerance) at least `recurring_offender_periods` off-hours
    periods of the year: counted by department; named in the internal edition only."""
    counts = {hid: n for hid, n in left_on.items() if n > 0}
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
