"""Manual energy readings from CSV (monthly utility bills, sub-meter rounds): the third way,
beside SNMP and LoRaWAN meters, for a datacenter's facility energy to reach the PUE. They land
in the same `meters` / `meter_hours` tables, so `facility.pue` needs nothing new.

One row per meter and period::

    meter,datacenter,role,start,end,kwh[,site][,room]
    edf-pdl-30001234567890,dc1,facility,2026-10-01,2026-11-01,18250.5

`start` is inclusive and `end` exclusive: ISO 8601 dates (midnight, Europe/Paris time, as on
French bills) or datetimes (an offset, else Europe/Paris). The energy is spread evenly over the
hours of the period: a month's PUE from a bill is exact, an hour's is an allocation. Periods
start and end on whole hours, so re-importing one replaces exactly its own hours.

Importing is all or nothing (one transaction, every line checked first, errors name the line)
and idempotent: a period already imported for that meter is replaced, never added twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from collector.ledger import Ledger
from collector.meters import store
from collector.meters.store import MeterFacts
from energy_common.configspec import ConfigError

PARIS = ZoneInfo("Europe/Paris")
ROLES = ("facility", "it", "cooling", "lighting", "network", "building", "other")
REQUIRED = ("meter", "datacenter", "role", "start", "end", "kwh")
MAX_PERIOD_S = 400 * 86400  # a yearly bill at most


class ReadingError(ConfigError):
    """A CSV that cannot be imported; the message names the file and line."""


@dataclass(frozen=True)
class Reading:
    meter: str
    datacenter: str
    role: str
    site: str
    room: str | None
    start: float
    end: float
    kwh: float


def _when(text: str) -> float:
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), PARIS).timestamp()
    dt = datetime.fromisoformat(text)
    return (dt if dt.tzinfo else dt.replace(tzinfo=PARIS)).timestamp()


def parse(text: str, source: str = "<csv>") -> list[Reading]:
    """Check every line; raise ReadingError naming the first bad one."""
    first = text.splitlines()[0] if text.strip() else ""
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    cols = [c.strip().lower() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise ReadingError(f"{source}: missing column(s) {', '.join(missing)} (need {REQUIRED})")
    out: list[Reading] = []
    for n, raw in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{source}:{n}"
        if not any(row.values()):
            continue
        try:
            start, end = _when(row["start"]), _when(row["end"])
        except ValueError as exc:
            raise ReadingError(f"{where}: bad date ({exc}); use YYYY-MM-DD or ISO 8601") from None
        try:
            kwh = float(row["kwh"].replace(",", ".")) if delim == ";" else float(row["kwh"])
        except ValueError:
            raise ReadingError(f"{where}: kwh {row['kwh']!r} is not a number") from None
        if not row["meter"] or not row["datacenter"]:
            raise ReadingError(f"{where}: meter and datacenter must not be empty")
        if row["role"] not in ROLES:
            raise ReadingError(f"{where}: role {row['role']!r} is not one of {ROLES}")
        if not end > start:
            raise ReadingError(f"{where}: end {row['end']} is not after start {row['start']}")
        if start % 3600 or end % 3600:
            raise ReadingError(f"{where}: start and end must fall on whole hours")
        if end - start > MAX_PERIOD_S:
            raise ReadingError(f"{where}: period longer than 400 days")
        if not kwh >= 0 or kwh != kwh or kwh == float("inf"):
            raise ReadingError(f"{where}: kwh must be a finite number >= 0, got {kwh}")
        out.append(
            Reading(
                "csv:" + row["meter"],
                row["datacenter"],
                row["role"],
                row.get("site", ""),
                row.get("room") or None,
                start,
                end,
                kwh,
            )
        )
    by_meter: dict[str, list[Reading]] = {}
    for r in out:
        by_meter.setdefault(r.meter, []).append(r)
    for meter, rs in by_meter.items():
        rs.sort(key=lambda r: r.start)
        for a, b in pairwise(rs):
            if b.start < a.end:
                raise ReadingError(f"{source}: periods overlap for meter {meter[4:]!r}")
        if len({(r.datacenter, r.role, r.room) for r in rs}) > 1:
            raise ReadingError(f"{source}: meter {meter[4:]!r} changes datacenter, role or room")
    return out


def _hours(r: Reading) -> list[tuple[float, float, float]]:
    """(hour start, Wh, covered seconds) of each clock hour of the period."""
    n = int((r.end - r.start) // 3600)
    return [(r.start + 3600 * i, r.kwh * 1000 / n, 3600.0) for i in range(n)]


def import_readings(ledger: Ledger, path: str | Path) -> list[Reading]:
    """Import a CSV file into the ledger (all or nothing); returns what was imported."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReadingError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    readings = parse(text, str(p))
    facts = {
        r.meter: MeterFacts(
            r.meter,
            r.meter[4:],
            r.site,
            r.datacenter,
            r.role,
            None,
            "csv",
            "energy",
            estimated=False,
            room=r.room,
        )
        for r in readings
    }
    with ledger.transaction() as tx:
        store.save_facts(tx, facts.values())
        for r in readings:
            # replace what an earlier import put in this period's hours
            store.replace_hours(tx, r.meter, r.start, r.end, _hours(r))
    return readings
