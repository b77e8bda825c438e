"""SNMP polling against real snmpsim agents serving the recordings: profile values checked
against hand-computed ones (scales!), v2c and v3 authPriv, a dead device, a device without a
profile, a simulator restart (counter reset), and a datacenter's PUE from polled energies."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from collector_helpers import check_panel, make_config, metric, running, scrape, url
from services import SnmpSim, free_port
from snmp_helpers import device as snmp_device

from collector.datacenter.facility import partial_pue, pue
from collector.sources.snmp.client import Client, SnmpError, Target
from collector.sources.snmp.poller import Poll, Poller
from collector.sources.snmp.profiles import Row, load_profiles

FIX = Path(__file__).parent / "fixtures/snmprec"

COVERAGE_MIN = 0.9  # compliance.coverage_min's default: each side's share a PUE needs


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = SnmpSim(tmp_path_factory.mktemp("snmpsim"), sorted(FIX.glob("*.snmprec"))).start()
    s.started = time.time()
    yield s
    s.stop()


def device(sim, name="pdu-a", community="apc-rpdu2", **kw):
    return {**snmp_device(sim, name, community), "site": "dc1", "timeout_s": 1, **kw}


def poller_for(c):
    return c.snmp


def test_apc_rpdu2_values_and_scales(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim)]})
    with running(cfg) as c:
        polls = c.snmp.run_cycle()
    (poll,) = polls
    by = {(r.table, r.index): r for r in poll.rows}
    inp = by[("input", "1")]
    assert inp.label == "pdu-dc1-r04-a"
    assert inp.power_w == 2580  # 258 hundredths of kW
    elapsed = time.time() - sim.started + 5
    # tenths of kWh → Wh; the register advances at 0.007158333 tenths per simulated second
    assert 332742 * 100 <= inp.energy_wh <= (332742 + 0.007158333 * elapsed) * 100 + 100
    assert len([r for r in poll.rows if r.table == "outlet"]) == 24
    out1 = by[("outlet", "1")]
    assert (out1.label, out1.power_w) == ("esx-prod-01 PSU1", 245)
    assert out1.energy_wh is not None and out1.energy_wh >= 31634 * 100
    assert by[("outlet", "8")].power_w == 0  # an outlet in maintenance: 0 W, flat energy
    phase = by[("phase", "1")]  # 258 hundredths of kW again, a breakdown of the input
    assert (phase.power_w, phase.breakdown, phase.energy_wh) == (2580, True, None)
    status = {(spec.name, index): v for spec, index, v in poll.status}
    assert status[("phase_current_amps", "1")] == pytest.approx(11.6)  # tenths of amps
    assert status[("phase_voltage_volts", "1")] == 231
    assert status[("phase_load_state", "1")] == 2  # normal
    assert not any(name.startswith("bank") for name, _ in status)  # no banks on this unit


def v3_target(sim, user: str, auth: str, priv: str, **kw) -> Target:
    return Target(
        "127.0.0.1",
        sim.port,
        version="3",
        user=user,
        auth_protocol=auth,
        auth_key=SnmpSim.V3_AUTH,
        priv_protocol=priv,
        priv_key=SnmpSim.V3_PRIV,
        context="apc-rpdu2",
        timeout_s=2,
        retries=0,
        **kw,
    )


def test_v3_authpriv_sha256_aes256(sim):
    t = v3_target(sim, SnmpSim.V3_USER_SHA2, "SHA256", "AES256")
    cols = ["1.3.6.1.4.1.318.1.1.26.4.3.1.5", "1.3.6.1.4.1.318.1.1.26.9.4.3.1.7"]
    got = asyncio.run(Client().walk_columns(t, cols))
    assert got["1.3.6.1.4.1.318.1.1.26.4.3.1.5.1"] == 258
    assert len(got) == 1 + 24  # the multi-column walk works through pysnmp too
    wrong = dataclasses.replace(t, auth_protocol="SHA")  # the user is SHA-256 only
    with pytest.raises(SnmpError):
        asyncio.run(Client().walk(wrong, cols[0]))


def test_v3_authpriv_sha_aes(sim):
    t = v3_target(sim, SnmpSim.V3_USER, "SHA", "AES")
    got = asyncio.run(Client().walk(t, "1.3.6.1.4.1.318.1.1.26.4.3.1"))
    assert got["1.3.6.1.4.1.318.1.1.26.4.3.1.5.1"] == 258
    bad = dataclasses.replace(t, auth_key="wrong-key-000", timeout_s=1)
    with pytest.raises(SnmpError):
        asyncio.run(Client().walk(bad, "1.3.6.1.4.1.318.1.1.26.4.3.1"))


def test_dead_device_backs_off_and_does_not_delay_the_others(tmp_path, sim):
    dead = {
        "name": "dead",
        "host": "127.0.0.1",
        "port": free_port(),
        "timeout_s": 1,
        "retries": 0,
        "community": "x",
    }
    cfg = make_config(tmp_path, snmp={"interval_s": 30, "devices": [dead, device(sim)]})
    with running(cfg) as c:
        t0 = time.monotonic()
        polls = c.snmp.run_cycle()
        took = time.monotonic() - t0
        assert [p.device.name for p in polls] == ["pdu-a"]
        assert took < 3  # the dead device costs one timeout, in parallel
        st = c.snmp.state["dead"]
        assert st.failures == 1 and st.next_try > time.time() + 25
        polls = c.snmp.run_cycle()  # backing off: not even tried
        assert c.snmp.state["dead"].failures == 1
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_snmp_poll_errors_total", device="dead", reason="timeout") == 1
        assert metric(text, "energy_snmp_up", device="pdu-a") == 1


def test_device_without_profile_is_an_error_not_a_crash(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "odd", "odd-device")]})
    with running(cfg) as c:
        assert c.snmp.run_cycle() == []
        assert (
            metric(
                scrape(url(c, "/metrics")),
                "energy_snmp_poll_errors_total",
                device="odd",
                reason="garbage",
            )
            == 1
        )


def test_simulator_restart_resets_counters_without_negative_energy(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim)]})
    with running(cfg) as c:
        c.snmp.run_cycle()
        time.sleep(1.1)
        c.snmp.run_cycle()
        sim.restart()  # counters start again from `initial`
        sim.started = time.time()
        for _ in range(2):
            time.sleep(1.1)
            c.snmp.run_cycle()
        (neg,) = c.ledger.execute("SELECT COUNT(*) FROM meter_hours WHERE wh < 0")[0]
        assert neg == 0
        (value,) = c.ledger.execute(
            "SELECT value FROM meter_state WHERE meter = ?", ("pdu-a:input:1",)
        )[0]
        assert value < 332742 * 100 + 0.0072 * 120 * 100  # follows the restarted register


def rows_at(power: float, energy: float) -> list[Row]:
    return [Row("input", "1", "main", power, energy)]


def test_datacenter_pue_from_polled_energies(tmp_path):
    """Hand-computed: IT (two PDUs, category 2) 10 + 6 kWh over an hour; the site meter
    (facility) 24 kWh: PUE 1.5."""
    devices = [
        {"name": n, "host": "127.0.0.1", "datacenter": "dc9", "role": role}
        for n, role in (("pdu-1", "it"), ("pdu-2", "it"), ("tgbt", "facility"))
    ]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        p: Poller = c.snmp
        p.profiles = load_profiles()
        t0 = 1_790_000_000.0 // 3600 * 3600
        start = {"pdu-1": 1_000_000.0, "pdu-2": 2_000_000.0, "tgbt": 5_000_000.0}
        used = {"pdu-1": 10_000.0, "pdu-2": 6_000.0, "tgbt": 24_000.0}
        for t, frac in ((t0, 0.0), (t0 + 3600, 1.0)):
            polls = [
                Poll(dev, t, rows_at(used[dev.name], start[dev.name] + frac * used[dev.name]))
                for dev in cfg.snmp.devices
            ]
            p.account(polls)
        result = pue(c.ledger, "dc9", t0, t0 + 3600, coverage_min=COVERAGE_MIN)
        assert result.it.wh == pytest.approx(16_000)
        assert result.facility.wh == pytest.approx(24_000)
        assert result.value == pytest.approx(1.5)
        assert result.it.coverage == pytest.approx(1.0)


def test_ups_mib_lines_power_and_losses(tmp_path, sim):
    cfg = make_config(
        tmp_path, snmp={"devices": [device(sim, "ups-1", "ups-rfc1628", role="it", category=1)]}
    )
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        by = {(r.table, r.index): r.power_w for r in poll.rows}
        assert [by[("input", i)] for i in "123"] == [5906, 6188, 5634]
        assert [by[("output", i)] for i in "123"] == [5640, 5910, 5380]
        losses = sum(by[("input", i)] for i in "123") - sum(by[("output", i)] for i in "123")
        assert losses == 798  # 17,728 W in, 16,930 W out
        time.sleep(1.5)
        c.snmp.run_cycle()
        # no register in UPS-MIB: power is integrated, and labelled estimated
        (est,) = c.ledger.execute("SELECT MIN(estimated) FROM meters WHERE dev_eui = 'ups-1'")[0]
        assert est == 1
        (wh,) = c.ledger.execute(
            "SELECT SUM(wh) FROM meter_hours WHERE meter LIKE 'ups-1:output:%'"
        )[0]
        (secs,) = c.ledger.execute(
            "SELECT MAX(covered_s) FROM meter_hours WHERE meter LIKE 'ups-1:output:%'"
        )[0]
        assert wh == pytest.approx(16_930 * secs / 3600, rel=1e-6)


def test_ups_load_battery_and_source(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "ups-1", "ups-rfc1628")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        got = {(spec.name, index): v for spec, index, v in poll.status}
        assert [got[("output_load_percent", i)] for i in "123"] == [42, 44, 40]
        assert got[("battery_charge_percent", "0")] == 100
        assert got[("battery_minutes_remaining", "0")] == 38
        assert got[("seconds_on_battery", "0")] == 0
        text = scrape(url(c, "/metrics"))
        on = {"device": "ups-1", "reading": "output_source"}
        assert metric(text, "energy_snmp_state", **on, state="normal") == 1
        assert metric(text, "energy_snmp_state", **on, state="battery") == 0
        assert metric(text, "energy_snmp_state", reading="battery_status", state="normal") == 1
        assert metric(text, "energy_snmp_status", reading="output_load_percent", index="2") == 44


def test_raritan_sensor_tables_scaled_by_decimal_digits(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "px3", "raritan-px3")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
    by = {(r.table, r.index): r for r in poll.rows}
    inlet = by[("inlet", "1.1")]
    assert (inlet.label, inlet.power_w) == ("Feed B (TGBT2-D14)", 2184)
    elapsed = time.time() - sim.started + 5
    assert 76_724_800 <= inlet.energy_wh <= 76_724_800 + 0.6066667 * elapsed + 1
    outlets = [r for r in poll.rows if r.table == "outlet"]
    assert len(outlets) == 12
    o1 = by[("outlet", "1.1")]
    assert (o1.label, o1.power_w) == ("esx-prod-09 PSU2", 262)
    assert by[("outlet", "1.12")].label is None  # an empty outlet name
    assert sum(r.power_w for r in outlets) == pytest.approx(2184, abs=2)


def test_decimal_digits_are_applied_per_row_every_poll():
    from collector.sources.snmp.profiles import rows

    profiles = load_profiles()
    inlet = profiles["raritan-pdu2"].tables[0]
    walked = {
        "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5": 21845,
        "1.3.6.1.4.1.13742.6.3.3.4.1.7.1.1.5": 1,  # this firmware gives tenths of W
        "1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.8": -1,
    }  # energy unsupported: missing
    (row,) = rows(inlet, walked)
    assert row.power_w == pytest.approx(2184.5)
    assert row.energy_wh is None


def test_switch_psu_power_from_entity_sensor_scale_and_precision(tmp_path, sim):
    cfg = make_config(
        tmp_path, snmp={"devices": [device(sim, "sw", "cisco-switch-poe", role="network")]}
    )
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        psu = {r.label: r.power_w for r in poll.rows if r.table == "psu"}
        # ENTITY-SENSOR: 1683 × 10^0 / 10^1 (precision 1); the Cisco twin is not read again
        assert psu == {
            "Switch 1 - Power Supply A - Power In": pytest.approx(168.3),
            "Switch 1 - Power Supply B - Power In": pytest.approx(162.7),
        }
        poe = [r for r in poll.rows if r.table == "poe"]
        assert [(r.power_w, r.account) for r in poe] == [(186, False)]
        time.sleep(1.2)
        c.snmp.run_cycle()
        meters = {m for (m,) in c.ledger.execute("SELECT meter FROM meters")}
        assert meters == {"sw:psu:1011", "sw:psu:1012"}  # PoE is not counted on top


def test_cisco_sensor_scale_when_the_standard_mib_is_absent():
    from collector.sources.snmp.profiles import rows

    cisco = load_profiles()["network-entity-sensor"].tables[1]
    base = "1.3.6.1.4.1.9.9.91.1.1.1.1"
    walked = {
        f"{base}.1.7": 6,
        f"{base}.2.7": 8,
        f"{base}.3.7": 0,
        f"{base}.4.7": 168300,
        f"{base}.1.8": 8,
        f"{base}.2.8": 9,
        f"{base}.3.8": 0,
        f"{base}.4.8": 41,
    }
    (row,) = rows(cisco, walked)  # the celsius sensor (type 8) is not power
    assert row.power_w == pytest.approx(168.3)  # milli (8) → 10^-3


def test_profile_choice_prefers_the_most_specific_match():
    profiles = load_profiles()
    best = max(profiles.values(), key=lambda p: p.score("1.3.6.1.4.1.318.1.3.4.6", ""))
    assert best.name == "apc-rpdu2"  # not the legacy tree it also carries
    best = max(profiles.values(), key=lambda p: p.score("1.3.6.1.4.1.318.1.3.4.4", ""))
    assert best.name == "apc-rpdu-legacy"
    assert profiles["apc-rpdu2"].score("1.3.6.1.4.1.99", "MN:AP8858 apc_hw05_rpdu2g") == 1
    # prefixes match whole arcs: Sentry4's .1718.4 is not .1718.40
    assert profiles["servertech-sentry4"].score("1.3.6.1.4.1.1718.4", "") > 0
    assert profiles["servertech-sentry4"].score("1.3.6.1.4.1.1718.40", "") == 0


def test_legacy_apc_tree_when_forced(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, profile="apc-rpdu-legacy")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
    assert [(r.table, r.index, r.power_w) for r in poll.rows] == [("input", "0", 2577)]


def test_pdu_outlets_are_a_breakdown_never_added_to_the_it_total(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim)]})
    with running(cfg) as c:
        c.snmp.run_cycle()
        roles = dict(c.ledger.execute("SELECT role, COUNT(*) FROM meters GROUP BY role"))
    assert roles == {"it": 1, "it:outlet": 24, "it:phase": 1}  # IT = the PDU input, once


# -- datacenter dashboard against a real Prometheus ------------------------------------------


@pytest.fixture(scope="module")
def dc_prometheus(tmp_path_factory, sim):
    import sys

    from services import Prometheus

    tmp = tmp_path_factory.mktemp("dc-dash")
    devices = [
        device(sim, "pdu-a", rack="R04"),
        device(sim, "ups-1", "ups-rfc1628", category=1),
        device(sim, "tgbt", "raritan-px3", role="facility"),
        device(sim, "sw-1", "cisco-switch-poe", role="network"),
    ]
    # a few seconds of polls stand for today here: no share of the day asked of each side
    # before a PUE (compliance.coverage_min; the rule itself: tests/test_one_truth.py)
    cfg = make_config(
        tmp, snmp={"interval_s": 1, "devices": devices}, compliance={"coverage_min": 0}
    )
    with running(cfg) as c:
        prom = Prometheus(tmp / "prom", [f"127.0.0.1:{c.http.port}"]).start()
        try:
            from collector_helpers import wait_for

            wait_for(lambda: prom.ready() and prom.query("up == 1"), 30, "first scrape")
            for _ in range(4):  # polls between scrapes: counters seen growing
                c.snmp.run_cycle()
                time.sleep(1.5)
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dashboards"))
            yield c, prom
        finally:
            prom.stop()


def _dc_panels():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dashboards"))
    import build

    return build.DATACENTER


@pytest.mark.parametrize("panel", _dc_panels(), ids=[p.en for p in _dc_panels()])
def test_datacenter_panel_queries_return_expected_series(dc_prometheus, panel):
    check_panel(dc_prometheus[1], panel)


def test_datacenter_panels_show_the_recorded_loads(dc_prometheus):
    _, prom = dc_prometheus
    power = {
        (r["metric"]["role"]): float(r["value"][1])
        for r in prom.query("sum by (role) (energy_dc_power_watts)")
    }
    # IT at one measurement point: the UPS output (16,930 W, category 1) and not the APC
    # PDU (2,580 W, category 2) it feeds on top; facility: the PX3 inlet
    assert power == {"it": 16930, "facility": 2184, "network": pytest.approx(331)}
    by_cat = {
        r["metric"]["category"]: float(r["value"][1])
        for r in prom.query("energy_dc_it_power_watts")
    }
    assert by_cat == {"1": 16930, "2": 2580}
    (losses,) = prom.query(
        'sum by (device) (energy_snmp_power_watts{table="input"}) - on '
        '(device) sum by (device) (energy_snmp_power_watts{table="output"})'
    )
    assert (losses["metric"]["device"], float(losses["value"][1])) == ("ups-1", 798)
    (rack,) = prom.query("energy_dc_rack_power_watts")
    assert (rack["metric"]["rack"], float(rack["value"][1])) == ("R04", 2580)
    for r in prom.query("energy_dc_coverage_ratio"):
        assert 0 < float(r["value"][1]) <= 1, r
    (today,) = prom.query("energy_dc_pue_today")
    assert today["metric"]["it_category"] == "1"  # the UPS output, not the PDU (2) below it


def test_sysuptime_drop_makes_a_lower_register_an_immediate_reset(tmp_path):
    devices = [{"name": "pdu-r", "host": "127.0.0.1", "datacenter": "dc8", "role": "it"}]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        dev = cfg.snmp.devices[0]
        t0 = 1_790_000_000.0
        c.snmp.account([Poll(dev, t0, rows_at(1000, 500_000.0))])
        c.snmp.account([Poll(dev, t0 + 600, rows_at(1000, 500_200.0))])
        # the PDU rebooted and its register restarted near zero: 40 Wh since the restart
        c.snmp.account([Poll(dev, t0 + 1200, rows_at(1000, 40.0), rebooted=True)])
        (wh,) = c.ledger.execute("SELECT SUM(wh) FROM meter_hours")[0]
        assert wh == pytest.approx(200 + 40)
        c.snmp.account([Poll(dev, t0 + 1800, rows_at(1000, 140.0))])
        (wh,) = c.ledger.execute("SELECT SUM(wh) FROM meter_hours")[0]
        assert wh == pytest.approx(340)


def test_pue_api_per_period_with_category_and_eu_indicators(tmp_path):
    import json
    import urllib.request

    devices = [
        {"name": n, "host": "127.0.0.1", "datacenter": "dc7", "role": role, "category": 1}
        for n, role in (("ups-out", "it"), ("tgbt", "facility"))
    ]
    years = [
        {
            "datacenter": "dc7",
            "year": 2026,
            "water_m3": 120,
            "reused_energy_kwh": 3,
            "renewable_energy_kwh": 9,
        }
    ]
    # two hours stand for their day and their year here: no share of the period asked of
    # each side before a PUE (compliance.coverage_min; the rule: tests/test_one_truth.py)
    cfg = make_config(
        tmp_path,
        snmp={"devices": devices},
        datacenter_years=years,
        compliance={"coverage_min": 0},
    )
    with running(cfg) as c:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        t0 = datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
        it_dev, fac_dev = cfg.snmp.devices
        for k in range(3):  # two hours: 20 kWh IT, 30 kWh facility
            c.snmp.account(
                [
                    Poll(it_dev, t0 + k * 3600, rows_at(10_000, 1e6 + k * 10_000)),
                    Poll(fac_dev, t0 + k * 3600, rows_at(15_000, 2e6 + k * 15_000)),
                ]
            )
        base = url(c, "/api/v1/datacenter")
        with urllib.request.urlopen(f"{base}/pue?datacenter=dc7&period=day&start=2026-03-10") as r:
            day = json.load(r)
        assert (day["pue"], day["it_kwh"], day["facility_kwh"]) == (1.5, 20.0, 30.0)
        assert (day["it_category"], day["it_categories_available"]) == (1, [1])
        with urllib.request.urlopen(
            f"{base}/pue?datacenter=dc7&period=hour&start=2026-03-10T09"
        ) as r:
            hour = json.load(r)
        assert (hour["it_kwh"], hour["it_coverage"]) == (10.0, 1.0)
        with urllib.request.urlopen(f"{base}/eu-report?year=2026") as r:
            (row,) = json.load(r)["datacenters"]
        assert row["pue"] == 1.5
        assert row["wue_l_per_kwh"] == pytest.approx(120_000 / 20)
        assert (row["erf"], row["ref"]) == (pytest.approx(0.1), pytest.approx(0.3))


def test_eaton_epdu_rows_and_unsigned32_wrap(tmp_path):
    from collector.sources.snmp.profiles import rows

    eaton = load_profiles()["eaton-epdu"]
    inp, outlet = eaton.tables
    base_in, base_out = "1.3.6.1.4.1.534.6.6.7.3.5.1", "1.3.6.1.4.1.534.6.6.7.6.5.1"
    walked = {
        f"{base_in}.4.0.1": 3120,
        f"{base_in}.5.0.1": 4_294_967_000,
        f"{base_out}.3.0.1": 410,
        f"{base_out}.4.0.1": 12_345,
        "1.3.6.1.4.1.534.6.6.7.6.1.1.3.0.1": "srv-db-01 PSU1",
        f"{base_out}.3.0.2": -1,
        f"{base_out}.4.0.2": 0,
    }
    (row,) = rows(inp, walked)
    assert (row.index, row.power_w, row.energy_wh) == ("0.1", 3120, 4_294_967_000)
    out = rows(outlet, walked)
    assert [(r.label, r.power_w) for r in out] == [("srv-db-01 PSU1", 410), (None, None)]
    devices = [
        {
            "name": "epdu",
            "host": "127.0.0.1",
            "datacenter": "dc6",
            "role": "it",
            "profile": "eaton-epdu",
        }
    ]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        dev = cfg.snmp.devices[0]
        t0 = 1_790_000_000.0
        c.snmp.account([Poll(dev, t0, [row])])
        wrapped = Row("input", "0.1", None, 3120, 200.0, True, False, 4_294_967_296.0)
        c.snmp.account([Poll(dev, t0 + 600, [wrapped])])
        (wh,) = c.ledger.execute("SELECT SUM(wh) FROM meter_hours")[0]
        assert wh == pytest.approx(296 + 200)  # across the 2^32 rollover, not negative


def test_servertech_sentry4_cord_in_tenths_of_kwh_outlets_in_wh(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "st4", "sentry4")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        chosen = c.snmp.state["st4"].profile
    assert chosen is not None and chosen.name == "servertech-sentry4"  # by sysObjectID
    by = {(r.table, r.index): r for r in poll.rows}
    cord = by[("cord", "1.1")]
    assert (cord.label, cord.power_w) == ("Feed A (TD-B3)", 1474)
    elapsed = time.time() - sim.started + 5
    # 98765 tenths of kWh = 9,876,500 Wh; it advances at 1474 W
    assert 9_876_500 <= cord.energy_wh <= 9_876_500 + 1474 * elapsed / 3600 + 100
    outlets = [r for r in poll.rows if r.table == "outlet"]
    assert len(outlets) == 8
    o1 = by[("outlet", "1.1.1")]
    assert (o1.label, o1.power_w) == ("esx-prod-21 PSU1", 312)
    assert 101_111 <= o1.energy_wh <= 101_111 + 312 * elapsed / 3600 + 1  # Wh, not scaled
    unmetered = by[("outlet", "1.1.6")]
    assert (unmetered.power_w, unmetered.energy_wh) == (None, None)  # -1 is missing, not 0
    assert by[("outlet", "1.1.3")].label is None
    assert sum(r.power_w or 0 for r in outlets) == 1474 - 8  # the unit's own draw stays out


def test_datacenter_energy_carries_its_co2e_on_metrics(tmp_path):
    devices = [{"name": "pdu", "host": "127.0.0.1", "datacenter": "dc1", "role": "it"}]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        dev = cfg.snmp.devices[0]
        t0 = 1_790_000_000.0 - 1_790_000_000.0 % 3600
        c.snmp.account([Poll(dev, t0, [Row("input", "1", None, 3000, 10_000.0)])])
        c.snmp.account([Poll(dev, t0 + 600, [Row("input", "1", None, 3000, 10_500.0)])])
        reg = c.metrics.registry
        labels = {"device": "pdu", "table": "input", "role": "it", "datacenter": "dc1"}
        static = c.carbon.static_basis
        g = reg.get_sample_value("energy_snmp_co2e_grams_total", {**labels, "basis": static})
        assert g == pytest.approx(500 * c.carbon.static_kg_per_kwh)  # 0.5 kWh x kg/kWh, in g
        # an hourly series, where loaded, prices each hour at its own factor
        c.carbon.hourly = {int(t0): 0.020}
        c.snmp.account([Poll(dev, t0 + 1200, [Row("input", "1", None, 3000, 11_500.0)])])
        hourly = c.carbon.hourly_basis
        g = reg.get_sample_value("energy_snmp_co2e_grams_total", {**labels, "basis": hourly})
        assert g == pytest.approx(1000 * 0.020)


def test_each_device_polled_at_its_own_interval(tmp_path, sim):
    fast = device(sim, "fast")
    slow = device(sim, "slow", interval_s=3)
    cfg = make_config(tmp_path, snmp={"interval_s": 1, "devices": [fast, slow]})
    with running(cfg) as c:
        assert c.snmp.tick() == 1
        seen: list[list[str]] = []
        for _ in range(4):  # the scheduled loop: only devices whose interval has come
            t0 = time.monotonic()
            seen.append(sorted(p.device.name for p in c.snmp.run_cycle(due_only=True)))
            time.sleep(max(1.0 - (time.monotonic() - t0), 0))
        assert seen == [["fast", "slow"], ["fast"], ["fast"], ["fast", "slow"]]


def test_an_outlet_feeding_cooling_is_carved_out_of_the_it_total(tmp_path, sim):
    """Hand-computed: a PDU (room A) draws 12 kWh in an hour, 2 kWh of it through outlet 3
    into an in-row cooler; the site meter reads 20 kWh. IT = 10 kWh, cooling 2 kWh: PUE 2.0,
    the room's pPUE (10 + 2) / 10 = 1.2. Live power likewise, from the recording's outlets."""
    pdu = {
        "name": "pdu-1",
        "host": "127.0.0.1",
        "datacenter": "dc9",
        "room": "A",
        "role": "it",
        "outlet_roles": {"outlet:3": "cooling"},
    }
    site = {"name": "tgbt", "host": "127.0.0.1", "datacenter": "dc9", "role": "facility"}
    cfg = make_config(tmp_path, snmp={"devices": [pdu, site]})
    with running(cfg) as c:
        p: Poller = c.snmp
        p.profiles = load_profiles()
        t0 = 1_790_000_000.0 // 3600 * 3600
        pdu_cfg, site_cfg = cfg.snmp.devices
        for t, f in ((t0, 0.0), (t0 + 3600, 1.0)):
            rows = [
                Row("input", "1", "main", 12_000.0, 1e6 + f * 12_000),
                Row("outlet", "1", "srv-1", 10_000.0, 5e5 + f * 10_000, breakdown=True),
                Row("outlet", "3", "cooler", 2_000.0, 7e5 + f * 2_000, breakdown=True),
            ]
            p.account([Poll(pdu_cfg, t, rows), Poll(site_cfg, t, rows_at(20_000, 9e6 + f * 20e3))])
        result = pue(c.ledger, "dc9", t0, t0 + 3600, coverage_min=COVERAGE_MIN)
        assert (result.it.wh, result.facility.wh) == (pytest.approx(10_000), 20_000)
        assert result.value == pytest.approx(2.0)
        zone = partial_pue(c.ledger, "dc9", "A", t0, t0 + 3600, coverage_min=COVERAGE_MIN)
        assert zone.value == pytest.approx(1.2)
        (role, part_of) = c.ledger.execute(
            "SELECT role, part_of FROM meters WHERE meter = 'pdu-1:outlet:3'"
        )[0]
        assert (role, part_of) == ("cooling", "it")
    # live: the recording's outlet 3 (251 W) moves from IT to cooling
    live = {**device(sim, "pdu-a"), "outlet_roles": {"esx-prod-03 PSU1": "cooling"}}
    cfg = make_config(tmp_path / "live", snmp={"devices": [live]})
    with running(cfg) as c:
        c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_dc_power_watts", role="it") == 2580 - 251
        assert metric(text, "energy_dc_power_watts", role="cooling") == 251


def test_outlet_mappings_name_known_hypervisors_and_roles(tmp_path):
    from energy_common.configspec import ConfigError

    bad_server = {"name": "p", "host": "h", "outlets": {"outlet:1": "esx-nope"}}
    with pytest.raises(ConfigError, match=r"snmp.devices\[0\].outlets.outlet:1: 'esx-nope'"):
        make_config(tmp_path, snmp={"devices": [bad_server]})
    bad_role = {"name": "p", "host": "h", "outlet_roles": {"outlet:1": "it"}}
    with pytest.raises(ConfigError, match=r"outlet_roles.outlet:1: 'it': use one of"):
        make_config(tmp_path, snmp={"devices": [bad_role]})


def test_credentials_from_files_and_a_missing_file_named(tmp_path, sim):
    from collector.app import Collector
    from energy_common.configspec import ConfigError

    secret = tmp_path / "community"
    secret.write_text("apc-rpdu2\n")
    dev = {**device(sim), "community": "wrong", "community_file": str(secret)}
    cfg = make_config(tmp_path, snmp={"devices": [dev]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        assert len(poll.rows) == 1 + 1 + 24  # input, phase, outlets
    dev["community_file"] = str(tmp_path / "absent")
    cfg = make_config(tmp_path / "2", snmp={"devices": [dev]})
    with pytest.raises(ConfigError, match=r"snmp.devices\[0\].community_file: cannot read"):
        Collector(cfg)  # at start, before anything runs


@pytest.mark.parametrize(
    ("community", "profile", "table"),
    [
        ("ups-vendor-oid", "ups-mib", "output"),
        ("switch-other-vendor", "network-entity-sensor", "psu"),
    ],
)
def test_devices_no_profile_claims_are_recognised_by_their_standard_mibs(
    tmp_path, sim, community, profile, table
):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "dev", community)]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        assert c.snmp.state["dev"].profile.name == profile
        assert [r for r in poll.rows if r.table == table]


def test_a_device_speaking_no_known_mib_says_what_to_do(tmp_path, sim, caplog):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "odd", "odd-device")]})
    with running(cfg) as c:
        assert c.snmp.run_cycle() == []
    assert "set `profile:` or add one" in caplog.text


def test_the_try_it_config_polls_every_recording_it_names(tmp_path, sim):
    """docs/snmp-profiles.md "Try it without devices": configs/collector.snmpsim.yaml against
    snmpsim serving the test recordings (here on the test's port and a temporary ledger)."""
    import yaml

    doc = yaml.safe_load(
        (Path(__file__).parent.parent / "configs/collector.snmpsim.yaml").read_text()
    )
    for d in doc["snmp"]["devices"]:
        d["port"] = sim.port
    doc["snmp"]["enabled"] = False  # cycles driven by the test, not the poller's thread
    cfg = make_config(tmp_path, snmp=doc["snmp"], model=doc["model"])
    with running(cfg) as c:
        polls = c.snmp.run_cycle()
        assert sorted(p.device.name for p in polls) == sorted(
            d["name"] for d in doc["snmp"]["devices"]
        )
        assert all(p.rows for p in polls)
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_dc_power_watts", datacenter="dc1", role="facility") > 0
        # as the doc says: the site meter's 29.4 kW over the UPS output's 16.93 kW
        ratio = metric(text, "energy_dc_power_ratio", datacenter="dc1")
        assert ratio == pytest.approx(29_400 / 16_930)


def test_ups_output_and_pdus_are_one_it_load_seen_twice_not_added(tmp_path):
    """Hand-computed: the UPS output (category 1) reads 12 kWh in an hour, the PDUs it feeds
    (category 2) 11 kWh of it, the site meter 18 kWh. PUE1 = 18 / 12 = 1.5 by default (the
    lowest category covers the whole load), PUE2 = 18 / 11 on request, never 18 / 23."""
    devices = [
        {"name": "ups", "host": "127.0.0.1", "datacenter": "dc8", "role": "it", "category": 1},
        {"name": "pdu", "host": "127.0.0.1", "datacenter": "dc8", "role": "it", "category": 2},
        {"name": "tgbt", "host": "127.0.0.1", "datacenter": "dc8", "role": "facility"},
    ]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        p: Poller = c.snmp
        t0 = 1_790_000_000.0 // 3600 * 3600
        used = {"ups": 12_000.0, "pdu": 11_000.0, "tgbt": 18_000.0}
        for t, f in ((t0, 0.0), (t0 + 3600, 1.0)):
            p.account(
                [
                    Poll(d, t, rows_at(used[d.name], 1e6 + f * used[d.name]))
                    for d in cfg.snmp.devices
                ]
            )
        default = pue(c.ledger, "dc8", t0, t0 + 3600, coverage_min=COVERAGE_MIN)
        assert (default.category, default.categories) == (1, (1, 2))
        assert default.value == pytest.approx(1.5)
        two = pue(c.ledger, "dc8", t0, t0 + 3600, category=2, coverage_min=COVERAGE_MIN)
        assert two.value == pytest.approx(18 / 11)
        from datetime import datetime
        from zoneinfo import ZoneInfo

        day = datetime.fromtimestamp(t0, ZoneInfo("Europe/Paris")).date().isoformat()
        base = url(c, f"/api/v1/datacenter/pue?datacenter=dc8&period=day&start={day}")
        with urllib.request.urlopen(base + "&category=2") as r:
            doc = json.load(r)
        assert (doc["it_category"], doc["it_kwh"]) == (2, 11.0)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "&category=3")
        assert err.value.code == 400
        assert "no IT meter of category 3" in err.value.read().decode()


