"""The compliance room's JSON API: a morning report for any date, in JSON, CSV or text
(`/api/v1/compliance/report`), and compliance rates over a week or a month by site or
department (`/api/v1/compliance/rates`). Bad queries raise ValueError naming the parameter
(answered 400 by collector/web/routes.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from collector.compliance.calendar import Calendar
from collector.compliance.report import WORDS, Rules, rates_between, report_time, to_csv, to_text
from collector.compliance.settings import ComplianceConfig
from collector.ledger import Ledger

# the days a report may be asked for (the period walk goes a day or more either side)
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(9998, 12, 30)

Answer = tuple[int, bytes, str]  # status, body, content type


def report_route(
    cfg: ComplianceConfig,
    calendars: dict[str, Calendar],
    clock: Callable[[], float],
    report: Callable[[float, str], dict[str, Any]] | None,
    query: dict[str, str],
) -> Answer:
    """?date=YYYY-MM-DD&lang=fr|en&format=json|csv|text; `report` is None when compliance is
    disabled."""
    if report is None:
        return 404, b'{"error": "compliance is disabled"}', "application/json"
    at = clock()
    if "date" in query:
        cal = calendars[cfg.default_calendar]
        try:
            day = date.fromisoformat(query["date"])
        except ValueError:
            raise ValueError("date: use YYYY-MM-DD") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            # the calendar walks a day or two either side: year 1 or 9999 would overflow
            raise ValueError(f"date: between {FIRST_DAY} and {LAST_DAY}")
        at = report_time(day, cfg.report.time, cal)
        running = cal.period_at(at)
        if running is not None and running.day < day.isoformat():
            at = running.end  # that morning's report: about the night that ended it
    lang = query.get("lang", cfg.report.language)
    if lang not in WORDS:
        raise ValueError("lang: fr or en")
    rep = report(at, lang)
    fmt = query.get("format", "json")
    if fmt not in ("json", "csv", "text"):
        raise ValueError("format: json, csv or text")
    if fmt == "csv":
        return 200, to_csv(rep).encode(), "text/csv; charset=utf-8"
    if fmt == "text":
        return 200, to_text(rep, lang).encode(), "text/plain; charset=utf-8"
    return 200, json.dumps(rep, ensure_ascii=False).encode(), "application/json"


def rates_route(ledger: Ledger, rules: Callable[[], Rules], query: dict[str, str]) -> Answer:
    """Rates over a week or a month: ?from=YYYY-MM-DD&to=YYYY-MM-DD&by=site."""
    try:
        first = date.fromisoformat(query["from"]).isoformat()
        last = date.fromisoformat(query.get("to", query["from"])).isoformat()
    except (KeyError, ValueError):
        raise ValueError("from (and to): YYYY-MM-DD") from None
    by = query.get("by", "site")
    if by not in ("site", "department"):
        raise ValueError("by: site or department")
    rows = rates_between(ledger, rules(), first, last, by)
    return (
        200,
        json.dumps({"from": first, "to": last, "rates": rows}).encode(),
        "application/json",
    )
