"""Compliance verdicts, rates and the morning report, read from the ledger.

A host-period is
- `noncompliant` when the host was on (outside grace and maintenance) longer than the
  tolerance, whatever else is known;
- `compliant` when its reports cover at least `coverage_min` of the period (up to the
  evaluation time) and it was not on longer than the tolerance;
- `unknown` otherwise, including hosts that sent nothing about the period: never counted
  compliant.
Exempt hosts (kinds, tags) have no periods at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from collector.compliance.calendar import Calendar, Period
from collector.compliance.periods import Compliance
from collector.ledger import Ledger
from collector.policy.savings import savings
from collector.records import Entity


@dataclass(frozen=True)
class Rules:
    tolerance_s: float
    coverage_min: float
    repeat_offender_periods: int
    tariff_eur_per_kwh: float


def verdict(on_s: float, covered_s: float, length_s: float, rules: Rules) -> str:
    if on_s > rules.tolerance_s:
        return "noncompliant"
    if length_s > 0 and covered_s >= rules.coverage_min * length_s - 1e-6:
        return "compliant"
    return "unknown"


def _before(cal: Calendar, p: Period) -> Period | None:
    """The off-hours period just before `p` (across the working day that separates them)."""
    d = datetime.fromtimestamp(p.start - 1, cal.tz).date()
    span = cal.span(d)
    before = cal.period_at((span[0] if span else p.start - 86400) - 1)
    if before is not None and before.start >= p.start:
        return None
    return before


def last_completed(cal: Calendar, at: float, back: int = 0) -> Period | None:
    """ "Last night": the last off-hours period of `cal` that had ended at `at` (a weekend is
    one period), or the `back`-th before it. The period running at `at` is never it: nobody
    can be late yet in a night that has not ended."""
    running = cal.period_at(at)
    p: Period | None
    if running is not None:
        p = _before(cal, running)
    else:
        span = cal.span(datetime.fromtimestamp(at, cal.tz).date())
        p = cal.period_at((span[0] if span else at) - 1)
    for _ in range(back):
        if p is None:
            break
        p = _before(cal, p)
    return p


def in_progress(compliance: Compliance, at: float) -> list[dict[str, Any]]:
    """The off-hours periods running at `at` (per calendar in use), labelled as such: shown
    beside last night, never judged."""
    out = []
    for name, cal in sorted(compliance.calendars.items()):
        p = cal.period_at(at)
        if p is not None:
            out.append({"calendar": name, "period_day": p.day, "period_kind": p.kind})
    return out


def host_verdicts(
    ledger: Ledger,
    compliance: Compliance,
    rules: Rules,
    at: float,
    back: int = 0,
    hosts: list[tuple[Any, ...]] | None = None,
) -> list[dict[str, Any]]:
    """One verdict per non-exempt known host for the last completed off-hours period of its
    calendar at `at` (or the `back`-th before it), judged over the whole period. `hosts`:
    judged_hosts(), when several periods are judged in a row."""
    if hosts is None:
        hosts = judged_hosts(ledger, compliance)
    by_cal: dict[str, Period | None] = {}
    wanted: dict[float, list[tuple[Any, ...]]] = defaultdict(list)
    for hid, name, kind, site, dept, first_seen, cal in hosts:
        if cal.name not in by_cal:
            by_cal[cal.name] = last_completed(cal, at, back)
        p = by_cal[cal.name]
        if p is None or first_seen >= p.end:
            continue  # not known yet then
        wanted[p.start].append((hid, name, kind, site or "", dept or "", p, p.end))
    out = []
    for start, members in wanted.items():
        rows = {
            r[0]: r[1:]
            for r in ledger.execute(
                "SELECT host_id, on_s, covered_s, wasted_wh, eur, kgco2e FROM host_periods "
                "WHERE period_start = ?",
                (start,),
            )
        }
        for hid, name, kind, site, dept, p, until in members:
            on_s, covered_s, wh, eur, kg = rows.get(hid, (0.0, 0.0, 0.0, 0.0, 0.0))
            out.append(
                {
                    "host_id": hid,
                    "hostname": name,
                    "kind": kind,
                    "site": site,
                    "department": dept,
                    "period_start": p.start,
                    "period_day": p.day,
                    "period_kind": p.kind,
                    "status": verdict(on_s, covered_s, until - p.start, rules),
                    "on_s": round(on_s, 1),
                    "wasted_kwh": wh / 1000.0,
                    "eur": eur,
                    "kgco2e": kg,
                }
            )
    return out


def judged_hosts(ledger: Ledger, compliance: Compliance) -> list[tuple[Any, ...]]:
    """The non-exempt hosts with their calendar: (id, name, kind, site, department,
    first seen, calendar), read once for every period judged."""

    out = []
    for hid, name, kind, site, dept, tags, first_seen in ledger.execute(
        "SELECT host_id, hostname, kind, site, department, tags, first_seen FROM hosts"
    ):
        e = Entity(
            id=hid, name=name, kind=kind, site=site, department=dept, tags=json.loads(tags or "{}")
        )
        if not compliance.exempt(e):
            out.append(
                (hid, name, kind, site, dept, first_seen, compliance.calendar_for(site, dept))
            )
    return out


def _trend_point(
    ledger: Ledger, rules: Rules, hosts: list[tuple[Any, ...]], at: float, back: int
) -> dict[str, Any] | None:
    """summary() of the `back`-th period before last night, counted in SQL (the same
    verdicts as host_verdicts: hosts without a row are unknown), for the trend."""
    groups: dict[str, tuple[Calendar, list[float]]] = {}
    for *_, first_seen, cal in hosts:
        groups.setdefault(cal.name, (cal, []))[1].append(first_seen)
    n = ok = bad = 0
    money = [0.0, 0.0, 0.0]
    days = []
    for name, (cal, firsts) in groups.items():
        p = last_completed(cal, at, back)
        if p is None:
            continue
        judged = sum(1 for f in firsts if f < p.end)
        if not judged:
            continue
        length = p.end - p.start
        row = ledger.execute(
            "SELECT SUM(CASE WHEN on_s > ? THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN on_s <= ? AND covered_s >= ? THEN 1 ELSE 0 END), "
            "SUM(wasted_wh), SUM(eur), SUM(kgco2e) FROM host_periods "
            "WHERE period_start = ? AND calendar = ?",
            (
                rules.tolerance_s,
                rules.tolerance_s,
                rules.coverage_min * length - 1e-6 if length > 0 else float("inf"),
                p.start,
                name,
            ),
        )[0]
        n += judged
        bad += int(row[0] or 0)
        ok += int(row[1] or 0)
        money = [
            money[0] + (row[2] or 0.0) / 1000.0,
            money[1] + (row[3] or 0.0),
            money[2] + (row[4] or 0.0),
        ]
        days.append(p.day)
    if not n:
        return None
    return {
        "period_day": max(days),
        "hosts": n,
        "compliant": ok,
        "noncompliant": bad,
        "unknown": n - ok - bad,
        "rate": round(ok / n, 4),
        "wasted_kwh": round(money[0], 3),
        "eur": round(money[1], 2),
        "kgco2e": round(money[2], 3),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, rate and waste of a set of host verdicts: the one summary every surface shows
    (the page's tiles, the API, the trend, /metrics, `status`)."""
    total = Counter(r["status"] for r in rows)
    n = len(rows)
    return {
        "hosts": n,
        "compliant": total["compliant"],
        "noncompliant": total["noncompliant"],
        "unknown": total["unknown"],
        "rate": round(total["compliant"] / n, 4) if n else None,
        "wasted_kwh": round(sum(r["wasted_kwh"] for r in rows), 3),
        "eur": round(sum(r["eur"] for r in rows), 2),
        "kgco2e": round(sum(r["kgco2e"] for r in rows), 3),
    }


