"""The yearly REEN indicators, computed from the ledger alone.

One pass over `host_days` per host and month gives every energy figure (by month, site,
department, kind), the measured / modelled / attributed shares, unknown time and each host's
yearly kWh; `host_periods` gives off-hours compliance; `meter_hours` the datacenters; the
hosts table the fleet's age. Nothing here names a host unless the edition is `internal`.

Counting once: agents of kind `vm` and `server` run in the datacenters, whose IT energy the
meters already hold. Where at least one datacenter has IT meters, their figures are shown
"of which" and left out of the total; with no datacenter metered they are in it. Network
meters inside a datacenter are part of its facility energy; network meters outside any
datacenter and LoRaWAN gateways are added on their own.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from collector.datacenter.facility import pue
from collector.datacenter.report import eu_report
from collector.inventory.summary import section as inventory_section
from collector.ledger import Ledger
from collector.model.carbon import CarbonModel
from collector.model.energy import embodied_kg_per_day
from collector.model.profiles import ProfileBook
from collector.yearly import basis, compare, fleet, objectives, stacks
from collector.yearly import offhours as off_hours

ENDPOINT_KINDS = ("desktop", "laptop", "thin_client", "workstation")
DATACENTER_AGENT_KINDS = ("vm", "server")
KNOWN_BEFORE_S = 90 * 86400  # a host last seen this long before the year is still known


@dataclass(frozen=True)
class Objective:
    indicator: str
    label: str = ""
    baseline_year: int | None = None
    baseline_value: float | None = None
    change: float | None = None  # relative target against the baseline (-0.10: -10 %)
    target: float | None = None  # absolute target (a rate, a PUE)
    datacenter: str | None = None  # for `pue`


@dataclass(frozen=True)
class Settings:
    """What the report needs beyond the ledger (from the collector's configuration)."""

    book: ProfileBook
    carbon: CarbonModel
    tariff_eur_per_kwh: float = 0.2
    tolerance_s: float = 900.0
    coverage_min: float = 0.8
    recurring_offender_periods: int = 24
    min_group_hosts: int = 3
    tz: str = "Europe/Paris"
    organisation: str = ""
    objectives: tuple[Objective, ...] = ()
    datacenter_years: tuple[Any, ...] = ()
    now: float | None = None  # the report's "now" (default: the clock)
    lorawan_in_total: bool = True
    policy: Any = None  # the PolicyConfig: the sleep policy's savings (collector/policy/)
    inventory: Any = None  # the InventoryConfig: embodied CO2e and lifetimes from the register


def year_bounds(year: int, tz: str) -> tuple[float, float]:
    z = ZoneInfo(tz)
    return (
        datetime.combine(date(year, 1, 1), dtime(0), z).timestamp(),
        datetime.combine(date(year + 1, 1, 1), dtime(0), z).timestamp(),
    )


def month_bounds(year: int, month: int, tz: str) -> tuple[float, float]:
    z = ZoneInfo(tz)
    first = date(year, month, 1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, dtime(0), z).timestamp(),
        datetime.combine(nxt, dtime(0), z).timestamp(),
    )


def year_missing(ledger: Ledger, year: int, tz: str, now: float) -> str | None:
    """Why there is no report of `year`: "future" (it has not begun), "no data" (nothing of it
    in the ledger: no agent day, meter hour or gateway day), else None. Pages answer 404."""
    start, end = year_bounds(year, tz)
    if start > now:
        return "future"
    first, nxt = f"{year}-01-01", f"{year + 1}-01-01"
    for sql, args in (
        ("SELECT 1 FROM host_days WHERE day >= ? AND day < ? LIMIT 1", (first, nxt)),
        (
            "SELECT 1 FROM meter_hours WHERE hour_start >= ? AND hour_start < ? LIMIT 1",
            (start, end),
        ),
        ("SELECT 1 FROM lora_gateway_days WHERE day >= ? AND day < ? LIMIT 1", (first, nxt)),
    ):
        if ledger.execute(sql, args):
            return None
    return "no data"


def _r(x: float | None, n: int = 3) -> float | None:
    return None if x is None else round(x, n)


