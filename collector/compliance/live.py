"""Live compliance gauges for /metrics, computed with each site's local calendar so that
PromQL never needs time zones:

- `energy_site_working_hours{site}`: 1 inside the site's working span today, else 0;
- `energy_offhours_hosts_on{site,department}`: non-exempt hosts on (active or idle) while
  their calendar says off-hours;
- `energy_compliance_rate{site,department}`: share of compliant hosts in last night, the last
  completed off-hours period of each calendar (refreshed by the scheduler), the morning
  report's verdicts;
- `energy_compliance_noncompliant_hosts{site,department}`: hosts left on in that period.
`energy_offhours_hosts_on` is now and the others are last night: they differ by design.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.compliance.periods import Compliance
from collector.metrics import BoundedLabel, Fleet


class ComplianceGauges(Collector):
    def __init__(
        self,
        fleet: Fleet,
        compliance: Compliance,
        sites: list[str],
        site_label: BoundedLabel | None = None,
        department_label: BoundedLabel | None = None,
    ) -> None:
        self.fleet = fleet
        self.compliance = compliance
        self.sites = sites
        # label values come from reports: bounded like every other fleet label
        self.site = site_label or BoundedLabel(sites)
        self.department = department_label or BoundedLabel()
        self.last_report: dict[str, Any] | None = None
        # (site, department) -> hosts judged in the last period, by status
        self.by_group: dict[tuple[str, str], Counter[str]] = {}

    def set_report(self, rows: list[dict[str, Any]]) -> None:
        counts: dict[tuple[str, str], Counter[str]] = {}
        for r in rows:
            key = (self.site(r["site"]), self.department(r["department"]))
            counts.setdefault(key, Counter())[r["status"]] += 1
        self.by_group = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.fleet.clock()
        working = GaugeMetricFamily(
            "energy_site_working_hours",
            "1 while the site is in its working day (local calendar), else 0.",
            labels=["site"],
        )
        on = GaugeMetricFamily(
            "energy_offhours_hosts_on",
            "Non-exempt hosts on outside working hours now.",
            labels=["site", "department"],
        )
        rate = GaugeMetricFamily(
            "energy_compliance_rate",
            "Share of compliant hosts last night (the last completed off-hours period).",
            labels=["site", "department"],
        )
        bad = GaugeMetricFamily(
            "energy_compliance_noncompliant_hosts",
            "Hosts left on last night (the last completed off-hours period).",
            labels=["site", "department"],
        )
        good = GaugeMetricFamily(
            "energy_compliance_compliant_hosts",
            "Hosts that slept or were off last night (the last completed off-hours period).",
            labels=["site", "department"],
        )
        judged = GaugeMetricFamily(
            "energy_compliance_judged_hosts",
            "Hosts judged last night, the last completed off-hours period (compliant, "
            "noncompliant or unknown): the weight of each group in a fleet-wide rate.",
            labels=["site", "department"],
        )
        snap = self.fleet.snapshot(now)
        sites = set(self.sites) | {self.site(h.site) for _, h, _ in snap}
        offhours: dict[tuple[str, str], bool] = {}
        for site in sorted(sites):
            cal = self.compliance.calendar_for(site, None)
            working.add_metric([site], 0.0 if cal.period_at(now) is not None else 1.0)
        counts: Counter[tuple[str, str]] = Counter()
        for _, h, state in snap:
            raw = (h.site, h.department)
            if raw not in offhours:
                cal = self.compliance.calendar_for(h.site, h.department)
                offhours[raw] = cal.period_at(now) is not None
            key = (self.site(h.site), self.department(h.department))
            counts[key] += 0  # every group is present, at 0 during working hours
            if offhours[raw] and state in ("active", "idle") and not h.exempt:
                counts[key] += 1
        for (site, dept), n in counts.items():
            on.add_metric([site, dept], n)
        for (site, dept), c in self.by_group.items():
            total = sum(c.values())
            if total:
                rate.add_metric([site, dept], c["compliant"] / total)
            bad.add_metric([site, dept], c["noncompliant"])
            good.add_metric([site, dept], c["compliant"])
            judged.add_metric([site, dept], total)
        yield working
        yield on
        yield rate
        yield bad
        yield good
        yield judged
