"""/metrics: live gauges and counters with Prometheus naming and units.

Energy is exported in watt-hours (`_wh_total`), CO2e in kilograms (`_kgco2e_total`), power in
watts. Fleet gauges are computed at scrape time from the in-memory fleet view, so a scrape
costs O(hosts) and ingest costs O(1) per report.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass(slots=True)
class HostView:
    site: str
    department: str
    kind: str
    state: str
    power_w: float
    last_end: float
    status: str = "online"  # online | stopped (clean offline) | vanished (Last Will)
    exempt: bool = False  # expected on outside working hours (servers, VMs, kiosks)
    year: str = ""  # manufacture year, for the device-age distribution
    spool_dropped: int = 0  # the agent's running total of reports dropped at its spool bound
    duplicate_s: float = 0.0  # seconds another timeline of this agent id had already reported
    # when the host entered `state`: the start of the run of it its last report ends with
    # (Fleet.update joins it to the previous report's); None when no report tells (read back
    # from the ledger)
    since: float | None = None


# every reason a report can be rejected for (present at zero, so rates work from the start)
REJECTION_REASONS = (
    "oversized",
    "json",
    "schema",
    "timeline",
    "future",
    "past",
    "value",
    "identity",
    "internal",
    "ledger",
)


class Increments:
    """Counter increments summed per metric and label values, then added once: one `labels()`
    lookup and one lock per series and batch, not per reading or report. Filled while a batch
    is accounted, applied once it is committed (a retried batch never counts twice).
    `children`: labelled children kept across batches by the caller (labels are bounded)."""

    __slots__ = ("_children", "_sums")

    def __init__(self, children: dict[tuple[Any, tuple[str, ...]], Any] | None = None) -> None:
        self._sums: dict[tuple[Any, tuple[str, ...]], float] = {}
        self._children = children

    def add(self, metric: Any, labels: tuple[str, ...], amount: float = 1.0) -> None:
        key = (metric, labels)
        self._sums[key] = self._sums.get(key, 0.0) + amount

    def apply(self) -> None:
        children = self._children
        for key, amount in self._sums.items():
            metric, labels = key
            if not labels:
                metric.inc(amount)
            elif children is None:
                metric.labels(*labels).inc(amount)
            else:
                child = children.get(key)
                if child is None:
                    child = children[key] = metric.labels(*labels)
                child.inc(amount)
        self._sums.clear()


class BoundedLabel:
    """Label values that come from reports, bounded: the known values, then the first
    `max_values` others seen, then `other`. Keeps /metrics (and Prometheus) a fixed size
    whatever the agents send."""

    OTHER = "other"

    def __init__(self, known: list[str] | tuple[str, ...] = (), max_values: int = 100) -> None:
        self.known = set(known)
        self.max_values = max_values
        self.taken: set[str] = set()
        self.folded = 0  # how many times a value was folded into `other`
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self.known or value in self.taken or value in ("", self.OTHER):
            return value
        with self._lock:
            if len(self.taken) < self.max_values:
                self.taken.add(value)
                return value
            self.folded += 1
        return self.OTHER


ASLEEP = ("suspended", "off")


class Fleet:
    """What each host is doing now, as far as the latest report says."""

    def __init__(
        self,
        stale_after_s: float,
        duplicate_min_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # "now" for every reader of the fleet (tests give a fixed one)
        self.stale_after_s = stale_after_s
        self.duplicate_min_s = duplicate_min_s
        self.hosts: dict[str, HostView] = {}
        self.early_status: dict[str, str] = {}  # retained statuses seen before any report
        self.lock = threading.Lock()

    def update(self, host_id: str, view: HostView) -> None:
        with self.lock:
            old = self.hosts.get(host_id)
            early = self.early_status.pop(host_id, None)
            if old is None and early is not None:
                view.status = early
            if old is not None:
                view.duplicate_s = max(view.duplicate_s, old.duplicate_s)
            if old is None or view.last_end >= old.last_end:
                view.since = _since(old, view)
                if old is not None and old.status != "online" and view.last_end > old.last_end:
                    view.status = "online"
                elif old is not None:
                    view.status = old.status
                self.hosts[host_id] = view

    def add_duplicate(self, host_id: str, seconds: float) -> None:
        with self.lock:
            h = self.hosts.get(host_id)
            if h is not None:
                h.duplicate_s += seconds

    def set_status(self, host_id: str, status: str) -> None:
        with self.lock:
            h = self.hosts.get(host_id)
            if h is not None:
                h.status = status
            else:
                self.early_status[host_id] = status

    def current_state(self, h: HostView, now: float) -> str:
        if h.status == "stopped":
            return "off"
        if h.state in ASLEEP:
            # it said it was going to sleep or off: it stays so (since `last_end`) until it
            # reports again, however long that is; a dropped connection is what suspending does
            return h.state
        if h.status == "vanished" or now - h.last_end > self.stale_after_s:
            return "unknown"  # should have reported and did not
        return h.state

    @staticmethod
    def since(h: HostView, state: str) -> float | None:
        """Since when a host asleep or off has been so (its fleet state `state`): the start of
        the sleep its reports ended with, or the end of its last report for a clean stop."""
        if state not in ASLEEP:
            return None
        if h.state == state and h.since is not None:
            return h.since
        return h.last_end

    def asleep_since(self, now: float | None = None) -> dict[str, tuple[float, float]]:
        """For `suspended` and `off`: (the earliest, the latest) time a host now in that state
        entered it."""
        out: dict[str, tuple[float, float]] = {}
        for _, h, state in self.snapshot(now):
            t = self.since(h, state)
            if t is None:
                continue
            lo, hi = out.get(state, (t, t))
            out[state] = (min(lo, t), max(hi, t))
        return out

    def snapshot(self, now: float | None = None) -> list[tuple[str, HostView, str]]:
        now = self.clock() if now is None else now
        with self.lock:
            return [(hid, h, self.current_state(h, now)) for hid, h in self.hosts.items()]


def _since(old: HostView | None, new: HostView) -> float:
    """When `new.state` began: the start of the run of that state the report ends with, or the
    previous report's start of it when the run joins it (same state, no gap between the two
    reports); without a run from the report (the fleet read back from the ledger after a
    restart), the previous one's if the state is the same, else the end of the previous report,
    else the end of this one."""
    if new.since is None:
        if old is not None and old.state == new.state and old.since is not None:
            return old.since
        if old is not None and old.last_end <= new.last_end:
            return old.last_end  # where this report starts: early by what it holds before
        return new.last_end
    if (
        old is not None
        and old.state == new.state
        and old.since is not None
        and new.since <= old.last_end + 1.0
    ):
        return old.since
    return new.since


class FleetCollector(Collector):
    def __init__(self, fleet: Fleet, site: BoundedLabel, department: BoundedLabel) -> None:
        self.fleet = fleet
        self.site = site
        self.department = department

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.fleet.clock()
        hosts = GaugeMetricFamily(
            "energy_hosts",
            "Hosts by current state.",
            labels=["site", "department", "kind", "state"],
        )
        power = GaugeMetricFamily(
            "energy_power_watts",
            "Power of hosts now (modelled or measured, from each host's latest segment).",
            labels=["site", "department", "kind"],
        )
        age = GaugeMetricFamily(
            "energy_hosts_by_manufacture_year",
            "Hosts by manufacture year (DMI BIOS date; `unknown` where not readable).",
            labels=["year", "kind"],
        )
        years: Tally[tuple[str, str]] = Tally()
        silent = GaugeMetricFamily(
            "energy_agents_silent",
            "Agents with no report for longer than stale_after_s and no clean stop.",
            labels=["site"],
        )
        count: Tally[tuple[str, str, str, str]] = Tally()
        watts: dict[tuple[str, str, str], float] = {}
        quiet: Tally[str] = Tally()
        dropped = GaugeMetricFamily(
            "energy_agent_spool_dropped_reports",
            "Reports agents dropped at their spool bound before sending (each agent's running "
            "total, as last reported). Any rise is data lost for good.",
            labels=["site"],
        )
        dropping = GaugeMetricFamily(
            "energy_agents_with_spool_drops",
            "Agents that have dropped reports at their spool bound.",
            labels=["site"],
        )
        lost: Tally[str] = Tally()
        losers: Tally[str] = Tally()
        duplicated = GaugeMetricFamily(
            "energy_agents_duplicate_identity",
            "Agent ids reporting two overlapping timelines (a cloned image, a restored disk) for "
            "longer than validation.duplicate_identity_min_s: counted once, fix the image.",
            labels=["site"],
        )
        twins: Tally[str] = Tally()
        for _, h, state in self.fleet.snapshot(now):
            site, dept = self.site(h.site), self.department(h.department)
            count[(site, dept, h.kind, state)] += 1
            group = (site, dept, h.kind)
            watts[group] = watts.get(group, 0.0) + (
                h.power_w if state in ("active", "idle") else 0.0
            )
            if state == "unknown":
                quiet[site] += 1
            years[(_year(h.year), h.kind)] += 1
            lost[site] += h.spool_dropped
            if h.spool_dropped:
                losers[site] += 1
            twins[site] += int(h.duplicate_s >= self.fleet.duplicate_min_s)
        for key, n in count.items():
            hosts.add_metric(list(key), n)
        for group, w in watts.items():
            power.add_metric(list(group), w)
        for site, n in quiet.items():
            silent.add_metric([site], n)
        for (year, kind), n in years.items():
            age.add_metric([year, kind], n)
        for site, n in lost.items():
            dropped.add_metric([site], n)
            dropping.add_metric([site], losers[site])
        yield hosts
        yield power
        yield silent
        yield age
        for site, n in twins.items():
            duplicated.add_metric([site], n)
        yield dropped
        yield dropping
        yield duplicated


class FoldCollector(Collector):
    def __init__(self, bounded: dict[str, BoundedLabel]) -> None:
        self.bounded = bounded

    def collect(self) -> Iterator[CounterMetricFamily]:
        fam = CounterMetricFamily(
            "energy_label_values_folded",
            "Label values from reports folded into `other` (past labels.max_values).",
            labels=["label"],
        )
        for name, b in self.bounded.items():
            fam.add_metric([name], b.folded)
        yield fam


def _year(text: str) -> str:
    return text if len(text) == 4 and text.isdigit() else "unknown"


class Metrics:
    def __init__(
        self,
        fleet: Fleet,
        sites: list[str] | tuple[str, ...] = (),
        departments: list[str] | tuple[str, ...] = (),
        max_values: int = 100,
        max_blocker_apps: int = 30,
    ) -> None:
        self.site = BoundedLabel(sites, max_values)
        self.department = BoundedLabel(departments, max_values)
        self.blocker_app = BoundedLabel((), max_blocker_apps)
        r = self.registry = CollectorRegistry()
        labels = ["site", "department", "kind", "provenance"]
        self.energy = Counter(
            "energy_consumed_wh", "Energy accounted, watt-hours.", labels, registry=r
        )
        self.co2e = Counter(
            "energy_co2e_kg", "Usage CO2e accounted, kilograms.", labels, registry=r
        )
        self.reports = Counter(
            "energy_reports", "Reports received, by result.", ["result"], registry=r
        )
        self.rejections = Counter(
            "energy_report_rejections", "Reports rejected, by reason.", ["reason"], registry=r
        )
        self.lag = Histogram(
            "energy_ingest_lag_seconds",
            "Time from a report's sent_at to its commit in the ledger.",
            registry=r,
            buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 900, 3600, 86400),
        )
        self.batch = Histogram(
            "energy_ledger_batch_seconds",
            "Ledger commit time per batch.",
            registry=r,
            buckets=(0.001, 0.005, 0.02, 0.05, 0.2, 1, 5),
        )
        self.ledger_errors = Counter(
            "energy_ledger_errors", "Failed ledger transactions (retried).", registry=r
        )
        self.sink_errors = Counter(
            "energy_sink_errors", "Failed writes to a sink.", ["sink"], registry=r
        )
        self.sink_buffer = Gauge(
            "energy_sink_buffer_bytes",
            "Bytes waiting in a sink's on-disk buffer.",
            ["sink"],
            registry=r,
        )
        self.sink_dropped = Counter(
            "energy_sink_dropped_points",
            "Points dropped from a full sink buffer.",
            ["sink"],
            registry=r,
        )
        self.queue = Gauge("energy_ingest_queue", "Messages waiting for the ledger.", registry=r)
        self.acks_unsent = Counter(
            "energy_mqtt_acks_unsent",
            "Commit acknowledgements that could not be published to an agent (it resends).",
            registry=r,
        )
        self.last_commit = Gauge(
            "energy_ingest_last_commit_timestamp_seconds",
            "When the ledger last committed a batch.",
            registry=r,
        )
        self.wasted_wh = Counter(
            "energy_offhours_wasted_wh",
            "Energy wasted by machines on "
            "outside working hours (on power − sleep power), watt-hours.",
            ["site", "department"],
            registry=r,
        )
        self.wasted_eur = Counter(
            "energy_offhours_wasted_eur",
            "Cost of that energy at the configured tariff, euros.",
            ["site", "department"],
            registry=r,
        )
        self.wasted_co2e = Counter(
            "energy_offhours_wasted_co2e_kg",
            "CO2e of that energy, kilograms.",
            ["site", "department"],
            registry=r,
        )
        self.blockers = Counter(
            "energy_sleep_blocker_reports",
            "Reports sent outside working "
            "hours naming an application that keeps the machine awake.",
            ["app", "what"],
            registry=r,
        )
        self.policy_events = Counter(
            "energy_policy_events",
            "What the agents' off-hours sleep policy did (warned, acted, advised, postponed, "
            "declined, blocked, opted_out, failed, wake_sent), by mode (docs/policy.md).",
            ["site", "department", "mode", "event"],
            registry=r,
        )
        self.duplicate_s = Counter(
            "energy_agent_duplicate_identity_seconds",
            "Seconds of agent reports not counted because another timeline of the same agent "
            "id (a cloned image, a restored disk) had already reported them.",
            ["site"],
            registry=r,
        )
        self.unreadable = Counter(
            "energy_agent_unreadable_probes",
            "Reports whose agent could not read a probe (sleep_blockers: powercfg needs "
            "administrator rights, or printed what the agent does not understand).",
            ["probe"],
            registry=r,
        )
        self.agent_status = Counter(
            "energy_agent_status_changes",
            "Agent status messages (online, stopped, vanished).",
            ["status"],
            registry=r,
        )
        self.blocker_what = BoundedLabel((), max_blocker_apps)
        self.bounded = {
            "site": self.site,
            "department": self.department,
            "blocker_app": self.blocker_app,
            "blocker_what": self.blocker_what,
        }
        r.register(FleetCollector(fleet, self.site, self.department))
        r.register(FoldCollector(self.bounded))
        for reason in REJECTION_REASONS:
            self.rejections.labels(reason)  # present at zero: rates work from the start
        for result in ("accepted", "duplicate", "rejected"):
            self.reports.labels(result)
