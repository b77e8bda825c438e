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

Importing is all or nothing (the files of one command in one transaction, every line checked
first, errors name the file, the line and the reason) and idempotent: importing the same
readings again changes nothing. Refused, because they cannot be true:
- a period that ends after now (energy not consumed yet);
- a mean power beyond `max_power_w` (`snmp.max_power_w`, the largest a meter can draw);
- a datacenter whose site energy would fall below its IT energy over a billed period
  (PUE below 1), with what is already in the ledger;
- a period that overlaps different readings already imported for the meter (a day inside a
  monthly bill would silently take energy out of the month), unless `replace` is given
  (`import-readings --replace`): then the new readings replace those hours.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

from collector.ledger import Ledger, Transaction
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
    where: str = ""  # file:line, for messages


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
                where,
            )
        )
    by_meter: dict[str, list[Reading]] = {}
    for r in out:
        by_meter.setdefault(r.meter, []).append(r)
    for meter, rs in by_meter.items():
        rs.sort(key=lambda r: r.start)
        for a, b in pairwise(rs):
            if b.start < a.end:
                raise ReadingError(
                    f"{b.where}: periods overlap for meter {meter[4:]!r} (with line "
                    f"{a.where.rsplit(':', 1)[1]}): one period, one reading"
                )
        if len({(r.datacenter, r.role, r.room) for r in rs}) > 1:
            raise ReadingError(f"{source}: meter {meter[4:]!r} changes datacenter, role or room")
    return out


def _hours(r: Reading) -> list[tuple[float, float, float]]:
    """(hour start, Wh, covered seconds) of each clock hour of the period."""
    n = int((r.end - r.start) // 3600)
    return [(r.start + 3600 * i, r.kwh * 1000 / n, 3600.0) for i in range(n)]


def _read(path: str | Path) -> list[Reading]:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReadingError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse(text, str(p))


def _plausible(readings: list[Reading], now: float, max_power_w: float | None) -> None:
    """What no meter can have read: energy not consumed yet, or more than it can draw."""
    for r in readings:
        if r.end > now:
            ends = datetime.fromtimestamp(r.end, PARIS).isoformat(timespec="minutes")
            raise ReadingError(
                f"{r.where}: the period ends in the future ({ends}): a reading can only be "
                "of energy already consumed"
            )
        mean_w = r.kwh * 1000 / ((r.end - r.start) / 3600)
        if max_power_w is not None and mean_w > max_power_w:
            raise ReadingError(
                f"{r.where}: {r.kwh:g} kWh means {mean_w:,.0f} W on average, beyond the "
                f"configured maximum of {max_power_w:,.0f} W per meter (snmp.max_power_w)"
            )


def _overlaps(tx: Transaction, r: Reading) -> bool:
    """Whether hours of the meter in the reading's period already hold other values."""
    new = {h: wh for h, wh, _ in _hours(r)}
    rows = tx.execute(
        "SELECT hour_start, wh FROM meter_hours WHERE meter = ? AND hour_start >= ? "
        "AND hour_start < ?",
        (r.meter, r.start, r.end),
    ).fetchall()
    return any(
        abs(float(wh) - new.get(float(h), -1.0)) > 1e-6 * max(1.0, abs(float(wh))) for h, wh in rows
    )


def _pue_below_one(tx: Transaction, r: Reading) -> tuple[float, float] | None:
    """(site kWh, IT kWh) of the reading's datacenter over its period when the site's meters
    cover every hour of it and read less than the IT meters of one measurement point."""
    n = int((r.end - r.start) // 3600)
    rows = tx.execute(
        "SELECT m.role, COALESCE(m.category, 0), COALESCE(SUM(h.wh), 0), "
        "COUNT(DISTINCT h.hour_start) FROM meter_hours h JOIN meters m "
        "ON m.meter = h.meter WHERE m.datacenter = ? AND m.role IN ('facility', 'it') "
        "AND m.room IS NULL AND h.hour_start >= ? AND h.hour_start < ? "
        "GROUP BY m.role, COALESCE(m.category, 0)",
        (r.datacenter, r.start, r.end),
    ).fetchall()
    site_wh, site_hours, it_wh = 0.0, 0, 0.0
    for role, _cat, wh, hours in rows:
        if role == "facility":
            site_wh, site_hours = float(wh), int(hours)
        else:
            it_wh = max(it_wh, float(wh))  # one measurement point: never two added
    if site_hours >= n and it_wh > site_wh * (1 + 1e-9):
        return site_wh / 1000, it_wh / 1000
    return None


def import_readings(
    ledger: Ledger,
    paths: str | Path | list[str | Path],
    *,
    now: float | None = None,
    max_power_w: float | None = None,
    replace: bool = False,
) -> list[Reading]:
    """Import CSV files into the ledger, all of them or nothing; returns what was imported.
    `now` (default: the clock) bounds the periods; see the module's refusals."""
    import time as _time

    files = paths if isinstance(paths, list) else [paths]
    readings = [r for p in files for r in _read(p)]
    seen: dict[str, Reading] = {}
    for r in sorted(readings, key=lambda r: (r.meter, r.start)):
        prev = seen.get(r.meter)
        if prev is not None and r.start < prev.end:
            raise ReadingError(
                f"{r.where}: periods overlap for meter {r.meter[4:]!r} (with {prev.where}): "
                "one period, one reading"
            )
        seen[r.meter] = r
    _plausible(readings, _time.time() if now is None else now, max_power_w)
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
    with ledger.transaction() as tx:  # one transaction: a refusal leaves the ledger as it was
        store.save_facts(tx, facts.values())
        for r in readings:
            if not replace and _overlaps(tx, r):
                raise ReadingError(
                    f"{r.where}: overlaps other readings of meter {r.meter[4:]!r} already "
                    f"imported between {_day(r.start)} and {_day(r.end)} (a bill over this "
                    "period?); use --replace to put these in their place"
                )
            # replace what an earlier import put in this period's hours
            store.replace_hours(tx, r.meter, r.start, r.end, _hours(r))
        for r in readings:
            if r.role in ("facility", "it") and r.room is None:
                low = _pue_below_one(tx, r)
                if low is not None:
                    raise ReadingError(
                        f"{r.where}: datacenter {r.datacenter!r} would use less energy "
                        f"({low[0]:,.1f} kWh at its site meter) than its IT "
                        f"({low[1]:,.1f} kWh) between {_day(r.start)} and {_day(r.end)}: "
                        "PUE below 1 cannot be; nothing imported"
                    )
    return readings


def _day(t: float) -> str:
    dt = datetime.fromtimestamp(t, PARIS)
    return dt.date().isoformat() if dt.hour == 0 else dt.isoformat(timespec="minutes")
