"""The `policy` section of the collector's configuration (docs/collector-config.md)."""

from __future__ import annotations

from dataclasses import dataclass

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
        from collector.policy.documents import validate

        validate(self)