@dataclass
class HostYear:
    kind: str
    site: str
    department: str
    model: str | None
    manufactured: str | None
    tags: dict[str, str]
    first_seen: float
    last_seen: float
    months: dict[str, list[float]] = field(default_factory=dict)  # month → sums
    on_days: int = 0

    # sums: measured, modelled, attributed, kgco2e, unknown_s, seconds
    def add(self, month: str, sums: tuple[float, ...]) -> None:
        m = self.months.setdefault(month, [0.0] * 6)
        for i, v in enumerate(sums):
            m[i] += v or 0.0

    @property
    def wh(self) -> float:
        return sum(m[0] + m[1] + m[2] for m in self.months.values())


def hosts_of_year(ledger: Ledger, start: float, end: float) -> dict[str, HostYear]:
    out = {}
    for hid, kind, site, dept, model, manu, tags, first, last in ledger.execute(
        "SELECT host_id, kind, site, department, model, manufactured, tags, first_seen, "
        "last_seen FROM hosts WHERE first_seen < ? AND last_seen >= ?",
        (end, start - KNOWN_BEFORE_S),
    ):
        out[hid] = HostYear(
            kind,
            site or "",
            dept or "",
            model,
            manu,
            json.loads(tags or "{}"),
            float(first),
            float(last),
        )
    return out


def host_months(
    ledger: Ledger, year: int, hosts: dict[str, HostYear]
) -> dict[tuple[str, str], float]:
    """Each host's sums per month, and its days on, in one pass over the year's
    `host_days`; returns the Wh by kind and carbon basis (which factor each figure used)."""
    by_basis: dict[tuple[str, str], float] = defaultdict(float)
    on_days: dict[tuple[str, str], int] = {}
    for hid, month, cbasis, me, mo, att, kg, unk, secs, days_on in ledger.execute(
        "SELECT host_id, substr(day, 1, 7), carbon_basis, SUM(wh_measured), "
        "SUM(wh_modelled), SUM(wh_attributed), SUM(kgco2e), "
        "SUM(CASE WHEN state = 'unknown' THEN seconds ELSE 0 END), SUM(seconds), "
        "COUNT(DISTINCT CASE WHEN state IN ('active', 'idle') AND seconds > 0 THEN day END) "
        "FROM host_days WHERE day >= ? AND day < ? "
        "GROUP BY host_id, substr(day, 1, 7), carbon_basis",
        (f"{year}-01-01", f"{year + 1}-01-01"),
    ):
        h = hosts.get(hid)
        if h is None:
            continue
        by_basis[(h.kind, cbasis)] += (me or 0.0) + (mo or 0.0) + (att or 0.0)
        h.add(month, (me, mo, att, kg, unk, secs))
        # a month split between two carbon bases: its days are counted once
        key = (hid, month)
        on_days[key] = max(on_days.get(key, 0), int(days_on or 0))
    for (hid, _), n in on_days.items():
        hosts[hid].on_days += n
    return dict(by_basis)


def _known_days(h: HostYear, start: float, end: float) -> float:
    """Days of the year the host was in the inventory: from its first report (or the year's
    start) to the year's end, or to its last report when it stopped before that."""
    a = max(h.first_seen, start)
    b = end if h.last_seen >= end - KNOWN_BEFORE_S else min(max(h.last_seen, a), end)
    return max(b - a, 0.0) / 86400.0


def _meters(
    ledger: Ledger, start: float, end: float, tz: str, carbon: CarbonModel
) -> dict[tuple[str, str, str], list[float]]:
    """Energy of every meter of the year by month, role and datacenter, with usage CO2e."""
    z = ZoneInfo(tz)
    out: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for dc, role, hour, wh in ledger.execute(
        "SELECT COALESCE(m.datacenter, ''), m.role, h.hour_start, h.wh FROM meter_hours h "
        "JOIN meters m ON m.meter = h.meter WHERE h.hour_start >= ? AND h.hour_start < ? "
        "AND m.role IN ('facility', 'it', 'network')",
        (start, end),
    ):
        month = datetime.fromtimestamp(hour, z).strftime("%Y-%m")
        kg, _ = carbon.kg(wh / 1000.0, hour, hour + 3600)
        cell = out[(dc, role, month)]
        cell[0] += wh
        cell[1] += kg
    return out


