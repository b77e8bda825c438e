"""Network gear beyond power: IF-MIB status, speed and traffic of every port, against the
switch recording served by snmpsim, and the counter rules on hand-made readings (32-bit
wraps, discontinuity time, reboots, resets, steps no line rate explains). Also: every SNMP
reading lands in the TSDB (VictoriaMetrics) at its poll time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from collector_helpers import make_config, metric, running, scrape, url, wait_for
from services import SnmpSim

from collector.sources.snmp import interfaces as ifm
from collector.sources.snmp.interfaces import WRAP32, WRAP64, CounterState, advance, ports

FIX = Path(__file__).parent / "fixtures/snmprec"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = SnmpSim(
        tmp_path_factory.mktemp("snmpsim"),
        [FIX / "cisco-switch-poe.snmprec", FIX / "apc-rpdu2.snmprec"],
    ).start()
    yield s
    s.stop()


def switch(sim, **kw):
    return {
        "name": "sw",
        "host": "127.0.0.1",
        "port": sim.port,
        "community": "cisco-switch-poe",
        "datacenter": "dc1",
        "role": "network",
        "timeout_s": 2,
        "retries": 0,
        **kw,
    }


def test_ports_status_speed_and_traffic_from_the_switch(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [switch(sim)]})
    with running(cfg) as c:
        (first,) = c.snmp.run_cycle()
        by = {p.name: p for p in first.ports}
        assert len(by) == 48
        assert by["Gi1/0/1"].status == "up" and by["Gi1/0/7"].status == "down"
        assert by["Gi1/0/1"].speed_bps == 1e9
        # the 10G uplinks' ifSpeed is saturated (4294967295): ifHighSpeed (Mbit/s) is used
        assert by["Te1/1/1"].speed_bps == 10e9
        assert by["Gi1/0/1"].wrap == WRAP64
        time.sleep(2.0)
        (second,) = c.snmp.run_cycle()
        dt = second.time - first.time
        text = scrape(url(c, "/metrics"))
        got_in = metric(text, "energy_snmp_if_octets_total", interface="Gi1/0/1", direction="in")
        got_out = metric(text, "energy_snmp_if_octets_total", interface="Gi1/0/1", direction="out")
        # recorded rates: in 25,000 B/s, out 1 × 10,000 B/s (snmpsim counts whole seconds)
        assert got_in == pytest.approx(25_000 * dt, abs=25_000 * 1.01)
        assert got_out == pytest.approx(10_000 * dt, abs=10_000 * 1.01)
        # a port down with a flat counter adds nothing; its status is 0
        assert metric(text, "energy_snmp_if_octets_total", interface="Gi1/0/7", direction="in") == 0
        assert metric(text, "energy_snmp_if_up", interface="Gi1/0/7") == 0
        assert metric(text, "energy_snmp_if_speed_bps", interface="Te1/1/1") == 10e9


def test_switch_restart_starts_a_new_segment_without_a_negative_or_a_spike(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [switch(sim)]})
    with running(cfg) as c:
        c.snmp.run_cycle()
        time.sleep(1.1)
        c.snmp.run_cycle()
        before = metric(
            scrape(url(c, "/metrics")),
            "energy_snmp_if_octets_total",
            interface="Gi1/0/1",
            direction="in",
        )
        sim.restart()  # sysUpTime and every counter start again from `initial`
        time.sleep(1.1)
        (after_restart,) = c.snmp.run_cycle()
        assert after_restart.rebooted
        text = scrape(url(c, "/metrics"))
        kw = {"interface": "Gi1/0/1", "direction": "in"}
        assert metric(text, "energy_snmp_if_octets_total", **kw) == before  # no delta across
        assert metric(text, "energy_snmp_if_counter_discontinuities_total", device="sw") >= 40
        time.sleep(1.1)
        c.snmp.run_cycle()  # the new segment counts again
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_snmp_if_octets_total", **kw) > before


def test_counter32_wraps_and_64_bit_decrease_is_a_reset():
    st = CounterState()
    assert advance(st, WRAP32 - 1000, 0.0, WRAP32, 0, False, 1e9) is None  # first: baseline
    assert advance(st, 500, 10.0, WRAP32, 0, False, 1e9) == 1500  # wrapped once
    st = CounterState()
    advance(st, 10**12, 0.0, WRAP64, 0, False, 1e9)
    assert advance(st, 10**6, 10.0, WRAP64, 0, False, 1e9) is None  # reset, not a wrap
    assert advance(st, 10**6 + 400, 20.0, WRAP64, 0, False, 1e9) == 400  # then counts on


def test_discontinuity_time_change_reboot_and_implausible_steps_give_no_delta():
    st = CounterState()
    advance(st, 1000, 0.0, WRAP64, 0, False, 1e9)
    assert advance(st, 2000, 10.0, WRAP64, 12345, False, 1e9) is None  # counters discontinued
    assert advance(st, 3000, 20.0, WRAP64, 12345, False, 1e9) == 1000
    assert advance(st, 4000, 30.0, WRAP64, 12345, True, 1e9) is None  # sysUpTime went back
    # 100 Mbit/s for 10 s moves at most 125 MB: 10 GB is a glitch, not traffic
    st = CounterState()
    advance(st, 0, 0.0, WRAP64, 0, False, 100e6)
    assert advance(st, 10 * 10**9, 10.0, WRAP64, 0, False, 100e6) is None
    assert advance(st, 10 * 10**9 + 10**6, 20.0, WRAP64, 0, False, 100e6) == 10**6


def test_an_unreadable_counter_keeps_the_last_good_reading():
    st = CounterState()
    advance(st, 1000, 0.0, WRAP64, 0, False, None)
    assert advance(st, None, 10.0, WRAP64, 0, False, None) is None
    assert advance(st, 1600, 20.0, WRAP64, 0, False, None) == 600  # across the gap, once


def test_hc_counters_win_and_32_bit_ones_are_the_fallback():
    walked = {
        f"{ifm.IF_OPER_STATUS}.1": 1,
        f"{ifm.IF_IN_OCTETS}.1": 7,
        f"{ifm.IF_OUT_OCTETS}.1": 8,
        f"{ifm.IF_HC_IN_OCTETS}.1": 70_000_000_000,
        f"{ifm.IF_HC_OUT_OCTETS}.1": 80_000_000_000,
        f"{ifm.IF_NAME}.1": "xe-0/0/0",
        f"{ifm.IF_OPER_STATUS}.2": 2,
        f"{ifm.IF_DESCR}.2": "eth1",
        f"{ifm.IF_SPEED}.2": 100_000_000,
        f"{ifm.IF_IN_OCTETS}.2": 5,
        f"{ifm.IF_OUT_OCTETS}.2": -1,  # garbage: unavailable, not zero
    }
    a, b = ports(walked)
    assert (a.name, a.in_octets, a.out_octets, a.wrap) == (
        "xe-0/0/0",
        70_000_000_000,
        80_000_000_000,
        WRAP64,
    )
    assert (b.name, b.status, b.speed_bps, b.in_octets, b.out_octets, b.wrap) == (
        "eth1",
        "down",
        100e6,
        5,
        None,
        WRAP32,
    )


def test_snmp_readings_land_in_the_tsdb_at_their_poll_time(tmp_path, sim, victoria):
    pdu = {**switch(sim), "name": "pdu-a", "community": "apc-rpdu2", "role": "it", "rack": "R05"}
    cfg = make_config(
        tmp_path,
        snmp={"devices": [pdu, switch(sim)]},
        tsdb={"enabled": True, "url": victoria.url, "flush_interval_s": 0.1},
    )
    with running(cfg) as c:
        polls = c.snmp.run_cycle()
        time.sleep(1.1)
        polls = c.snmp.run_cycle()
        t_poll = max(p.time for p in polls)
    at = t_poll + 1
    # the second cycle's points were written at stop: VictoriaMetrics shows them a moment later
    q = 'energy_snmp_if_in_octets{device="sw",interface="Gi1/0/1"}'
    wait_for(lambda: victoria.query(q, at), 20, "the second cycle in the TSDB", every=0.5)
    outlets = victoria.query('energy_snmp_watts{device="pdu-a",table="outlet"}', at)
    assert len(outlets) == 24
    one = next(r for r in outlets if r["metric"]["label"] == "esx-prod-01 PSU1")
    assert float(one["value"][1]) == 245.0
    assert one["metric"]["rack"] == "R05" and one["metric"]["role"] == "it:outlet"
    (total,) = victoria.query('energy_snmp_watts{device="pdu-a",table="input"}', at)
    assert float(total["value"][1]) == 2580.0  # 258 hundredths of kW, as the profile scales
    wh = victoria.query('energy_snmp_wh{device="pdu-a",table="input"}', at)
    assert wh and float(wh[0]["value"][1]) >= 0
    poe = victoria.query('energy_snmp_watts{device="sw",table="poe"}', at)
    assert [r["metric"]["accounted"] for r in poe] == ["0"]
    (port,) = victoria.query('energy_snmp_if_in_octets{device="sw",interface="Gi1/0/1"}', at)
    assert float(port["value"][1]) > 0
    (speed,) = victoria.query('energy_snmp_if_speed_bps{device="sw",interface="Te1/1/1"}', at)
    assert float(speed["value"][1]) == 10e9
