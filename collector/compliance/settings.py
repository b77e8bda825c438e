"""Settings of off-hours compliance (calendars, closures, maintenance windows, the morning
report's delivery), and from them the Calendar objects and which calendar a host follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from collector.compliance.calendar import Calendar, Maintenance, parse_range
from energy_common.configspec import opt, section

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def build_calendar(c: CalendarConfig) -> Calendar:
    """One CalendarConfig → Calendar; ValueError('calendars[…].key: …') on bad values."""
    name = c.name
    where = f"calendars[{name}]"
    working: dict[int, tuple[tuple[float, float], ...]] = {}
    for day, text in c.working_hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"{where}.working_hours.{day}: not a weekday (mon…sun)")
        try:
            ranges = tuple(parse_range(r) for r in text.split(",") if r.strip())
        except ValueError as exc:
            raise ValueError(f"{where}.working_hours.{day}: {exc}") from None
        if any(b <= a for a, b in ranges):
            raise ValueError(f"{where}.working_hours.{day}: a range ends before it starts")
        working[WEEKDAYS.index(day)] = ranges
    closures = []
    for i, cl in enumerate(c.closures):
        try:
            a, b = date.fromisoformat(cl.start), date.fromisoformat(cl.end)
        except ValueError:
            raise ValueError(f"{where}.closures[{i}]: dates are YYYY-MM-DD") from None
        if b < a:
            raise ValueError(f"{where}.closures[{i}]: end before start")
        closures.append((a, b))
    maintenance = []
    for i, m in enumerate(c.maintenance):
        try:
            lo, hi = parse_range(m.hours)
        except ValueError as exc:
            raise ValueError(f"{where}.maintenance[{i}].hours: {exc}") from None
        maintenance.append(Maintenance(WEEKDAYS.index(m.weekday), lo, hi))
    try:
        cal = Calendar(
            name,
            timezone=c.timezone,
            working=working,
            holiday_country=c.holidays_country,
            holiday_subdiv=c.holidays_subdiv,
            closures=tuple(closures),
            maintenance=tuple(maintenance),
            grace_s=c.grace_s,
        )
    except Exception as exc:  # unknown time zone
        raise ValueError(f"{where}.timezone: {exc}") from None
    try:
        cal.is_holiday(date.today())
    except Exception as exc:  # unknown country or subdivision
        raise ValueError(f"{where}.holidays_subdiv: {exc}") from None
    return cal


def build_calendars(cfg: ComplianceConfig) -> dict[str, Calendar]:
    items = list(cfg.calendars) or [CalendarConfig()]
    cals = {c.name: build_calendar(c) for c in items}
    default = cfg.default_calendar
    if default not in cals:
        raise ValueError(f"default_calendar: no calendar named {default!r}")
    for part in ("sites", "departments"):
        for key, name in getattr(cfg, part).items():
            if name not in cals:
                raise ValueError(f"{part}.{key}: no calendar named {name!r}")
    for tag in cfg.exempt_tags:
        if "=" not in tag:
            raise ValueError(f"exempt_tags: {tag!r} is not key=value")
    return cals


@dataclass
class ClosureConfig:
    start: str = opt("", "First closed day, YYYY-MM-DD.")
    end: str = opt("", "Last closed day, YYYY-MM-DD.")


@dataclass
class MaintenanceConfig:
    weekday: str = opt("tue", "Day the window starts.", choices=WEEKDAYS)
    hours: str = opt("22:00-02:00", "Local HH:MM-HH:MM; an end before the start crosses midnight.")


@dataclass
class CalendarConfig:
    name: str = opt("default", "Calendar name, referred to by `sites` and `departments`.")
    timezone: str = opt("Europe/Paris", "IANA time zone; DST follows it.")
    working_hours: dict[str, str] = opt(
        {
            "mon": "08:00-12:30,13:30-18:30",
            "tue": "08:00-12:30,13:30-18:30",
            "wed": "08:00-12:30,13:30-18:30",
            "thu": "08:00-12:30,13:30-18:30",
            "fri": "08:00-12:30,13:30-17:30",
        },
        "Weekday (mon…sun) → comma-separated HH:MM-HH:MM ranges; days left out are not worked.",
    )
    holidays_country: str | None = opt(
        "FR", "Public holidays of this country (`holidays` package); null for none."
    )
    holidays_subdiv: str | None = opt(
        None, "Subdivision, e.g. `57`, `67` or `68` for Alsace-Moselle's extra days."
    )
    closures: list[ClosureConfig] = opt([], "Closure periods (summer, Christmas).")
    maintenance: list[MaintenanceConfig] = opt(
        [], "Weekly windows when being on is expected (patch night, Wake-on-LAN)."
    )
    grace_s: float = opt(
        1800.0, "After the end of the working day, this long is not counted.", minimum=0
    )


@dataclass
class SmtpConfig:
    host: str | None = opt(None, "SMTP server; unset: no e-mail.")
    port: int = opt(587, "SMTP port.", minimum=1, maximum=65535)
    starttls: bool = opt(True, "Upgrade with STARTTLS.")
    ssl: bool = opt(False, "Implicit TLS (port 465) instead of STARTTLS.")
    username: str | None = opt(None, "Login.")
    password_file: str | None = opt(None, "File holding the password.")
    sender: str = opt("energie@example.org", "From address.")
    recipients: list[str] = opt([], "To addresses.")


@dataclass
class WebhookConfig:
    url: str = opt("", "URL to POST to.")
    format: str = opt(
        "json",
        '`json`: the report document; `text`: {"text": …} for '
        "Mattermost and Teams incoming webhooks.",
        choices=("json", "text"),
    )


@dataclass
class ReportConfig:
    time: str = opt("07:30", "Local time of the morning report on working days.")
    language: str = opt("fr", "Wording of the report.", choices=("fr", "en"))
    smtp: SmtpConfig = section(SmtpConfig, "E-mail delivery.")
    webhooks: list[WebhookConfig] = opt([], "Webhook deliveries.")
    retries: int = opt(5, "Delivery attempts before giving up (logged).", minimum=1)
    retry_delay_s: float = opt(60.0, "First retry delay; doubles each time.", minimum=0.01)


@dataclass
class ComplianceConfig:
    enabled: bool = opt(True, "Compute off-hours compliance.")
    default_calendar: str = opt("default", "Calendar for sites not listed in `sites`.")
    calendars: list[CalendarConfig] = opt(
        [], "Calendars; empty: one `default` calendar with the defaults above."
    )
    sites: dict[str, str] = opt({}, "Site → calendar name.")
    departments: dict[str, str] = opt({}, "Department → calendar name (overrides the site's).")
    exempt_kinds: list[str] = opt(["vm", "server"], "Device kinds expected on at night.")
    exempt_tags: list[str] = opt(
        ["always_on=true"],
        "Host tags (key=value) that exempt a machine (24/7 kiosks, security desks).",
    )
    tolerance_s: float = opt(
        900.0, "On-time per period allowed before it is non-compliant.", minimum=0
    )
    coverage_min: float = opt(
        0.9,
        "Share of a period the reports must cover for a verdict; "
        "below it (and compliant so far) the host-period is unknown. Also the share of a "
        "period each side of a datacenter's PUE (site and IT readings) must cover for the PUE "
        "to be given, on every surface (docs/snmp-profiles.md).",
        minimum=0,
        maximum=1,
    )
    tariff_eur_per_kwh: float = opt(0.20, "Electricity price for wasted euros.", minimum=0)
    repeat_offender_periods: int = opt(
        3, "Non-compliant periods running that make a repeat offender.", minimum=2
    )
    report: ReportConfig = section(ReportConfig, "The morning report.")

    def validate(self) -> None:
        build_calendars(self)