def test_one_devices_failure_never_stops_the_others(tmp_path, sim):
    """A device whose poll raises (its forced profile gone at run time: a KeyError inside
    the poll; check-config refuses an unknown one) and a device whose readings the ledger
    refuses are failures of their own; the healthy UPS beside them is polled and stored."""
    bad = device(sim, "bad-profile", profile="eaton-epdu")
    ups = device(sim, "ups-1", "ups-rfc1628")
    poison = device(sim, "pdu-poison")
    cfg = make_config(tmp_path, snmp={"devices": [bad, ups, poison]})
    with running(cfg) as c:
        del c.snmp.profiles["eaton-epdu"]
        real = c.snmp._poll_rows

        def refusing(cur, poll, *rest):
            real(cur, poll, *rest)
            if poll.device.name == "pdu-poison":  # a value the database cannot store
                cur.execute("INSERT INTO meter_hours VALUES (?, ?, 0, 0)", ("x", 2**70))

        c.snmp._poll_rows = refusing
        polls = c.snmp.run_cycle()
        assert sorted(p.device.name for p in polls) == ["pdu-poison", "ups-1"]
        stored = {m for (m,) in c.ledger.execute("SELECT DISTINCT meter FROM meter_state")}
        assert any(m.startswith("ups-1") for m in stored), stored
        assert not any(m.startswith("pdu-poison") for m in stored), stored
        text = scrape(url(c, "/metrics"))
        errors = "energy_snmp_poll_errors_total"
        assert metric(text, errors, device="bad-profile", reason="internal") == 1
        assert metric(text, errors, device="pdu-poison", reason="ledger") == 1
        assert metric(text, "energy_snmp_up", device="ups-1") == 1