def _lorawan(ledger: Ledger, year: int, carbon: CarbonModel) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, wh in ledger.execute(
        "SELECT day, SUM(wh) FROM lora_gateway_days WHERE day >= ? AND day < ? GROUP BY day",
        (f"{year}-01-01", f"{year + 1}-01-01"),
    ):
        cell = out[day[:7]]
        cell[0] += wh or 0.0
        cell[1] += (wh or 0.0) / 1000.0 * carbon.static_kg_per_kwh
    return out


def _profile_factor_rows(book: ProfileBook, kinds: list[str]) -> list[dict[str, Any]]:
    rows = []
    for kind in kinds:
        p = book.profile_for(kind, None, {})
        rows.append(
            {
                "kind": kind,
                "embodied_kgco2e": p.embodied_kgco2e,
                "lifetime_years": p.lifetime_years,
                "idle_w": p.idle_w,
                "max_w": p.max_w,
                # VMs: per vCPU and per GB of memory (Cloud Carbon Footprint), not per machine
                "idle_w_per_vcpu": p.idle_w_per_vcpu,
                "max_w_per_vcpu": p.max_w_per_vcpu,
                "w_per_gb": p.w_per_gb,
                "suspended_w": p.suspended_w,
                "off_w": p.off_w,
                "monitor_on_w": p.monitor_on_w,
            }
        )
    return rows


