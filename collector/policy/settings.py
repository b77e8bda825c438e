"""The `policy` section of the collector's configuration (docs/collector-config.md), and the
parsing of its values (baseline days, wake times, tags), checked when the file is loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from energy_common.configspec import opt, section

OFFICE_KINDS = ["desktop", "laptop", "thin_client", "workstation"]


@dataclass
class PolicyRuleConfig:
    name: str = opt("default", "Rule name: reports, counts and the savings name it.")
    sites: list[str] = opt([], "Sites the rule applies to; empty: every site.")
    departments: list[str] = opt([], "Departments the rule applies to; empty: every one.")
    kinds: list[str] = opt(OFFICE_KINDS, "Device kinds it applies to.")
    tags: list[str] = opt([], "Tags (key=value) a machine must all carry; empty: any.")
    mode: str = opt(
        "advise",
        "`advise`: the agents only report what they would have done (see the savings first); "
        "`active`: they warn, then act; `off`: nothing.",
        choices=("off", "advise", "active"),
    )
    action: str = opt(
        "sleep",
        "What the agent does: `sleep` (suspend to RAM), `hibernate`, `shutdown` (power off; "
        "a PC with Fast Startup or Modern Standby may then not wake on LAN).",
        choices=("sleep", "hibernate", "shutdown"),
    )
    idle_minutes: float = opt(
        30.0,
        "Minutes without user input, inside off-hours, before the warning.",
        minimum=0.1,
    )
    warn_minutes: float = opt(
        5.0, "Minutes the warning is shown before the action; 0: no warning.", minimum=0
    )
    postpone_minutes: float = opt(
        60.0, 'What "postpone" gives the user.', minimum=0.1, maximum=1440
    )
    allow_not_tonight: bool = opt(True, 'Offer "not tonight" (until the next working day).')
    honour_blockers: list[str] = opt(
        ["*"],
        "Sleep blockers that hold the action: patterns (fnmatch, case-insensitive) on the "
        "blocking application or its kind (`Teams.exe`, `display:*`, `execution:service`); "
        "`*`: every blocker; empty: none. With blockers unreadable, a rule that honours any "
        "does not act.",
    )
    start_delay_minutes: float = opt(
        0.0,
        "Minutes after the off-hours start (and the calendar's grace) before the rule may act.",
        minimum=0,
    )


@dataclass
class OptOutConfig:
    agent_id: str = opt("", "The machine's agent id (the ops view and the morning report show it).")
    until: str = opt("", "Last day of the opt-out (YYYY-MM-DD, local), at most a year ahead.")
    reason: str = opt("", "Why (kept in the configuration only).")


@dataclass
class WakeJobConfig:
    name: str = opt("patch", "Job name (metrics and logs).")
    at: str = opt(
        "sat 02:00",
        "When: `<days> HH:MM` every week (days as `mon-fri`, `sat`, `mon,wed`), local time "
        "of `ledger.timezone`; or one date-time `YYYY-MM-DDTHH:MM` (local).",
    )
    sites: list[str] = opt([], "Sites to wake; empty: every site.")
    departments: list[str] = opt([], "Departments to wake; empty: every one.")
    kinds: list[str] = opt(OFFICE_KINDS, "Device kinds to wake.")
    tags: list[str] = opt([], "Tags (key=value) a machine must all carry; empty: any.")
    rate_per_minute: float = opt(
        30.0,
        "Magic packets per minute over the whole job, so a building's power and network "
        "are not hit at once.",
        minimum=0.1,
        maximum=6000,
    )


@dataclass
class WakeConfig:
    jobs: list[WakeJobConfig] = opt([], "Scheduled wake-ups (patch windows, deployments).")
    proxies_per_subnet: int = opt(
        2, "Awake agents asked to send each packet on the target's subnet.", minimum=1, maximum=8
    )
    proxy_fresh_s: float = opt(
        900.0,
        "A proxy must have reported this recently, and been on (active or idle), to be asked.",
        minimum=30,
    )
    retry_after_s: float = opt(
        600.0,
        "After this long, machines of the job that have not reported since it started are "
        "asked for again, through proxies not asked the first time where there are some; "
        "0: no retry.",
        minimum=0,
    )
    directed_broadcast: bool = opt(
        False,
        "Where no agent is awake on a subnet, send the packet from the collector to the "
        "subnet-directed broadcast address (routers must forward it: RFC 2644 makes that off "
        "by default).",
    )


@dataclass
class PolicyConfig:
    enabled: bool = opt(False, "Send off-hours sleep policies to the agents (docs/policy.md).")
    rules: list[PolicyRuleConfig] = opt(
        [], "Rules, first match wins (by site, department, kind, tags)."
    )
    exempt_tags: list[str] = opt(
        ["kiosk=true"],
        "Tags (key=value) that exempt a machine from every rule, on top of "
        "compliance.exempt_kinds and compliance.exempt_tags.",
    )
    opt_outs: list[OptOutConfig] = opt(
        [], "Machines ops exempted until a date (the agent then skips the policy)."
    )
    horizon_days: int = opt(
        7,
        "Days of off-hours windows sent ahead: an agent out of touch keeps following its "
        "calendar this long.",
        minimum=1,
        maximum=31,
    )
    baseline: str = opt(
        "",
        "The baseline period before the policy, `YYYY-MM-DD..YYYY-MM-DD` (local days): "
        "savings are what the off-hours would have used at its off-hours on-rate.",
    )
    baselines: dict[str, str] = opt(
        {}, "Department → its own baseline period (same format), where it differs."
    )
    wake: WakeConfig = section(WakeConfig, "Wake for maintenance.")

    def validate(self) -> None:
        """Raise ValueError naming the bad key (called by the configuration loader)."""
        names = set()
        for i, r in enumerate(self.rules):
            if r.name in names:
                raise ValueError(f"rules[{i}].name: {r.name!r} is used twice")
            names.add(r.name)
            tag_pairs(r.tags, f"rules[{i}].tags")
        tag_pairs(self.exempt_tags, "exempt_tags")
        for i, o in enumerate(self.opt_outs):
            if not o.agent_id:
                raise ValueError(f"opt_outs[{i}].agent_id: empty")
            try:
                until = date.fromisoformat(o.until)
            except ValueError:
                raise ValueError(f"opt_outs[{i}].until: {o.until!r} is not YYYY-MM-DD") from None
            if until > date.today() + timedelta(days=400):
                raise ValueError(f"opt_outs[{i}].until: more than a year ahead")
        if self.baseline:
            parse_days(self.baseline, "baseline")
        for dept, text in self.baselines.items():
            parse_days(text, f"baselines.{dept}")
        jobs = set()
        for i, j in enumerate(self.wake.jobs):
            if j.name in jobs:
                raise ValueError(f"wake.jobs[{i}].name: {j.name!r} is used twice")
            jobs.add(j.name)
            parse_at(j.at, f"wake.jobs[{i}].at")
            tag_pairs(j.tags, f"wake.jobs[{i}].tags")


_WEEKLY = re.compile(r"^([a-z,\-]+)\s+([0-2]?\d):([0-5]\d)$")
_DAYS = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$")


def parse_days(text: str, where: str) -> tuple[date, date]:
    """'2026-09-01..2026-10-31' → (first, last) local days."""
    a, sep, b = text.partition("..")
    try:
        if not sep:
            raise ValueError
        first, last = date.fromisoformat(a.strip()), date.fromisoformat(b.strip())
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not YYYY-MM-DD..YYYY-MM-DD") from None
    if last < first:
        raise ValueError(f"{where}: ends before it starts")
    return first, last


def tag_pairs(items: list[str], where: str) -> list[tuple[str, str]]:
    out = []
    for t in items:
        k, sep, v = t.partition("=")
        if not sep or not k:
            raise ValueError(f"{where}: {t!r} is not key=value")
        out.append((k, v))
    return out


def parse_at(text: str, where: str) -> dict[str, Any]:
    """`sat 02:00` / `mon-fri 22:30` → cron fields; `2026-12-05T02:00` → one date."""
    t = text.strip().lower()
    m = _WEEKLY.match(t)
    if m:
        days, hour, minute = m.group(1), int(m.group(2)), int(m.group(3))
        if hour > 23 or not all(_DAYS.match(d) for d in days.split(",")):
            raise ValueError(f"{where}: {text!r}: days as mon-fri or sat,sun; hours 00-23")
        return {"trigger": "cron", "day_of_week": days, "hour": hour, "minute": minute}
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{where}: {text!r} is neither '<days> HH:MM' nor 'YYYY-MM-DDTHH:MM'"
        ) from None
    return {"trigger": "date", "run_date": when}
