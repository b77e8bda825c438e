"""Site calendars: when is it working time, and which off-hours period is a moment in?

A calendar is local time in a zone (Europe/Paris by default; DST through zoneinfo, never a
fixed offset): working ranges per weekday, French public holidays from the `holidays` package
(with a subdivision for Alsace-Moselle's extra days), closure periods, weekly maintenance
windows (being on is expected then), and a grace period after the end of each working day.

Off-hours are the time outside a working day's span (its first range start to its last range
end); gaps between ranges of the same day (lunch) are neither working time nor off-hours. An
off-hours *period* is a maximal run of off-hours: a night, a whole weekend, a holiday bridge,
a closure. It is named by the local date it starts on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([0-2]?\d):([0-5]\d)-([0-2]?\d):([0-5]\d)$")


def parse_range(text: str) -> tuple[float, float]:
    """'08:00-12:30' → (8.0, 12.5) hours. An end before the start crosses midnight."""
    m = _RANGE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    a = int(m.group(1)) + int(m.group(2)) / 60
    b = int(m.group(3)) + int(m.group(4)) / 60
    if a > 24 or b > 24:
        raise ValueError(f"{text!r}: hours go up to 24:00")
    return a, b


@dataclass(frozen=True)
class Maintenance:
    weekday: int  # 0 = Monday
    start_h: float
    end_h: float  # may be <= start_h: crosses midnight into the next day


@dataclass(frozen=True)
class Period:
    """One off-hours period: [start, end) in POSIX seconds; `day` is its local start date."""

    start: float
    end: float
    day: str
    kind: str  # night | weekend | holiday | closure


@dataclass(frozen=True)
class Part:
    """The piece of an interval inside one period, and how much of it is excused."""

    period: Period
    start: float
    end: float
    excused: float  # seconds within grace or a maintenance window


@dataclass
class Calendar:
    name: str
    timezone: str = "Europe/Paris"
    working: dict[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    holiday_country: str | None = "FR"
    holiday_subdiv: str | None = None
    closures: tuple[tuple[date, date], ...] = ()
    maintenance: tuple[Maintenance, ...] = ()
    grace_s: float = 1800.0

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)
        self._holidays: dict[int, set[date]] = {}
        self._spans: dict[date, tuple[float, float] | None] = {}
        self._periods: dict[date, Period] = {}
        # hour (POSIX seconds // 3600) -> the region that holds all of it: a working span
        # (start, end, None) or an off-hours period (start, end, period). Every agent report
        # asks; without it each asks the time zone for the local date.
        self._hours: dict[int, tuple[float, float, Period | None]] = {}

    # -- days --------------------------------------------------------------------------------

    def _at(self, d: date, hours: float) -> float:
        """POSIX time of local `hours` on day `d` (24 means next midnight)."""
        whole = int(hours)
        minutes = round((hours - whole) * 60)
        if whole >= 24:
            return datetime.combine(d + timedelta(days=1), dtime(0), self.tz).timestamp()
        return datetime.combine(d, dtime(whole, minutes), self.tz).timestamp()

    def is_holiday(self, d: date) -> bool:
        if not self.holiday_country:
            return False
        year = self._holidays.get(d.year)
        if year is None:
            import holidays

            h = holidays.country_holidays(
                self.holiday_country, subdiv=self.holiday_subdiv, years=d.year
            )
            year = self._holidays[d.year] = set(h)
        return d in year

    def is_closed(self, d: date) -> bool:
        return any(a <= d <= b for a, b in self.closures)

    def day_type(self, d: date) -> str:
        if self.is_closed(d):
            return "closure"
        if self.is_holiday(d):
            return "holiday"
        if not self.working.get(d.weekday()):
            return "weekend"
        return "work"

    def span(self, d: date) -> tuple[float, float] | None:
        """Working span of day `d` (first range start, last range end), None if not working."""
        if d in self._spans:
            return self._spans[d]
        sp = None
        if self.day_type(d) == "work":
            ranges = self.working[d.weekday()]
            sp = self._at(d, min(a for a, _ in ranges)), self._at(d, max(b for _, b in ranges))
        self._spans[d] = sp
        return sp

    def is_working(self, t: float) -> bool:
        d = datetime.fromtimestamp(t, self.tz).date()
        if self.day_type(d) != "work":
            return False
        return any(self._at(d, a) <= t < self._at(d, b) for a, b in self.working[d.weekday()])

    # -- periods -----------------------------------------------------------------------------

    def period_at(self, t: float) -> Period | None:
        """The off-hours period containing `t`, or None during a working day's span."""
        return self._region(t)[2]

    def _region(self, t: float) -> tuple[float, float, Period | None]:
        """The working span (start, end, None) or off-hours period (start, end, period) that
        holds `t`; remembered for a whole hour that lies inside it."""
        hour = int(t // 3600)
        region = self._hours.get(hour)
        if region is not None:
            return region
        d = datetime.fromtimestamp(t, self.tz).date()
        sp = self.span(d)
        if sp is not None and sp[0] <= t < sp[1]:
            region = (sp[0], sp[1], None)
        else:
            p = self._period(d if sp is None or t >= sp[1] else d - timedelta(days=1), t)
            region = (p.start, p.end, p)
        if region[0] <= hour * 3600.0 and (hour + 1) * 3600.0 <= region[1]:
            if len(self._hours) > 100_000:  # ~11 years of hours: a bound, never reached
                self._hours.clear()
            self._hours[hour] = region
        return region

    def _period(self, d: date, t: float) -> Period:
        # walk back to the working day whose end starts this period, forward to the next start
        start_day = d
        for _ in range(400):
            sp = self.span(start_day)
            if sp is not None and sp[1] <= t:
                break
            start_day -= timedelta(days=1)
        cached = self._periods.get(start_day)
        if cached is not None:
            return cached
        sp = self.span(start_day)
        start = sp[1] if sp else self._at(start_day, 0)
        end_day = start_day + timedelta(days=1)
        kinds = set()
        for _ in range(400):
            sp = self.span(end_day)
            if sp is not None:
                break
            kinds.add(self.day_type(end_day))
            end_day += timedelta(days=1)
        end = sp[0] if sp else self._at(end_day, 0)
        kind = (
            "closure"
            if "closure" in kinds
            else "holiday"
            if "holiday" in kinds
            else "weekend"
            if "weekend" in kinds
            else "night"
        )
        period = self._periods[start_day] = Period(start, end, start_day.isoformat(), kind)
        return period

    def excused(self, period: Period, a: float, b: float) -> float:
        """Seconds of [a, b) inside the grace after the period start or a maintenance window."""
        total = max(0.0, min(b, period.start + self.grace_s) - max(a, period.start))
        for w in self.maintenance_windows(a, b):
            lo, hi = max(a, w[0], period.start + self.grace_s), min(b, w[1])
            total += max(0.0, hi - lo)
        return min(total, b - a)

    def maintenance_windows(self, a: float, b: float) -> list[tuple[float, float]]:
        if not self.maintenance:
            return []
        out = []
        d = datetime.fromtimestamp(a, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b, self.tz).date()
        while d <= last:
            for m in self.maintenance:
                if m.weekday == d.weekday():
                    end_day = d if m.end_h > m.start_h else d + timedelta(days=1)
                    out.append((self._at(d, m.start_h), self._at(end_day, m.end_h)))
            d += timedelta(days=1)
        return out

    def parts(self, a: float, b: float) -> list[Part]:
        """Split [a, b) into its pieces inside off-hours periods."""
        out: list[Part] = []
        t = a
        while t < b:
            _, end, p = self._region(t)
            hi = min(b, end)
            if p is not None:  # else inside a working span: skip to its end
                out.append(Part(p, t, hi, self.excused(p, t, hi)))
            t = hi
        return out