def _fold_small(
    rows: dict[tuple[str, str], dict[str, float]], hosts_of: dict[tuple[str, str], int], k: int
) -> tuple[dict[tuple[str, str], dict[str, float]], int]:
    """(site, department) cells with fewer than k hosts are merged into (site, '*') so that
    no published figure describes one or two people's machines; returns the folded cells."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    folded = 0
    for key, v in rows.items():
        if hosts_of.get(key, 0) < k:
            key = (key[0], "*")
            folded += 1
        cell = out.setdefault(key, dict.fromkeys(v, 0.0))
        for f, x in v.items():
            cell[f] = cell.get(f, 0.0) + x
    return out, folded


def yearly_figures(ledger: Ledger, year: int, s: Settings, edition: str = "public") -> dict:
    """Every indicator of the yearly report, as a JSON-ready document."""
    return compute(ledger, year, s, edition)[0]


def compute(
    ledger: Ledger, year: int, s: Settings, edition: str = "public", previous: bool = True
) -> tuple[dict[str, Any], dict[str, HostYear]]:
    """The figures, and the hosts of the year with their monthly sums (for the exports);
    with `previous`, compared with the year before (collector/yearly/compare.py)."""
    if edition not in ("public", "internal"):
        raise ValueError("edition: public or internal")
    start, end = year_bounds(year, s.tz)
    z = ZoneInfo(s.tz)
    now = s.now if s.now is not None else datetime.now(z).timestamp()
    until = min(end, now)  # a year in progress is covered up to now
    hosts = hosts_of_year(ledger, start, end)
    by_basis = host_months(ledger, year, hosts)
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    # a year in progress stops at now: nothing after it is counted, whatever the ledger holds
    meters = _meters(ledger, start, until, s.tz, s.carbon)
    parts = basis.counted_meters(basis.meter_parts(ledger, start, until, s.tz, s.carbon))
    dcs = sorted({dc for dc, role, _ in meters if dc})
    dc_it_metered = any(role == "it" and dc for dc, role, _ in meters)

    # -- energy by kind, month, site, department ------------------------------------------
    def counted(kind: str) -> bool:
        return kind not in DATACENTER_AGENT_KINDS or not dc_it_metered

    kind_month: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    site_dept: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"kwh": 0.0, "kgco2e": 0.0, "embodied_kgco2e": 0.0}
    )
    group_hosts: Counter[tuple[str, str]] = Counter()
    shares = [0.0, 0.0, 0.0]
    counted_shares = [0.0, 0.0, 0.0]  # of the agents the total counts
    unknown_s = 0.0
    seconds = 0.0
    expected_s = 0.0
    embodied_by_kind: dict[str, float] = defaultdict(float)
    reporting_by_kind: Counter[str] = Counter()
    known_by_kind: Counter[str] = Counter()
    for h in hosts.values():
        known_by_kind[h.kind] += 1
        prof = s.book.profile_for(h.kind, h.model, h.tags)
        emb = embodied_kg_per_day(prof) * _known_days(h, start, until)
        embodied_by_kind[h.kind] += emb
        if not h.months:
            continue
        reporting_by_kind[h.kind] += 1
        group_hosts[(h.site, h.department)] += 1
        a = max(h.first_seen, start)
        expected_s += max(until - a, 0.0)
        cell = site_dept[(h.site, h.department)]
        cell["embodied_kgco2e"] += emb
        for month, (me, mo, att, kg, unk, secs) in h.months.items():
            km = kind_month[(h.kind, month)]
            km[0] += (me + mo + att) / 1000.0
            km[1] += kg
            shares[0] += me
            shares[1] += mo
            shares[2] += att
            unknown_s += unk
            seconds += secs
            if counted(h.kind):
                cell["kwh"] += (me + mo + att) / 1000.0
                cell["kgco2e"] += kg
                counted_shares[0] += me
                counted_shares[1] += mo
                counted_shares[2] += att
    kinds_present = sorted({k for k, _ in kind_month} | set(known_by_kind))

    def meter_sum(role: str, month: str | None = None, inside: bool = True) -> tuple[float, float]:
        wh = kg = 0.0
        for (dc, r, m), (w, k) in meters.items():
            if r == role and (month is None or m == month) and (bool(dc) == inside):
                wh += w
                kg += k
        return wh / 1000.0, kg

    lora = _lorawan(ledger, year, s.carbon)
    by_month = []
    for m in months:
        row: dict[str, Any] = {"month": m}
        total_kwh = total_kg = 0.0
        for kind in kinds_present:
            kwh, kg = kind_month.get((kind, m), (0.0, 0.0))
            row[kind] = _r(kwh)
            if counted(kind):
                total_kwh += kwh
                total_kg += kg
        it_kwh, it_kg = meter_sum("it", m)
        fac_kwh, fac_kg = meter_sum("facility", m)
        net_kwh, net_kg = meter_sum("network", m, inside=False)
        lw, lk = lora.get(m, (0.0, 0.0))
        row["datacenter_it"] = _r(it_kwh)
        row["datacenter_overhead"] = _r(max(fac_kwh - it_kwh, 0.0)) if fac_kwh else None
        row["network"] = _r(net_kwh)
        row["lorawan"] = _r(lw / 1000.0)
        dc_kwh, dc_kg = (fac_kwh, fac_kg) if fac_kwh else (it_kwh, it_kg)
        total_kwh += dc_kwh + net_kwh + (lw / 1000.0 if s.lorawan_in_total else 0.0)
        total_kg += dc_kg + net_kg + (lk if s.lorawan_in_total else 0.0)
        row["total_kwh"] = _r(total_kwh)
        row["usage_kgco2e"] = _r(total_kg)
        by_month.append(row)
    total_kwh = sum(r["total_kwh"] or 0.0 for r in by_month)
    usage_kg = sum(r["usage_kgco2e"] or 0.0 for r in by_month)

    by_kind = []
    for kind in kinds_present:
        kwh = sum(v[0] for (k, _), v in kind_month.items() if k == kind)
        kg = sum(v[1] for (k, _), v in kind_month.items() if k == kind)
        by_kind.append(
            {
                "kind": kind,
                "hosts": reporting_by_kind[kind],
                "kwh": _r(kwh),
                "usage_kgco2e": _r(kg),
                "embodied_kgco2e": _r(embodied_by_kind[kind]),
                "in_total": counted(kind),
                # servers and VMs not added: their energy is inside the datacenters' figure
                "counted_in": None if counted(kind) else "datacenters",
            }
        )
    for kind, role, inside in (
        ("datacenter_it", "it", True),
        ("datacenter_facility", "facility", True),
    ):
        kwh, kg = meter_sum(role, None, inside)
        if kwh:
            in_total = role == "facility" or (role == "it" and not meter_sum("facility")[0])
            by_kind.append(
                {
                    "kind": kind,
                    "hosts": None,
                    "kwh": _r(kwh),
                    "usage_kgco2e": _r(kg),
                    "embodied_kgco2e": None,
                    "in_total": in_total,
                }
            )
    # the network outside the datacenters: said whenever network gear is polled, with its
    # basis (measured, modelled; a lower bound when modelled gear had no power figure), never
    # a silent zero or a missing line
    net = basis.network_line(ledger, start, until)
    if net is not None:
        kwh, kg = meter_sum("network", None, False)
        by_kind.append(
            {
                "kind": "network",
                "hosts": None,
                "kwh": _r(kwh),
                "usage_kgco2e": _r(kg),
                "embodied_kgco2e": None,
                "in_total": True,
                **net,
            }
        )
    lw = sum(v[0] for v in lora.values()) / 1000.0
    if lw:
        by_kind.append(
            {
                "kind": "lorawan",
                "hosts": None,
                "kwh": _r(lw),
                "usage_kgco2e": _r(sum(v[1] for v in lora.values())),
                "embodied_kgco2e": None,
                "in_total": s.lorawan_in_total,
            }
        )

    # -- site and department (agents only: datacenters have no department) ---------------
    # the public edition merges groups of fewer than min_group_hosts machines
    small = s.min_group_hosts if edition == "public" else 0

    def grouped(index: int) -> list[dict[str, Any]]:
        acc: dict[str, dict[str, float]] = defaultdict(
            lambda: {"kwh": 0.0, "kgco2e": 0.0, "embodied_kgco2e": 0.0, "hosts": 0}
        )
        for key, v in site_dept.items():
            g = acc[key[index]]
            for f in ("kwh", "kgco2e", "embodied_kgco2e"):
                g[f] += v[f]
            g["hosts"] += group_hosts[key]
        name = ("site", "department")[index]
        return _fold_groups(
            [
                {
                    name: k,
                    "hosts": int(v["hosts"]),
                    "kwh": _r(v["kwh"]),
                    "usage_kgco2e": _r(v["kgco2e"]),
                    "embodied_kgco2e": _r(v["embodied_kgco2e"]),
                }
                for k, v in sorted(acc.items())
            ],
            name,
            small,
        )

    offhours = off_hours.section(ledger, year, s, hosts, small, edition)
    lora_counted = sum(v[0] for v in lora.values()) / 1000.0 if s.lorawan_in_total else 0.0
    meters_kwh = sum(v[0] for v in parts.values()) / 1000.0
    sites = grouped(0)
    # the datacenters' and network meters' energy at their site: "by site" adds up
    for site, (kwh, kg) in sorted(basis.by_site(parts).items()):
        at = next((r for r in sites if r["site"] == site), None)
        if at is None:
            at = {"site": site, "hosts": 0, "kwh": 0.0, "usage_kgco2e": 0.0}
            at["embodied_kgco2e"] = None
            sites.append(at)
        at["kwh"] = _r((at["kwh"] or 0.0) + kwh)
        at["usage_kgco2e"] = _r((at["usage_kgco2e"] or 0.0) + kg)
        at["meters_kwh"] = _r(kwh)
    # what each site's energy is counted from: its machines with an agent, its meters (a
    # datacenter's or the network's, read or billed); a site known by its meters only has no
    # machine count, not "0 machines"
    for r in sites:
        r["counted_from"] = ["agents"] if r["hosts"] else []
        if not r["hosts"]:
            r["hosts"] = None
    for (site, origin, how), _v in sorted(basis.by_site_origin(parts).items()):
        at = next((r for r in sites if r["site"] == site), None)
        if at is not None:  # datacenter or network, measured, modelled or billed
            at["counted_from"].append(f"{origin}_{how}")
    leaves_site = {"kwh": _r(lora_counted), "what": ["lorawan"] if lora_counted else []}
    leaves_dept = {
        "kwh": _r(meters_kwh + lora_counted),
        "what": [w for w, x in (("meters", meters_kwh), ("lorawan", lora_counted)) if x],
    }
    agents_kwh = {
        b: v / 1000.0
        for b, v in zip(("measured", "modelled", "attributed"), counted_shares, strict=True)
    }
    agents_carbon: dict[str, float] = defaultdict(float)
    for (kind, cb), wh in by_basis.items():
        if counted(kind):
            agents_carbon[cb] += wh / 1000.0

    # -- datacenters ----------------------------------------------------------------------
    datacenters: list[dict[str, Any]] = []
    eu = {
        r["datacenter"]: r
        for r in eu_report(
            ledger, year, list(s.datacenter_years), s.tz, coverage_min=s.coverage_min, now=until
        )
    }
    for dc in dcs:
        rows = []
        for i, m in enumerate(months, start=1):
            a, b = month_bounds(year, i, s.tz)
            # a month in progress: up to now; no PUE where a side covers less than
            # coverage_min of the month (facility.py)
            p = pue(ledger, dc, a, min(b, max(a, until)), coverage_min=s.coverage_min)
            rows.append(
                {
                    "month": m,
                    "pue": _r(p.value, 3),
                    "pue_missing": p.missing,
                    "it_fallback": p.fallback,
                    "it_kwh": _r(p.it.wh / 1000.0),
                    "facility_kwh": _r(p.facility.wh / 1000.0),
                    "it_coverage": _r(p.it.coverage, 4),
                    "facility_coverage": _r(p.facility.coverage, 4),
                    "it_category": p.category,
                }
            )
        datacenters.append({"datacenter": dc, "months": rows, "year": eu.get(dc)})

    # -- scope ----------------------------------------------------------------------------
    wh_all = sum(shares)
    days_with_data = {
        d
        for (d,) in ledger.execute(
            "SELECT DISTINCT day FROM host_days WHERE day >= ? AND day < ?",
            (f"{year}-01-01", f"{year + 1}-01-01"),
        )
    }
    dc_scope = []
    for d in datacenters:
        y = d["year"] or {}
        dc_scope.append(
            {
                "datacenter": d["datacenter"],
                "it_category": y.get("it_category"),
                "it_fallback": y.get("it_fallback", False),
                "it_categories_available": y.get("it_categories_available", []),
                "it_coverage": y.get("it_coverage"),
                "facility_coverage": y.get("facility_coverage"),
            }
        )
    scope: dict[str, Any] = {
        "hosts_known": len(hosts),
        "hosts_reporting": sum(reporting_by_kind.values()),
        "by_kind": [
            {"kind": k, "known": known_by_kind[k], "reporting": reporting_by_kind[k]}
            for k in kinds_present
        ],
        "days_in_year": (date(year + 1, 1, 1) - date(year, 1, 1)).days,
        "days_with_data": len(days_with_data),
        "time_coverage": _r(seconds / expected_s, 4) if expected_s else None,
        "energy_shares": {
            "measured": _r(shares[0] / wh_all, 4) if wh_all else None,
            "modelled": _r(shares[1] / wh_all, 4) if wh_all else None,
            "attributed": _r(shares[2] / wh_all, 4) if wh_all else None,
        },
        # the whole total by basis (measured, modelled, attributed, billed): adds up to it
        "energy_basis": basis.split(agents_kwh, parts, lora_counted),
        # amortised manufacturing counts the machines with an agent; hardware known only by
        # its meters (datacenter servers without an agent, network gear) is not in it
        "embodied_counts": "machines with an agent",  # the register's assets with inventory
        "unknown_hours": _r(unknown_s / 3600.0, 1),
        "unknown_share": _r(unknown_s / seconds, 4) if seconds else None,
        "datacenters": dc_scope,
        "servers_in_datacenter_energy": dc_it_metered,
        "in_progress": until < end,
        "covered_until": datetime.fromtimestamp(until, z).isoformat(timespec="seconds"),
    }

    indicators = {
        "total_kwh": _r(total_kwh),
        "endpoint_kwh": _r(sum(v[0] for (k, _), v in kind_month.items() if k in ENDPOINT_KINDS)),
        "usage_kgco2e": _r(usage_kg),
        "embodied_kgco2e": _r(sum(embodied_by_kind.values())),
        "wasted_kwh": offhours["year"]["wasted_kwh"],
        "compliance_rate": offhours["year"]["rate"],
        "measured_share": scope["energy_shares"]["measured"],
        "pue": {d["datacenter"]: (d["year"] or {}).get("pue") for d in datacenters if d["year"]},
    }
    doc = {
        "year": year,
        "edition": edition,
        "organisation": s.organisation,
        "timezone": s.tz,
        "generated_at": datetime.fromtimestamp(now, z).isoformat(timespec="seconds"),
        "scope": scope,
        "indicators": indicators,
        "energy": {
            "by_month": by_month,
            "by_kind": by_kind,
            "by_site": sites,
            "by_site_leaves_out": leaves_site,
            "by_department": grouped(1),
            "by_department_leaves_out": leaves_dept,
        },
        "factors": _factors(
            s,
            basis.by_carbon_basis(agents_carbon, parts, (lora_counted, s.carbon.static_basis)),
            kinds_present,
        ),
        "offhours": offhours,
        "datacenters": datacenters,
        "fleet": fleet.section(hosts, s.book, year),
    }
    light = dataclasses.replace(s, objectives=())
    other = functools.cache(lambda y: compute(ledger, y, light, edition, previous=False)[0])
    doc["objectives"] = objectives.evaluate(doc, s, other)
    open_data = _open_tables(site_dept, group_hosts, s.min_group_hosts, year)
    # the meters and the LoRaWAN gateways beside the agents: the rows add up to the total
    lora_kg = sum(v[1] for v in lora.values()) if s.lorawan_in_total else 0.0
    open_data["energy_by_site_department"] += _open_meter_rows(parts, (lora_counted, lora_kg), year)
    doc["open_data"] = open_data
    doc["policy"] = _policy(ledger, s, year)
    _inventory(doc, ledger, s, year, datetime.fromtimestamp(until - 1, z).date())
    energy: dict[str, Any] = doc["energy"]  # type: ignore[assignment]
    energy["by_origin"] = stacks.monthly_parts(doc, s.lorawan_in_total)
    if previous:
        doc["previous_year"] = compare.previous_year(doc, other(year - 1))
        compare.trajectory(doc["objectives"], other(year - 1))
    return doc, hosts


def _inventory(doc: dict[str, Any], ledger: Ledger, s: Settings, year: int, today: date) -> None:
    """With an asset register configured, the embodied total and the fleet's lifetimes come
    from it (collector/inventory/), and the report says so; else from per-kind defaults."""
    if s.inventory is None or not s.inventory.enabled:
        doc["inventory"] = None
        doc["embodied_source"] = "defaults"
        return
    inv = inventory_section(ledger, s.inventory, s.book, year, today)
    doc["inventory"] = inv
    doc["embodied_source"] = "inventory"
    doc["indicators"]["embodied_kgco2e"] = inv["embodied_kgco2e"]
    # the energy table's manufacturing column per kind: the register's figure for that kind
    by_kind = {r["kind"]: r["embodied_kgco2e"] for r in inv["by_kind"]}
    for row in doc["energy"]["by_kind"]:
        if row["kind"] in by_kind:
            row["embodied_kgco2e"] = by_kind[row["kind"]]


def _policy(ledger: Ledger, s: Settings, year: int) -> dict[str, Any] | None:
    """The sleep policy's year: avoided kWh, euros, kgCO2e per department and month
    against its baseline (collector/policy/savings.py), and what the agents did."""
    if s.policy is None or not s.policy.enabled:
        return None
    from collector.policy.savings import savings

    rows = [
        r.to_json()
        for r in savings(ledger, s.policy, s.tariff_eur_per_kwh, f"{year}-01-01", f"{year}-12-31")
    ]
    measured = [r for r in rows if r["avoided_kwh"] is not None]
    total = {
        k: round(sum(r[k] for r in measured), 3)
        for k in ("avoided_kwh", "avoided_eur", "avoided_kgco2e")
    }
    total["advised_kwh"] = round(sum(r["advised_kwh"] for r in rows), 3)
    for k in ("acted", "advised", "postponed", "declined", "blocked", "opted_out"):
        total[k] = sum(r[k] for r in rows)
    return {
        "baseline": s.policy.baseline,
        "baselines": dict(s.policy.baselines),
        "rows": rows,
        "total": total,
    }


def _fold_groups(rows: list[dict[str, Any]], name: str, small: int) -> list[dict[str, Any]]:
    """Rows of groups with fewer than `small` hosts summed into one row named '*'."""
    keep = [r for r in rows if r["hosts"] >= small]
    merged = [r for r in rows if r["hosts"] < small]
    if merged:
        other: dict[str, Any] = {name: "*"}
        for f in merged[0]:
            if f != name:
                vals = [r[f] for r in merged if r[f] is not None]
                other[f] = _r(sum(vals)) if vals else None
        other["hosts"] = int(other["hosts"])
        keep.append(other)
    return keep


def _factors(s: Settings, bases: list[dict[str, Any]], kinds: list[str]) -> dict[str, Any]:
    return {
        "carbon": {
            "static_kg_per_kwh": s.carbon.static_kg_per_kwh,
            "static_basis": s.carbon.static_basis,
            "hourly_basis": s.carbon.hourly_basis if s.carbon.hourly else None,
            "hourly_values": len(s.carbon.hourly),
            "kwh_by_basis": bases,
        },
        "tariff_eur_per_kwh": s.tariff_eur_per_kwh,
        "profiles": _profile_factor_rows(s.book, kinds),
        "profiles_source": "collector/model/power-profiles.yaml (ENERGY STAR, EU Ecodesign, "
        "SPECpower, Cloud Carbon Footprint; embodied: ADEME Base Empreinte / NegaOctet via "
        "Boavizta)",
        "tolerance_s": s.tolerance_s,
        "coverage_min": s.coverage_min,
    }


def _open_tables(
    site_dept: dict[tuple[str, str], dict[str, float]],
    group_hosts: Counter[tuple[str, str]],
    k: int,
    year: int,
) -> dict[str, Any]:
    """The open-data rows, aggregated by site and department, small cells folded."""
    folded, n = _fold_small(dict(site_dept), dict(group_hosts), k)
    hosts_folded: Counter[tuple[str, str]] = Counter()
    for key, c in group_hosts.items():
        hosts_folded[key if c >= k else (key[0], "*")] += c
    energy = [
        {
            "year": year,
            "site": site,
            "department": dept,
            "origin": "agents",
            "basis": None,
            "hosts": hosts_folded[(site, dept)],
            "kwh": _r(v["kwh"]),
            "usage_kgco2e": _r(v["kgco2e"]),
            "embodied_kgco2e": _r(v["embodied_kgco2e"]),
        }
        for (site, dept), v in sorted(folded.items())
    ]
    return {"energy_by_site_department": energy, "folded_cells": n, "min_group_hosts": k}


def _open_meter_rows(
    parts: basis.MeterParts, lorawan: tuple[float, float], year: int
) -> list[dict[str, Any]]:
    """The open data's rows for what the total counts beyond the agents: the datacenters' and
    network meters at their site (measured, modelled or billed), the LoRaWAN gateways
    (modelled)."""
    rows = [
        {
            "year": year,
            "site": site,
            "department": None,
            "origin": origin,
            "basis": how,
            "hosts": None,
            "kwh": _r(kwh),
            "usage_kgco2e": _r(kg),
            "embodied_kgco2e": None,
        }
        for (site, origin, how), (kwh, kg) in sorted(basis.by_site_origin(parts).items())
    ]
    if lorawan[0]:
        rows.append(
            {
                "year": year,
                "site": None,
                "department": None,
                "origin": "lorawan",
                "basis": "modelled",
                "hosts": None,
                "kwh": _r(lorawan[0]),
                "usage_kgco2e": _r(lorawan[1]),
                "embodied_kgco2e": None,
            }
        )
    return rows
