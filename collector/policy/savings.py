"""Savings, proven: off-hours energy avoided against a baseline, per department and month.

Method (docs/policy.md): over a baseline period before the policy, a department's off-hours
*on-rate* is the energy its machines used above sleep power per second of off-hours covered
by reports (`host_periods.wasted_wh / covered_s`). A month's avoided energy is what its
covered off-hours would have used at that rate, minus what they did use:

    avoided_kWh = (rate_baseline - rate_month) x covered_s_month / 1000

Euros at `compliance.tariff_eur_per_kwh`; kgCO2e at the month's own carbon intensity of the
off-hours energy (the baseline's where the month used none). A policy that saves nothing
shows as 0 or a negative figure, never hidden.

Advise mode, before a policy acts: each action the agent would have taken is priced by the
time its machine then actually stayed on in that off-hours period, assuming its on-time ran
from the period start (the usual evening left on): `would_s = clamp(start + on_s + excused_s
- at, 0, end - at)` at that period's mean power above sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.policy.settings import parse_days

if TYPE_CHECKING:
    from collector.ledger import Ledger
    from collector.policy.settings import PolicyConfig
    from collector.policy.wake import Waker

COUNTED = ("acted", "advised", "warned", "postponed", "declined", "blocked", "opted_out", "failed")


@dataclass
class Row:
    department: str
    month: str
    covered_h: float
    used_kwh: float
    rate_baseline_w: float | None  # mean W above sleep per covered off-hours second
    rate_w: float
    avoided_kwh: float | None
    avoided_eur: float | None
    avoided_kgco2e: float | None
    advised_kwh: float  # what advise-mode actions would have saved
    events: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "month": self.month,
            "covered_h": round(self.covered_h, 1),
            "used_kwh": round(self.used_kwh, 3),
            "baseline_w": None if self.rate_baseline_w is None else round(self.rate_baseline_w, 3),
            "month_w": round(self.rate_w, 3),
            "avoided_kwh": None if self.avoided_kwh is None else round(self.avoided_kwh, 3),
            "avoided_eur": None if self.avoided_eur is None else round(self.avoided_eur, 2),
            "avoided_kgco2e": None
            if self.avoided_kgco2e is None
            else round(self.avoided_kgco2e, 3),
            "advised_kwh": round(self.advised_kwh, 3),
            **{e: self.events.get(e, 0) for e in COUNTED},
        }


def baselines(cfg: PolicyConfig) -> tuple[tuple[date, date] | None, dict[str, tuple[date, date]]]:
    default = parse_days(cfg.baseline, "baseline") if cfg.baseline else None
    return default, {d: parse_days(t, f"baselines.{d}") for d, t in cfg.baselines.items()}


def savings(
    ledger: Ledger,
    cfg: PolicyConfig,
    tariff_eur_per_kwh: float,
    first_day: str,
    last_day: str,
) -> list[Row]:
    """Rows per department and month with off-hours data between the two days."""
    default, per_dept = baselines(cfg)
    base: dict[str, tuple[float, float, float]] = {}
    depts = [r[0] for r in ledger.execute("SELECT DISTINCT department FROM host_periods")]
    for dept in depts:
        rng = per_dept.get(dept, default)
        if rng is None:
            continue
        wh, cov, kg = ledger.execute(
            "SELECT COALESCE(SUM(wasted_wh), 0), COALESCE(SUM(covered_s), 0), "
            "COALESCE(SUM(kgco2e), 0) FROM host_periods "
            "WHERE department = ? AND day >= ? AND day <= ?",
            (dept, rng[0].isoformat(), rng[1].isoformat()),
        )[0]
        if cov > 0:
            base[dept] = (float(wh), float(cov), float(kg))
    months = ledger.execute(
        "SELECT department, substr(day, 1, 7) AS month, SUM(wasted_wh), SUM(covered_s), "
        "SUM(kgco2e) FROM host_periods WHERE day >= ? AND day <= ? "
        "GROUP BY department, substr(day, 1, 7) ORDER BY department, month",
        (first_day, last_day),
    )
    events: dict[tuple[str, str], dict[str, int]] = {}
    for dept, month, event, n in ledger.execute(
        "SELECT department, substr(day, 1, 7), event, SUM(n) FROM policy_events "
        "WHERE day >= ? AND day <= ? GROUP BY department, substr(day, 1, 7), event",
        (first_day, last_day),
    ):
        events.setdefault((dept, month), {})[event] = int(n)
    advised: dict[tuple[str, str], float] = {}
    # SQLite's two-argument MAX/MIN are PostgreSQL's GREATEST/LEAST
    most, least = ("GREATEST", "LEAST") if ledger.postgres else ("MAX", "MIN")
    for dept, month, wh in ledger.execute(
        # each advise-mode action, priced by the on-time that followed it in its period
        "SELECT a.department, substr(a.day, 1, 7), SUM("
        "  CASE WHEN p.on_s > 0 THEN p.wasted_wh / p.on_s * "
        f"    {most}(0.0, {least}(p.period_end - a.at, "
        "p.period_start + p.on_s + p.excused_s - a.at)) "
        "  ELSE 0 END) "
        "FROM policy_actions a JOIN host_periods p "
        "  ON p.host_id = a.host_id AND p.period_start = a.period_start "
        "WHERE a.mode = 'advise' AND a.day >= ? AND a.day <= ? "
        "GROUP BY a.department, substr(a.day, 1, 7)",
        (first_day, last_day),
    ):
        advised[(dept, month)] = float(wh or 0.0)
    out = []
    for dept, month, wh, cov, kg in months:
        wh, cov, kg = float(wh or 0), float(cov or 0), float(kg or 0)
        b = base.get(dept)
        rate = wh * 3600.0 / cov if cov > 0 else 0.0  # mean W above sleep, per covered s
        avoided_kwh = eur = kgco2 = None
        b_rate = None
        if b is not None:
            b_rate = b[0] * 3600.0 / b[1]
            avoided_kwh = (b_rate - rate) * cov / 3600.0 / 1000.0
            factor = kg / wh if wh > 0 else (b[2] / b[0] if b[0] > 0 else 0.0)
            eur = avoided_kwh * tariff_eur_per_kwh
            kgco2 = avoided_kwh * 1000.0 * factor
        out.append(
            Row(
                dept,
                month,
                cov / 3600.0,
                wh / 1000.0,
                b_rate,
                rate,
                avoided_kwh,
                eur,
                kgco2,
                advised.get((dept, month), 0.0) / 1000.0,
                events.get((dept, month), {}),
            )
        )
    return out


class PolicyMetrics(Collector):
    """/metrics: this month's savings per department (recomputed by `refresh()`, which the
    collector runs with the compliance gauges, every 5 minutes: it reads the month's
    host periods) and the wake requests this collector sent. The agents' policy events
    are a plain counter of the ingest (`energy_policy_events_total`)."""

    def __init__(
        self, ledger: Ledger, cfg: PolicyConfig, tariff: float, waker: Waker | None
    ) -> None:
        self.ledger = ledger
        self.cfg = cfg
        self.tariff = tariff
        self.waker = waker
        self.month: list[Row] = []

    def refresh(self, today: date | None = None) -> None:
        if not self.cfg.enabled:
            return
        today = today or date.today()
        first = today.replace(day=1).isoformat()
        self.month = savings(self.ledger, self.cfg, self.tariff, first, today.isoformat())

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        avoided = GaugeMetricFamily(
            "energy_policy_avoided_kwh",
            "Off-hours kWh avoided this month against the baseline's on-rate (0 or negative "
            "when the policy saves nothing).",
            labels=["department"],
        )
        advised = GaugeMetricFamily(
            "energy_policy_advised_kwh",
            "Off-hours kWh the advise-mode actions would have saved this month.",
            labels=["department"],
        )
        for r in self.month:
            if r.avoided_kwh is not None:
                avoided.add_metric([r.department], r.avoided_kwh)
            advised.add_metric([r.department], r.advised_kwh)
        yield avoided
        yield advised
        if self.waker is not None:
            wake = CounterMetricFamily(
                "energy_wake_requests",
                "Wake-ups asked by this collector, by job and how (proxy, directed, unreachable).",
                labels=["job", "via"],
            )
            for (job, via), n in sorted(self.waker.sent_total.items()):
                wake.add_metric([job, via], float(n))
            yield wake
