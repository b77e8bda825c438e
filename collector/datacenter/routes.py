"""The datacenter room's JSON API: the PUE of a period (`/api/v1/datacenter/pue`) and the EU
indicators of a year (`/api/v1/datacenter/eu-report`). Bad queries raise ValueError naming
the parameter (answered 400 by collector/web/routes.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

from collector.datacenter.report import eu_report, pue_report
from collector.ledger import Ledger
from collector.yearly.settings import DatacenterYearConfig

Answer = tuple[int, bytes, str]  # status, body, content type


def pue_route(
    ledger: Ledger,
    tz: str,
    coverage_min: float,
    clock: Callable[[], float],
    query: dict[str, str],
) -> Answer:
    """?datacenter=dc1&period=hour|day|month|year&start=YYYY-MM-DD[THH][&room=R]
    [&category=1|2|3] (with room: that zone's partial PUE; category: the ISO/IEC 30134-2
    measurement point of IT energy, default the lowest present). A period in progress counts
    up to now; no PUE where a side covers less than `coverage_min` of it (`pue_missing`)."""
    period = query.get("period", "day")
    if period not in ("hour", "day", "month", "year"):
        raise ValueError("period: hour, day, month or year")
    if not query.get("datacenter"):
        raise ValueError("datacenter is required (a name from datacenter.sites)")
    _check_start(query.get("start"), period)
    cat = query.get("category")
    if cat is not None and cat not in ("1", "2", "3"):
        raise ValueError("category: 1 (UPS output), 2 (PDU output) or 3 (IT input)")
    doc = pue_report(
        ledger,
        query["datacenter"],
        period,
        query["start"],
        tz,
        room=query.get("room") or None,
        category=int(cat) if cat else None,
        coverage_min=coverage_min,
        now=clock(),
    )
    return 200, json.dumps(doc).encode(), "application/json"


_START = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}))?)?)?\Z")


def _check_start(start: str | None, period: str) -> None:
    """`start` names a real first hour of the period: YYYY-MM-DDTHH for an hour, YYYY-MM-DD
    for a day, YYYY-MM[-DD] for a month, YYYY[-MM[-DD]] for a year; years 1970 to 9998 (the
    calendar's arithmetic past them overflows)."""
    if start is None:
        raise ValueError("datacenter and start are required")
    m = _START.match(start)
    if m is None:
        raise ValueError("start: YYYY-MM-DD[THH] (YYYY-MM for a month, YYYY for a year)")
    year, month, day, hour = m.groups()
    if period == "hour" and hour is None:
        raise ValueError("start: YYYY-MM-DDTHH for an hour")
    if period == "day" and day is None:
        raise ValueError("start: YYYY-MM-DD for a day")
    if period == "month" and month is None:
        raise ValueError("start: YYYY-MM for a month")
    try:
        datetime(int(year), int(month or 1), int(day or 1), int(hour or 0))
    except ValueError:
        raise ValueError(f"start: {start} is no real date") from None
    if not 1970 <= int(year) <= 9998:
        raise ValueError("start: a year from 1970 to 9998")


def eu_route(
    ledger: Ledger,
    years: list[DatacenterYearConfig],
    tz: str,
    coverage_min: float,
    clock: Callable[[], float],
    query: dict[str, str],
) -> Answer:
    """?year=YYYY: PUE, WUE, ERF, REF per datacenter (Delegated Regulation 2024/1364)."""
    try:
        year = int(query["year"])
    except (KeyError, ValueError):
        raise ValueError("year: YYYY") from None
    if not 2000 <= year <= 2100:
        raise ValueError("year: 2000 to 2100")
    rows = eu_report(ledger, year, years, tz, coverage_min=coverage_min, now=clock())
    return 200, json.dumps({"year": year, "datacenters": rows}).encode(), "application/json"
