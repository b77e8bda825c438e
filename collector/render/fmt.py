"""Numbers, percentages, months, dates and units as a French or English reader writes them,
all from CLDR through Babel (fr_FR: narrow no-break space between thousands, decimal comma,
"42,3 %"; dates in words, "2 décembre 2026"). Nothing here is formatted by hand except the
unit symbols CLDR does not have (kgCO₂e), joined to their number by a no-break space."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from html import escape

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_decimal, format_percent

LANGS = ("fr", "en")
LOCALES = {"fr": "fr_FR", "en": "en_GB"}
NBSP = "\u00a0"  # between a number and its unit: never broken across lines
NNBSP = "\u202f"


@cache
def _percent_pattern(lang: str, digits: int) -> str:
    """The locale's own percent pattern ("#,##0 %" in French) with `digits` decimals."""
    pattern = Locale.parse(LOCALES[lang]).percent_formats[None].pattern
    return pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits else ""), 1)


def num(x: float | int | None, lang: str, digits: int = 0) -> str:
    """1 234,5 (fr) or 1,234.5 (en); an en dash for a figure that does not exist."""
    if x is None:
        return "–"
    if round(x, digits) == 0:
        x = 0  # a tiny negative is not written "-0,0"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(x, pattern, locale=LOCALES[lang]))


def pct(x: float | None, lang: str, digits: int = 1) -> str:
    if x is None:
        return "–"
    if round(x * 100, digits) == 0:
        x = 0.0
    return str(format_percent(x, _percent_pattern(lang, digits), locale=LOCALES[lang]))


def signed_pct(x: float | None, lang: str, digits: int = 1) -> str:
    if x is None:
        return "–"
    text = pct(x, lang, digits)
    return "+" + text if round(x * 100, digits) > 0 else text


def signed_num(x: float | None, lang: str, digits: int = 0) -> str:
    """+1 234 or -56: a change says its direction."""
    if x is None:
        return "–"
    text = num(x, lang, digits)
    return "+" + text if round(x, digits) > 0 else text


def month(m: str, lang: str) -> str:
    """'2026-03' → 'mars' / 'Mar' (CLDR's abbreviated month)."""
    return str(format_skeleton("MMM", date(int(m[:4]), int(m[5:7]), 1), locale=LOCALES[lang]))


def long_date(d: date | datetime | str, lang: str) -> str:
    """'2026-12-02' → '2 décembre 2026' / '2 December 2026'."""
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return str(format_date(d, "long", locale=LOCALES[lang]))


def moment(t: datetime, lang: str) -> str:
    """A moment in words, in `t`'s own time zone: '23 novembre 2026 à 18:45' / '23 November
    2026 at 18:45' (CLDR's long date and short time, joined as the locale joins them)."""
    loc = Locale.parse(LOCALES[lang])
    pattern = (
        str(loc.datetime_formats["long"])
        .replace("{1}", loc.date_formats["long"].pattern)
        .replace("{0}", loc.time_formats["short"].pattern)
    )
    return str(format_datetime(t, pattern, tzinfo=t.tzinfo, locale=LOCALES[lang]))


def unit(x: float | int | None, symbol: str, lang: str, digits: int = 0) -> str:
    """A number and its unit joined by a no-break space: '1 234 kWh'."""
    return f"{num(x, lang, digits)}{NBSP}{symbol}" if x is not None else "–"


def energy(kwh: float | None, lang: str) -> str:
    """kWh, or MWh once the kWh would run to six digits or more (orders of magnitude people use)."""
    if kwh is None:
        return "–"
    if abs(kwh) >= 100_000:
        return unit(kwh / 1000, "MWh", lang, 1)
    return unit(kwh, "kWh", lang)


def co2(kg: float | None, lang: str) -> str:
    """Totals in t CO₂e from 10 t up, kg CO₂e below."""
    if kg is None:
        return "–"
    if abs(kg) >= 10_000:
        return unit(kg / 1000, "t" + NBSP + "CO₂e", lang, 1)
    return unit(kg, "kg" + NBSP + "CO₂e", lang)


def esc(x: object) -> str:
    return escape(str(x), quote=True)
