"""A simulated year in a real collector (reports over MQTT through Mosquitto, datacenter
bills through `import-readings`), and its ground truth computed from the true timelines."""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector_helpers import make_config, processed, running, wait_for

from collector.datacenter.readings import import_readings
from collector.ledger import Ledger
from collector.model.profiles import SHIPPED, ProfileBook
from collector.simulate import (
    Simulation,
    datacenter_readings,
    readings_csv,
    send_mqtt,
    year_config,
)

PARIS = ZoneInfo("Europe/Paris")
YEAR = 2025
AGENTS = 30


@dataclass
class SimulatedYear:
    db: Path  # the filled SQLite ledger; copy it before writing to it
    sim: Simulation
    readings: list[dict[str, Any]]
    reports: int

    def copy_ledger(self, into: Path) -> str:
        into.mkdir(parents=True, exist_ok=True)
        target = into / "ledger.db"
        shutil.copy(self.db, target)
        return f"sqlite:{target}"


def fill_year(tmp: Path, broker_port: int) -> SimulatedYear:
    sim = Simulation(year_config(YEAR, agents=AGENTS, seed=7, report_interval_s=6 * 3600))
    reports = list(sim.reports())
    mq = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": broker_port,
        "client_id": "year-fill",
        "group": "year-fill",
    }
    cfg = make_config(tmp, compliance={"enabled": True}, mqtt=mq)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt is not None and c.mqtt.connected, 10, "collector subscribed")
        n = send_mqtt(((aid, body) for _, aid, _, body in reports), "127.0.0.1", broker_port)
        wait_for(lambda: processed(cfg.ledger.url) >= n, 300, "the year committed", every=0.5)
        c.rollup_touched()
    rows = datacenter_readings(YEAR, 3, seed=7)
    bills = tmp / "bills.csv"
    bills.write_text(readings_csv(rows))
    ledger = Ledger(cfg.ledger.url)
    try:
        import_readings(ledger, bills)
    finally:
        ledger.close()
    return SimulatedYear(tmp / "ledger.db", sim, rows, n)


def month_cuts(a: float, b: float) -> list[tuple[str, float, float]]:
    """[a, b) cut at local (Paris) month boundaries: (YYYY-MM, start, end)."""
    out = []
    t = a
    while t < b:
        d = datetime.fromtimestamp(t, PARIS).date().replace(day=1)
        nxt = (d + timedelta(days=32)).replace(day=1)
        edge = datetime.combine(nxt, dtime(0), PARIS).timestamp()
        out.append((d.strftime("%Y-%m"), t, min(b, edge)))
        t = min(b, edge)
    return out


def truth_kwh(sim: Simulation) -> dict[tuple[str, str], float]:
    """(kind, month) → kWh of the true timelines under the shipped power profiles."""
    book = ProfileBook.load(SHIPPED)
    out: dict[tuple[str, str], float] = defaultdict(float)
    for h in sim.hosts:
        prof = book.profile_for(h.kind, h.model, {})
        for s in h.segments:
            if h.kind == "vm":
                w = (
                    0.0
                    if s.state in ("off", "suspended")
                    else prof.power_w(s.state, s.cpu_util or 0.0, h.cpus, h.memory_bytes / 2**30)
                )
            else:
                w = prof.power_w(s.state, s.cpu_util)
            for m, a, b in month_cuts(s.start, s.end):
                out[(h.kind, m)] += w * (b - a) / 3600 / 1000
    return out


def truth_pue(readings: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(datacenter, month) → facility kWh / IT kWh of the bills."""
    acc: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for r in readings:
        acc[(r["datacenter"], r["start"][:7])][r["role"]] = float(r["kwh"])
    return {k: v["facility"] / v["it"] for k, v in acc.items()}


def days_in(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days