def test_a_register_restored_to_a_lower_stored_value_starts_a_new_segment(tmp_path):
    """A PDU card that reboots to a stored register (no sysUpTime drop seen) reads lower but
    far from zero: after the confirming reading a new segment starts at that value; one
    interval is lost, nothing stalls, the event is counted."""
    devices = [{"name": "pdu-s", "host": "127.0.0.1", "datacenter": "dc7", "role": "it"}]
    cfg = make_config(tmp_path, snmp={"devices": devices})
    with running(cfg) as c:
        dev = cfg.snmp.devices[0]
        t0 = 1_790_000_000.0
        readings = [900_000.0, 900_200.0, 600_000.0, 600_150.0, 600_300.0, 600_450.0]
        for i, wh in enumerate(readings):
            c.snmp.account([Poll(dev, t0 + 600 * i, rows_at(900, wh))])
        (wh,) = c.ledger.execute("SELECT SUM(wh) FROM meter_hours")[0]
        # 200 before; the interval to the first low reading lost; then 150 + 150 + 150
        assert wh == pytest.approx(200 + 450)
        text = scrape(url(c, "/metrics"))
        assert "rebase" in text


def test_the_dashboards_pue_takes_one_it_measurement_point(dc_prometheus):
    """The UPS output (category 1) and the PDU below it (category 2) measure the same load:
    the dashboard's PUE over the range divides by the category the API uses, not by both
    (the field trial read 1.51 on the dashboard where the API said 1.74)."""
    _, prom = dc_prometheus
    expr = _dc_panels()[0].exprs[0].replace("$__range", "10m").replace("$datacenter", ".*")
    at = time.time()  # every query at the same instant: increase() extrapolates to it
    (panel,) = prom.query(expr, at)
    fac = prom.query('sum(increase(energy_snmp_energy_wh_total{role="facility"}[10m]))', at)
    it1 = prom.query('sum(increase(energy_snmp_energy_wh_total{role="it",category="1"}[10m]))', at)
    f, one = (float(q[0]["value"][1]) for q in (fac, it1))
    assert one > 0
    assert float(panel["value"][1]) == pytest.approx(f / one, rel=1e-9)
    # which category the PUE takes, per datacenter, as the API: the lowest present (the
    # recording's PDU register is flat, so its energy alone would not show the double count)
    cats = {
        r["metric"]["category"]: float(r["value"][1])
        for r in prom.query("energy_dc_pue_category", at)
    }
    assert cats == {"1": 1.0, "2": 0.0}


