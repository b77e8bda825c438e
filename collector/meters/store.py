"""Where every meter source (LoRaWAN, SNMP, CSV readings) keeps its registers and energy:
`meters` (facts and role), `meter_state` (the register, continued across restarts and
collectors), `meter_hours` (energy and covered time per clock hour) and `server_hours` (a
physical server's power per outlet and hour). Written inside a ledger transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from collector.ledger import Transaction
from collector.meters.registers import RegisterState, Step

Hours = dict[tuple[str, float], list[float]]  # (meter, hour start) → [wh, covered_s]
ServerHours = dict[tuple[str, str, float], list[float]]  # (server, outlet, hour) → [wh, covered_s]


@dataclass(frozen=True)
class MeterFacts:
    name: str
    device: str  # dev EUI, or SNMP device name
    site: str
    datacenter: str | None
    role: str
    host: str | None
    profile: str
    field: str
    estimated: bool
    category: int | None = None  # ISO/IEC 30134-2 category of an IT meter
    room: str | None = None  # the room (zone) inside the datacenter, for partial PUE
    server: str | None = None  # the physical server a PDU outlet feeds
    part_of: str | None = None  # carved out of its device's total of this role


def load_state(tx: Transaction, name: str) -> RegisterState:
    """The meter's register as committed, locked until the transaction ends."""
    row = tx.execute(
        f"SELECT value, time, suspect FROM meter_state WHERE meter = ?{tx.for_update}", (name,)
    ).fetchone()
    return RegisterState(*row) if row else RegisterState()


def spread(hours: Hours, name: str, res: Step) -> None:
    """Add a step's energy to the clock hours it covers, in proportion to time."""
    span = res.end - res.start
    t = res.start
    while t < res.end:
        h = (t // 3600) * 3600
        b = min(res.end, h + 3600)
        acc = hours.setdefault((name, h), [0.0, 0.0])
        acc[0] += res.wh * (b - t) / span
        acc[1] += b - t
        t = b


def integrate(
    hours: ServerHours, server: str, outlet: str, t0: float, w0: float, t1: float, w1: float
) -> None:
    """Trapezoid between two power readings of one outlet, split at clock hours."""
    span = t1 - t0
    t = t0
    while t < t1:
        h = (t // 3600) * 3600
        b = min(t1, h + 3600)
        # the readings' straight line, integrated over [t, b]
        wa = w0 + (w1 - w0) * (t - t0) / span
        wb = w0 + (w1 - w0) * (b - t0) / span
        acc = hours.setdefault((server, outlet, h), [0.0, 0.0])
        acc[0] += (wa + wb) / 2 * (b - t) / 3600.0
        acc[1] += b - t
        t = b


def save_facts(tx: Transaction, facts: Iterable[MeterFacts]) -> None:
    for f in facts:
        tx.execute(
            "INSERT INTO meters (meter, dev_eui, site, datacenter, role, host, profile, "
            "field, estimated, category, room, server, part_of) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (meter) "
            "DO UPDATE SET dev_eui = excluded.dev_eui, site = excluded.site, "
            "datacenter = excluded.datacenter, role = excluded.role, host = excluded.host, "
            "profile = excluded.profile, field = excluded.field, "
            "estimated = excluded.estimated, category = excluded.category, "
            "room = excluded.room, server = excluded.server, part_of = excluded.part_of",
            (
                f.name,
                f.device,
                f.site,
                f.datacenter,
                f.role,
                f.host,
                f.profile,
                f.field,
                1 if f.estimated else 0,
                f.category,
                f.room,
                f.server,
                f.part_of,
            ),
        )


def save(
    tx: Transaction,
    facts: Iterable[MeterFacts],
    states: dict[str, RegisterState],
    hours: Hours,
    server_hours: ServerHours | None = None,
) -> None:
    save_facts(tx, facts)
    for name, st in states.items():
        tx.execute(
            "INSERT INTO meter_state VALUES (?,?,?,?) ON CONFLICT (meter) DO UPDATE SET "
            "value = excluded.value, time = excluded.time, suspect = excluded.suspect",
            (name, st.value, st.time, st.suspect),
        )
    if hours:
        tx.executemany(
            "INSERT INTO meter_hours VALUES (?,?,?,?) ON CONFLICT (meter, hour_start) "
            "DO UPDATE SET wh = meter_hours.wh + excluded.wh, "
            "covered_s = meter_hours.covered_s + excluded.covered_s",
            [(k[0], k[1], v[0], v[1]) for k, v in sorted(hours.items())],
        )
    if server_hours:
        tx.executemany(
            "INSERT INTO server_hours VALUES (?,?,?,?,?) "
            "ON CONFLICT (server, outlet, hour_start) "
            "DO UPDATE SET wh = server_hours.wh + excluded.wh, "
            "covered_s = server_hours.covered_s + excluded.covered_s",
            [(k[0], k[1], k[2], v[0], v[1]) for k, v in sorted(server_hours.items())],
        )


def replace_hours(
    tx: Transaction, meter: str, start: float, end: float, rows: list[tuple[float, float, float]]
) -> None:
    """Replace a meter's hours in [start, end) (a re-imported period): (hour, wh, covered_s)."""
    tx.execute(
        "DELETE FROM meter_hours WHERE meter = ? AND hour_start >= ? AND hour_start < ?",
        (meter, start, end),
    )
    tx.executemany(
        "INSERT INTO meter_hours VALUES (?,?,?,?)", [(meter, h, wh, cov) for h, wh, cov in rows]
    )