def last_night(ledger: Ledger, compliance: Compliance, rules: Rules, at: float) -> dict[str, Any]:
    """Last night's verdict as `status` and /api/v1/status carry it: the same rows and
    summary as the morning report and the /night page, with the period in progress named."""
    rows = host_verdicts(ledger, compliance, rules, at)
    return {
        "judged": "last completed off-hours period of each site's calendar",
        "periods": [list(p) for p in sorted({(r["period_day"], r["period_kind"]) for r in rows})],
        "in_progress": in_progress(compliance, at),
        **summary(rows),
    }


def _rates(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    money: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in rows:
        groups[r[key]][r["status"]] += 1
        m = money[r[key]]
        m[0] += r["wasted_kwh"]
        m[1] += r["eur"]
        m[2] += r["kgco2e"]
    out = []
    for k in sorted(groups):
        c = groups[k]
        total = sum(c.values())
        out.append(
            {
                key: k,
                "hosts": total,
                "compliant": c["compliant"],
                "noncompliant": c["noncompliant"],
                "unknown": c["unknown"],
                "rate": round(c["compliant"] / total, 4) if total else None,
                "wasted_kwh": round(money[k][0], 3),
                "eur": round(money[k][1], 2),
                "kgco2e": round(money[k][2], 3),
            }
        )
    return out


def previous_periods(cal: Calendar, period: Period, n: int) -> list[float]:
    """Start times of `period` and the n − 1 off-hours periods before it, newest first."""
    starts = [period.start]
    p = period
    for _ in range(n - 1):
        before = cal.period_at(p.start - 1)
        if before is None:  # the working day before it: step over that day
            d = datetime.fromtimestamp(p.start - 1, cal.tz).date()
            span = cal.span(d)
            before = cal.period_at((span[0] if span else p.start - 86400) - 1)
        if before is None:
            break
        starts.append(before.start)
        p = before
    return starts


def repeat_runs(
    ledger: Ledger,
    left_on: list[dict[str, Any]],
    compliance: Compliance,
    rules: Rules,
    depth: int = 31,
) -> dict[str, int]:
    """Non-compliant periods running, newest first, per host left on: one query per calendar
    period set (not per host), so it stays fast for 100,000 hosts."""
    out: dict[str, int] = {}
    groups: dict[tuple[float, ...], list[str]] = defaultdict(list)
    for r in left_on:
        cal = compliance.calendar_for(r["site"], r["department"])
        p = cal.period_at(r["period_start"] + 1)
        starts = tuple(previous_periods(cal, p, depth)) if p else (r["period_start"],)
        groups[starts].append(r["host_id"])
    for starts, hosts in groups.items():
        marks = ",".join("?" * len(starts))
        bad: dict[str, set[float]] = defaultdict(set)
        for hid, ps in ledger.execute(
            f"SELECT host_id, period_start FROM host_periods WHERE period_start IN ({marks}) "
            "AND on_s > ?",
            (*starts, rules.tolerance_s),
        ):
            bad[hid].add(ps)
        for hid in hosts:
            n = 0
            for st in starts:
                if st not in bad[hid]:
                    break
                n += 1
            out[hid] = n
    return out


def morning_report(
    ledger: Ledger,
    compliance: Compliance,
    rules: Rules,
    at: float,
    language: str = "fr",
    trend_periods: int = 7,
    duplicate_min_s: float = 3600.0,
    policy: Any = None,
) -> dict[str, Any]:
    """`policy`: the PolicyConfig, for the sleep policy's night and month (when enabled)."""
    hosts = judged_hosts(ledger, compliance)
    rows = host_verdicts(ledger, compliance, rules, at, hosts=hosts)
    duplicates = [
        {"hostname": h, "site": site, "department": dept, "hours": round(d / 3600, 1)}
        for h, site, dept, d in ledger.execute(
            "SELECT hostname, site, department, duplicate_s FROM hosts WHERE duplicate_s >= ? "
            "ORDER BY duplicate_s DESC, hostname",
            (duplicate_min_s,),
        )
    ]
    left_on = sorted((r for r in rows if r["status"] == "noncompliant"), key=lambda r: -r["on_s"])
    runs = repeat_runs(ledger, left_on, compliance, rules)
    for r in left_on:
        r["periods_running"] = runs.get(r["host_id"], 1)
    starts = sorted({r["period_start"] for r in rows})
    blockers: Counter[tuple[str, str]] = Counter()
    for s in starts:
        for app, what, n in ledger.execute(
            "SELECT app, what, COUNT(DISTINCT host_id) FROM period_blockers "
            "WHERE period_start = ? GROUP BY app, what",
            (s,),
        ):
            blockers[(app, what)] += int(n)
    tz = compliance.calendar_for(None, None).tz
    # the trend: the same verdicts, period by period back from the report's own, so its last
    # point is the summary (it ends at the report's period, whatever newer ones the ledger has)
    trend = []
    for back in range(trend_periods - 1, 0, -1):
        point = _trend_point(ledger, rules, hosts, at, back)
        if point is not None:
            trend.append(point)
    if rows:
        trend.append({"period_day": max(r["period_day"] for r in rows), **summary(rows)})
    return {
        "language": language,
        "generated_at": datetime.fromtimestamp(at, tz).isoformat(timespec="seconds"),
        "periods": sorted({(r["period_day"], r["period_kind"]) for r in rows}),
        "judged": "last completed off-hours period of each site's calendar",
        "in_progress": in_progress(compliance, at),
        "summary": summary(rows),
        "by_site": _rates(rows, "site"),
        "by_department": _rates(rows, "department"),
        "by_kind": _rates(rows, "kind"),
        "left_on": [
            {
                k: (round(v, 4) if isinstance(v, float) else v)
                for k, v in r.items()
                if k not in ("period_start", "status")
            }
            for r in left_on
        ],
        "repeat_offenders": [
            {
                "hostname": r["hostname"],
                "site": r["site"],
                "department": r["department"],
                "periods_running": r["periods_running"],
            }
            for r in left_on
            if r["periods_running"] >= rules.repeat_offender_periods
        ],
        "top_blockers": [
            {"app": a, "what": w, "hosts": c} for (a, w), c in blockers.most_common(10)
        ],
        "trend": trend,
        "duplicate_identities": duplicates,
        "policy": _policy_section(ledger, policy, rules, rows, at, tz)
        if policy is not None and policy.enabled
        else None,
    }


def _policy_section(
    ledger: Ledger, policy: Any, rules: Rules, rows: list[dict[str, Any]], at: float, tz: Any
) -> dict[str, Any]:
    """What the sleep policy did in the reported periods (counts, by mode), and the savings
    of the month so far against the baseline (collector/policy/savings.py)."""

    days = sorted({r["period_day"] for r in rows})
    counts: dict[str, dict[str, int]] = {}
    if days:
        marks = ",".join("?" * len(days))
        for mode, event, n in ledger.execute(
            f"SELECT mode, event, SUM(n) FROM policy_events WHERE day IN ({marks}) "
            "GROUP BY mode, event ORDER BY mode, event",
            days,
        ):
            counts.setdefault(mode, {})[event] = int(n)
    today = datetime.fromtimestamp(at, tz).date()
    month = [
        r.to_json()
        for r in savings(
            ledger,
            policy,
            rules.tariff_eur_per_kwh,
            today.replace(day=1).isoformat(),
            today.isoformat(),
        )
    ]
    return {"events": counts, "month": month}


def rates_between(
    ledger: Ledger, rules: Rules, first_day: str, last_day: str, by: str
) -> list[dict[str, Any]]:
    """Compliance over several periods (a week, a month): host-periods of periods starting
    between the two local days, grouped by site, department or kind. Counts only the
    host-periods reported; `rate` is compliant / reported."""
    if by not in ("site", "department", "kind"):
        raise ValueError("by: site, department or kind")
    rows = ledger.execute(
        f"SELECT {by}, COUNT(*), "
        "SUM(CASE WHEN on_s > ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN on_s <= ? AND covered_s >= ? * (period_end - period_start) "
        "THEN 1 ELSE 0 END), SUM(wasted_wh), SUM(eur), SUM(kgco2e) FROM host_periods "
        f"WHERE day >= ? AND day <= ? GROUP BY {by} ORDER BY {by}",
        (rules.tolerance_s, rules.tolerance_s, rules.coverage_min - 1e-9, first_day, last_day),
    )
    return [
        {
            by: k,
            "host_periods": int(n),
            "noncompliant": int(bad or 0),
            "compliant": int(ok or 0),
            "unknown": int(n) - int(bad or 0) - int(ok or 0),
            "rate": round(int(ok or 0) / int(n), 4) if n else None,
            "wasted_kwh": round((wh or 0) / 1000, 3),
            "eur": round(eur or 0, 2),
            "kgco2e": round(kg or 0, 3),
        }
        for k, n, bad, ok, wh, eur, kg in rows
    ]


# -- rendering ------------------------------------------------------------------------------

WORDS = {
    "fr": {
        "title": "Rapport du matin : machines restées allumées hors des heures de travail",
        "rate": "Taux de conformité",
        "hosts": "machines",
        "left_on": "Restées allumées",
        "none": "aucune",
        "wasted": "Gaspillage",
        "by_site": "Par site",
        "by_dept": "Par direction",
        "repeat": "Récidivistes",
        "blockers": "Applications empêchant la mise en veille",
        "trend": "Tendance",
        "periods_running": "périodes de suite",
        "unknown": "inconnues",
        "hours": "h",
        "duplicates": "Identités d'agent dupliquées (image clonée ? comptées une fois ; "
        "supprimer agent_id et state.json sur les copies)",
        "duplicated_hours": "h en double",
        "policy": "Mise en veille automatique (cette nuit ; économies du mois)",
        "mode_active": "active",
        "mode_advise": "conseil (rien n'est fait)",
        "mode_off": "désactivée",
        "ev_acted": "mises en veille",
        "ev_advised": "mises en veille conseillées",
        "ev_warned": "avertissements",
        "ev_withdrawn": "avertissements retirés",
        "ev_postponed": "reports d'une heure",
        "ev_declined": "« pas ce soir »",
        "ev_blocked": "empêchées par un bloqueur",
        "ev_opted_out": "exemptions",
        "ev_failed": "refusées par le système",
        "ev_wake_sent": "réveils relayés",
        "avoided": "évité",
        "advised": "en mode conseil, aurait évité",
        "no_baseline": "pas de période de référence",
    },
    "en": {
        "title": "Morning report: machines left on outside working hours",
        "rate": "Compliance rate",
        "hosts": "machines",
        "left_on": "Left on",
        "none": "none",
        "wasted": "Waste",
        "by_site": "By site",
        "by_dept": "By department",
        "repeat": "Repeat offenders",
        "blockers": "Applications keeping machines awake",
        "trend": "Trend",
        "periods_running": "periods running",
        "unknown": "unknown",
        "hours": "h",
        "duplicates": "Duplicated agent identities (a cloned image? counted once; delete "
        "agent_id and state.json on the copies)",
        "duplicated_hours": "h reported twice",
        "policy": "Automatic sleep (last night; savings this month)",
        "mode_active": "active",
        "mode_advise": "advise (nothing done)",
        "mode_off": "off",
        "ev_acted": "put to sleep",
        "ev_advised": "would have slept",
        "ev_warned": "warnings",
        "ev_withdrawn": "warnings withdrawn",
        "ev_postponed": "postponed one hour",
        "ev_declined": '"not tonight"',
        "ev_blocked": "held by a blocker",
        "ev_opted_out": "opted out",
        "ev_failed": "refused by the system",
        "ev_wake_sent": "wakes relayed",
        "avoided": "avoided",
        "advised": "in advise mode, would have avoided",
        "no_baseline": "no baseline period",
    },
}


def _number(x: float, digits: int, language: str) -> str:
    """French writes 82,2 and 1 234,56 (a narrow no-break space between thousands)."""
    text = f"{x:,.{digits}f}"
    if language == "fr":
        return text.replace(",", "\u202f").replace(".", ",")
    return text


def to_text(rep: dict[str, Any], language: str | None = None) -> str:
    lang = language or rep.get("language", "fr")
    w = WORDS[lang]
    s = rep["summary"]

    def _pct(x: float | None) -> str:
        return "—" if x is None else f"{_number(x * 100, 1, lang)} %"

    def n2(x: float) -> str:
        return _number(x, 2, lang)

    def left_on(n: int) -> str:
        # French agrees in number ("0 ou 1 restée allumée", "2 restées allumées")
        if lang == "fr":
            return "restée allumée" if n <= 1 else "restées allumées"  # 0 and 1: singular
        return w["left_on"].lower()

    lines = [
        f"**{w['title']}**",
        "",
        f"{w['rate']} : {_pct(s['rate'])} ({s['compliant']}/{s['hosts']} {w['hosts']}, "
        f"{s['unknown']} {w['unknown']})",
        f"{w['left_on']} : {s['noncompliant']} — {w['wasted']} {n2(s['wasted_kwh'])} kWh, "
        f"{n2(s['eur'])} €, {n2(s['kgco2e'])} kgCO2e",
        "",
        f"{w['by_site']} :",
    ]
    for g in rep["by_site"]:
        lines.append(
            f"- {g['site'] or '?'} : {_pct(g['rate'])} ({g['noncompliant']} "
            f"{left_on(g['noncompliant'])})"
        )
    lines += ["", f"{w['by_dept']} :"]
    for g in rep["by_department"]:
        lines.append(
            f"- {g['department'] or '?'} : {_pct(g['rate'])} ({g['noncompliant']} "
            f"{left_on(g['noncompliant'])})"
        )
    lines += ["", f"{w['left_on']} :"]
    for r in rep["left_on"][:50] or [{"hostname": w["none"]}]:
        if "on_s" not in r:
            lines.append(f"- {r['hostname']}")
            continue
        lines.append(
            f"- {r['hostname']} ({r['site']}, {r['department']}) : "
            f"{_number(r['on_s'] / 3600, 1, lang)} {w['hours']}, {n2(r['wasted_kwh'])} kWh, "
            f"{n2(r['eur'])} €, {_number(r['kgco2e'], 3, lang)} kgCO2e"
        )
    if rep["repeat_offenders"]:
        lines += ["", f"{w['repeat']} :"]
        lines += [
            f"- {r['hostname']} : {r['periods_running']} {w['periods_running']}"
            for r in rep["repeat_offenders"]
        ]
    if rep["top_blockers"]:
        lines += ["", f"{w['blockers']} :"]
        lines += [f"- {b['app']} ({b['what']}) : {b['hosts']}" for b in rep["top_blockers"]]
    if rep.get("duplicate_identities"):
        lines += ["", f"{w['duplicates']} :"]
        lines += [
            f"- {d['hostname']} ({d['site']}, {d['department']}) : "
            f"{_number(d['hours'], 1, lang)} {w['duplicated_hours']}"
            for d in rep["duplicate_identities"][:50]
        ]
    pol = rep.get("policy")
    if pol:
        lines += ["", f"{w['policy']} :"]
        for mode, counts in pol["events"].items() or [("", {})]:
            said = ", ".join(f"{w.get('ev_' + k, k)} {v}" for k, v in sorted(counts.items()))
            lines.append(f"- {w['mode_' + mode] if mode else ''} : {said or w['none']}")
        for m in pol["month"]:
            avoided = m["avoided_kwh"]
            lines.append(
                f"- {m['department'] or '?'} ({m['month']}) : {w['avoided']} "
                + (
                    f"{n2(avoided)} kWh, {n2(m['avoided_eur'])} €, "
                    f"{_number(m['avoided_kgco2e'], 3, lang)} kgCO2e"
                    if avoided is not None
                    else w["no_baseline"]
                )
                + (f" ; {w['advised']} {n2(m['advised_kwh'])} kWh" if m["advised_kwh"] else "")
            )
    if rep["trend"]:
        lines += ["", f"{w['trend']} :"]
        lines += [f"- {t['period_day']} : {_pct(t['rate'])}" for t in rep["trend"]]
    text = "\n".join(lines) + "\n"
    if lang != "fr":
        # the space before a colon is French typography only
        text = re.sub(r" :( |$)", r":\1", text, flags=re.M)
    return text


def to_csv(rep: dict[str, Any]) -> str:
    buf = io.StringIO()
    fields = [
        "hostname",
        "site",
        "department",
        "kind",
        "period_day",
        "period_kind",
        "on_s",
        "wasted_kwh",
        "eur",
        "kgco2e",
        "periods_running",
    ]
    wr = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    wr.writeheader()
    for r in rep["left_on"]:
        wr.writerow(r)
    return buf.getvalue()


def report_time(day: date, hhmm: str, cal: Calendar) -> float:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, dtime(h, m), cal.tz).timestamp()


def previous_working_day(cal: Calendar, day: date) -> date:
    d = day - timedelta(days=1)
    while cal.span(d) is None:
        d -= timedelta(days=1)
    return d
