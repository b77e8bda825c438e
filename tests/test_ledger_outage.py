"""A PostgreSQL ledger that stops while a meter batch's transaction is open: no energy is lost
and none is counted twice. The SNMP poller keeps its schedule while the ledger is down (its
polls wait and commit in order once it is back), so the servers mapped to a PDU's outlets keep
every interval of their measured power; /metrics equals the ledger for SNMP and LoRaWAN alike,
because counters and in-memory state follow the commit instead of the attempt."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from collector_helpers import make_config, metric, scrape, url, wait_for
from services import Postgres, SnmpSim, fresh_database
from test_lorawan import LORA, STATS, T0, UP, iso, pulse

from collector.app import Collector

FIX = Path(__file__).parent / "fixtures/snmprec"
INTERVAL_S = 5.0
OUTAGE_S = 40.0


@pytest.fixture
def pg():
    # a cluster of its own: this test stops it
    p = Postgres().start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = SnmpSim(tmp_path_factory.mktemp("snmpsim"), [FIX / "apc-rpdu2.snmprec"]).start()
    yield s
    s.stop()


def lock_for_writes(ledger_url: str, table: str) -> psycopg.Connection:
    """Hold a lock on `table` that lets reads pass and makes writes wait."""
    blocker = psycopg.connect(ledger_url)
    blocker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    return blocker


def halt_under_open_transaction(pg: Postgres, ledger_url: str, blocker: psycopg.Connection) -> None:
    """Once a collector transaction waits on the blocker's lock, stop PostgreSQL under it."""
    watcher = psycopg.connect(ledger_url, autocommit=True)  # fresh statistics at every look

    def waiting() -> bool:
        (n,) = watcher.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchone()
        return n > 0

    wait_for(waiting, 30, "a collector transaction waiting on the lock")
    watcher.close()
    pg.halt()
    with contextlib.suppress(Exception):  # the server is gone
        blocker.close()


def test_snmp_outage_under_an_open_transaction_loses_and_doubles_nothing(tmp_path, pg, sim):
    ledger_url = fresh_database(pg.url(), "outage")
    pdu = {
        "name": "pdu-a",
        "host": "127.0.0.1",
        "port": sim.port,
        "community": "apc-rpdu2",
        "datacenter": "dc1",
        "timeout_s": 2,
        "retries": 0,
        "outlets": {"outlet:1": "esx-a", "outlet:2": "esx-b"},
    }
    servers = [{"name": n, "cpus": 32, "idle_w": 150, "max_w": 400} for n in ("esx-a", "esx-b")]
    cfg = make_config(
        tmp_path,
        ledger_url,
        snmp={"enabled": True, "interval_s": INTERVAL_S, "devices": [pdu]},
        model={"hypervisors": servers},
    )
    c = Collector(cfg)
    polled: list[float] = []
    read: list[float] = []  # the polls that read the outlets (one may time out on a busy host)
    poll_device = c.snmp.poll_device

    async def recorded(d):
        poll = await poll_device(d)
        polled.append(poll.time)
        if any(r.breakdown and r.power_w is not None for r in poll.rows):
            read.append(poll.time)
        return poll

    c.snmp.poll_device = recorded  # type: ignore[method-assign]
    c.start()
    try:
        wait_for(lambda: len(polled) >= 3, 30, "three polls")
        halt_under_open_transaction(pg, ledger_url, lock_for_writes(ledger_url, "server_hours"))
        halted = time.time()
        time.sleep(OUTAGE_S)
        pg.resume()
        # the polls of the outage are committed with the first cycles after it
        wait_for(lambda: len([t for t in polled if t > halted + OUTAGE_S]) >= 3, 90, "3 polls")
        text = scrape(url(c, "/metrics"))
    finally:
        c.stop()
    # the schedule went on while the ledger was down: no gap the integration refuses
    gaps = [b - a for a, b in itertools.pairwise(polled)]
    assert max(gaps) <= 3 * INTERVAL_S, gaps
    span = read[-1] - read[0]
    with psycopg.connect(ledger_url) as conn:
        covered = dict(
            conn.execute("SELECT server, SUM(covered_s) FROM server_hours GROUP BY server")
        )
        ledger_wh = conn.execute(
            "SELECT SUM(wh) FROM meter_hours WHERE meter LIKE 'pdu-a:%'"
        ).fetchone()[0]
    # every interval of both servers' measured power, from the first reading to the last
    assert covered["esx-a"] == pytest.approx(span, abs=0.01)
    assert covered["esx-b"] == pytest.approx(span, abs=0.01)
    # /metrics counted each committed poll once: equal to the ledger
    shown = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("energy_snmp_energy_wh_total{") and 'device="pdu-a"' in line
    )
    assert ledger_wh > 0
    assert shown == pytest.approx(ledger_wh, rel=1e-9)
    assert not c.snmp.deferred  # nothing left behind


def test_lorawan_outage_under_an_open_transaction_loses_and_doubles_nothing(tmp_path, pg):
    ledger_url = fresh_database(pg.url(), "outage")
    c = Collector(make_config(tmp_path, ledger_url, lorawan=LORA))
    c.start()
    dev = "0018b21000006c3a"
    gw_topic = "eu868/gateway/7276ff002e062cc4/event/stats"

    def batch(r: int) -> list:
        stats = json.loads(STATS)
        stats["time"] = iso(T0 + 30 * r)
        return [
            (UP.format(dev), pulse(dev, T0 + 600 * r, 1000 + 10 * r), None),
            (gw_topic, json.dumps(stats).encode(), None),
        ]

    try:
        for r in range(3):
            c.lora.process(batch(r))
        results: list[list[str]] = []
        blocker = lock_for_writes(ledger_url, "meter_hours")
        t = threading.Thread(target=lambda: results.append(c.lora.process(batch(3))))
        t.start()
        halt_under_open_transaction(pg, ledger_url, blocker)
        time.sleep(5)
        pg.resume()
        t.join(60)
        assert results == [["ok", "ok"]]
        c.lora.process(batch(4))
        text = scrape(url(c, "/metrics"))
    finally:
        c.stop()
    with psycopg.connect(ledger_url) as conn:
        meter_wh = conn.execute(
            "SELECT SUM(wh) FROM meter_hours WHERE meter = 'dc1-main'"
        ).fetchone()[0]
        gw_wh = conn.execute("SELECT SUM(wh) FROM lora_gateway_days").fetchone()[0]
    # four intervals of 10 pulses × 10 Wh, counted once in the ledger and on /metrics
    assert meter_wh == pytest.approx(400)
    assert metric(text, "energy_lora_meter_wh_total", meter="dc1-main") == pytest.approx(400)
    # the gateway's stats every 30 s at 12 W: 30 s for the first, then four intervals
    assert gw_wh == pytest.approx(12 * 30 * 5 / 3600)
    assert metric(text, "energy_lora_network_wh_total", gateway="7276ff002e062cc4") == (
        pytest.approx(gw_wh)
    )