def test_the_first_poll_says_which_profile_and_a_profile_that_fits_nothing_shows(
    tmp_path, sim, caplog
):
    """Ops see which profile each device got (log and /metrics), and a forced profile whose
    tables the device does not have is a warning and `energy_snmp_rows == 0`, not silence."""
    good = device(sim, "pdu-a")
    wrong = device(sim, "ups-as-pdu", "ups-rfc1628", profile="raritan-pdu2")
    cfg = make_config(tmp_path, snmp={"devices": [good, wrong]})
    with running(cfg) as c, caplog.at_level("INFO", logger="energy_collector.snmp"):
        c.snmp.run_cycle()
        c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
    messages = [r.getMessage() for r in caplog.records]
    assert any("pdu-a: profile apc-rpdu2 (sysObjectID" in m for m in messages)
    assert any("ups-as-pdu: profile raritan-pdu2 (forced in the config)" in m for m in messages)
    assert sum("found none of its tables" in m for m in messages) == 1  # once, not every poll
    assert metric(text, "energy_snmp_profile", device="pdu-a", profile="apc-rpdu2") == 1
    assert metric(text, "energy_snmp_rows", device="ups-as-pdu") == 0
    assert metric(text, "energy_snmp_rows", device="pdu-a") > 0


def test_status_shows_the_datacenter_side(dc_prometheus):
    from collector.cli import status_table

    c, _ = dc_prometheus
    doc = json.loads(scrape(url(c, "/api/v1/status")))
    dc = doc["datacenters"]["dc1"]
    assert (dc["devices"], dc["up"]) == (4, 4)
    assert dc["it_w"] == 16930 and dc["facility_w"] == 2184  # one IT measurement point
    assert dc["it_category"] == 1 and dc["pue_today"] is not None
    assert "datacenter dc1: 4/4 devices answering, IT 16930 W, facility 2184 W" in status_table(doc)
