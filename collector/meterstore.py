"""Where every meter source (LoRaWAN, SNMP, …) keeps its registers and energy: `meters`
(facts and role), `meter_state` (the register, continued across restarts and collectors) and
`meter_hours` (energy and covered time per clock hour). Called inside the source's ledger
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.ledger import Ledger
from collector.sources.lorawan.meters import RegisterState, Step


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


def load_state(ledger: Ledger, cur: Any, name: str) -> RegisterState:
    lock = " FOR UPDATE" if ledger.postgres else ""
    cur.execute(
        ledger._sql(f"SELECT value, time, suspect FROM meter_state WHERE meter = ?{lock}"), (name,)
    )
    row = cur.fetchone()
    return RegisterState(*row) if row else RegisterState()


def spread(hours: dict[tuple[str, float], list[float]], name: str, res: Step) -> None:
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


def save(
    ledger: Ledger,
    cur: Any,
    facts: list[MeterFacts],
    states: dict[str, RegisterState],
    hours: dict[tuple[str, float], list[float]],
) -> None:
    for f in facts:
        cur.execute(
            ledger._sql(
                "INSERT INTO meters (meter, dev_eui, site, datacenter, role, host, profile, "
                "field, estimated, category, room, server, part_of) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (meter) "
                "DO UPDATE SET dev_eui = excluded.dev_eui, site = excluded.site, "
                "datacenter = excluded.datacenter, role = excluded.role, host = excluded.host, "
                "profile = excluded.profile, field = excluded.field, "
                "estimated = excluded.estimated, category = excluded.category, "
                "room = excluded.room, server = excluded.server, part_of = excluded.part_of"
            ),
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
    for name, st in states.items():
        cur.execute(
            ledger._sql(
                "INSERT INTO meter_state VALUES (?,?,?,?) ON CONFLICT (meter) DO UPDATE SET "
                "value = excluded.value, time = excluded.time, suspect = excluded.suspect"
            ),
            (name, st.value, st.time, st.suspect),
        )
    if hours:
        cur.executemany(
            ledger._sql(
                "INSERT INTO meter_hours VALUES (?,?,?,?) ON CONFLICT (meter, hour_start) "
                "DO UPDATE SET wh = meter_hours.wh + excluded.wh, "
                "covered_s = meter_hours.covered_s + excluded.covered_s"
            ),
            [(k[0], k[1], v[0], v[1]) for k, v in sorted(hours.items())],
        )
