"""From the compliance configuration to Calendar objects, and which calendar a host follows."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from collector.compliance.calendar import Calendar, Maintenance, parse_range

if TYPE_CHECKING:
    from collector.config import CalendarConfig, ComplianceConfig

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
    from collector.config import CalendarConfig

    items = list(cfg.calendars) or [CalendarConfig()]
    cals = {c.name: build_calendar(c) for c in items}
    default = cfg.default_calendar
    if default not in cals:
        raise ValueError(f"default_calendar: no calendar named {default!r}")
    for section in ("sites", "departments"):
        for key, name in getattr(cfg, section).items():
            if name not in cals:
                raise ValueError(f"{section}.{key}: no calendar named {name!r}")
    for tag in cfg.exempt_tags:
        if "=" not in tag:
            raise ValueError(f"exempt_tags: {tag!r} is not key=value")
    return cals
