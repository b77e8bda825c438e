"""What a device's values mean, against real snmpsim agents: a MIB's "not available" filler
and out-of-range values are no reading (counted, logged, never energy); two outlets with one
name stay two series; a device without sysUpTime.0 is polled with reboot detection degraded
(and says so); an APC Easy PDU is read through PowerNet's ePDU tree, not the legacy rPDU one
its sysObjectID prefix also matches."""

from __future__ import annotations

import time

import pytest
from collector_helpers import make_config, metric, running, scrape, url
from snmp_helpers import device, serve

from collector.sources.snmp.poller import Poll
from collector.sources.snmp.profiles import Row, load_profiles, rows

USED = (
    "ups-socomec-filler",
    "rpdu2-no-uptime",
    "rpdu2-uptime-generr",
    "apc-epdu",
    "apc-rpdu2",
    "tripplite-upsmib-only",
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    yield from serve(tmp_path_factory, USED)


def test_a_socomec_not_available_filler_is_no_reading_counted_and_logged(tmp_path, sim, caplog):
    """The card publishes 65535 for the input power it does not measure (and for minutes
    remaining): taken as 65,535 W it made 65 kWh an hour. Now: no reading, no energy, a
    count per poll and one log line."""
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "ups-s", "ups-socomec-filler")]})
    with running(cfg) as c, caplog.at_level("WARNING", logger="energy_collector.snmp"):
        (poll,) = c.snmp.run_cycle()
        assert c.snmp.state["ups-s"].profile.name == "ups-mib"  # by probing UPS-MIB
        by = {(r.table, r.index): r for r in poll.rows}
        assert by[("input", "1")].power_w is None
        assert by[("input", "1")].rejected == (("power_w", "sentinel", 65535),)
        assert by[("output", "1")].power_w == 2310
        status = {spec.name: v for spec, _, v in poll.status}
        assert "battery_minutes_remaining" not in status  # 65535 there too
        assert status["battery_charge_percent"] == 100
        time.sleep(1.2)
        c.snmp.run_cycle()
        meters = {m for (m,) in c.ledger.execute("SELECT DISTINCT meter FROM meter_hours")}
        assert meters == {"ups-s:output:1"}  # the input's filler never became energy
        (wh,) = c.ledger.execute("SELECT SUM(wh) FROM meter_hours")[0]
        assert wh < 2310 * 5 / 3600  # the output's few seconds, nothing like 65 kWh/h
        text = scrape(url(c, "/metrics"))
        rejected = "energy_snmp_readings_rejected_total"
        assert metric(text, rejected, device="ups-s", table="input", reason="sentinel") == 2
        assert metric(text, "energy_snmp_power_watts", device="ups-s", table="input") == 0
    said = [r.getMessage() for r in caplog.records if "is not a reading" in r.getMessage()]
    assert len(said) == 1 and "input:1 power_w = 65535" in said[0]  # once, not every poll


def test_values_outside_the_objects_range_or_max_power_are_no_reading():
    col_doc = {"column": 4, "valid": [0, 100000], "missing": [2147483647]}
    from collector.sources.snmp.profiles import _column

    col = _column(col_doc, "t")
    from collector.sources.snmp.profiles import Table

    table = Table("input", "1.2.3", None, col, None)
    walked = {"1.2.3.4.1": 2147483647, "1.2.3.4.2": 100001, "1.2.3.4.3": -7, "1.2.3.4.4": "x"}
    got = {r.index: (r.power_w, r.rejected) for r in rows(table, walked)}
    assert got == {
        "1": (None, (("power_w", "sentinel", 2147483647),)),
        "2": (None, (("power_w", "range", 100001),)),
        "3": (None, (("power_w", "range", -7),)),
        "4": (None, (("power_w", "not_a_number", "x"),)),
    }
    from prometheus_client import CollectorRegistry

    from collector.sources.snmp.validity import Rejections

    rej = Rejections(CollectorRegistry())
    (row,) = rej.screen("d", [Row("input", "1", None, 250_000.0, None)], max_power_w=200_000)
    assert row.power_w is None and row.rejected == (("power_w", "range", 250_000.0),)


def test_two_outlets_with_one_name_stay_two_series(tmp_path):
    """Both PSUs of one server are often named alike: the outlets are told apart by their
    index (a label), so /metrics keeps both and the dashboards see both."""
    dev = {"name": "pdu", "host": "127.0.0.1", "datacenter": "dc1", "role": "it"}
    cfg = make_config(tmp_path, snmp={"devices": [dev]})
    with running(cfg) as c:
        d = cfg.snmp.devices[0]
        same = "esx-prod-07"
        rows_ = [
            Row("outlet", "3", same, 240.0, 1000.0, breakdown=True),
            Row("outlet", "4", same, 230.0, 2000.0, breakdown=True),
        ]
        c.snmp.account([Poll(d, 1_790_000_000.0, rows_)])
        text = scrape(url(c, "/metrics"))
    series = [
        line
        for line in text.splitlines()
        if line.startswith("energy_snmp_power_watts{") and f'label="{same}"' in line
    ]
    assert len(series) == 2, series
    assert metric(text, "energy_snmp_power_watts", device="pdu", index="3") == 240
    assert metric(text, "energy_snmp_power_watts", device="pdu", index="4") == 230


def test_a_device_without_sysuptime_is_polled_and_says_reboot_detection_is_degraded(
    tmp_path, sim, caplog
):
    from collector.cli import status_table

    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "pdu-n", "rpdu2-no-uptime")]})
    with running(cfg) as c, caplog.at_level("WARNING", logger="energy_collector.snmp"):
        (first,) = c.snmp.run_cycle()
        assert first.rows and not first.rebooted
        time.sleep(1.1)
        (poll2,) = c.snmp.run_cycle()
        assert c.snmp.state["pdu-n"].profile.name == "apc-rpdu2"
        by = {(r.table, r.index): r for r in poll2.rows}
        assert by[("input", "1")].power_w == 2580
        assert not poll2.rebooted
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_snmp_up", device="pdu-n") == 1
        assert metric(text, "energy_snmp_reboot_detection", device="pdu-n") == 0
        status = c.snmp.status()
        assert status["dc1"]["no_sysuptime"] == ["pdu-n"]
        import json

        doc = json.loads(scrape(url(c, "/api/v1/status")))
        assert "no sysUpTime (reboot detection degraded): pdu-n" in status_table(doc)
    said = [r.getMessage() for r in caplog.records if "no sysUpTime.0" in r.getMessage()]
    assert len(said) == 1


def test_a_device_with_sysuptime_has_reboot_detection(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "pdu-a", "apc-rpdu2")]})
    with running(cfg) as c:
        c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_snmp_reboot_detection", device="pdu-a") == 1
        assert "no_sysuptime" not in c.snmp.status()["dc1"]


def test_an_apc_easy_pdu_is_read_through_the_epdu_tree_not_the_legacy_rpdu(tmp_path, sim):
    profiles = load_profiles()
    oid = "1.3.6.1.4.1.318.1.3.4.9"
    assert profiles["apc-rpdu-legacy"].score(oid, "") > 0  # its prefix matches too…
    assert max(profiles.values(), key=lambda p: p.score(oid, "")).name == "apc-epdu"  # …less
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "epdu", "apc-epdu")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        assert c.snmp.state["epdu"].profile.name == "apc-epdu"
    by = {(r.table, r.index): r for r in poll.rows}
    inp = by[("input", "1")]
    assert inp.power_w == 6210  # ePDUDeviceStatusActivePower, watts
    elapsed = time.time() - sim.started + 5
    assert 48_213_000 <= inp.energy_wh <= 48_213_000 + 1.725 * elapsed + 1  # Wh
    phases = [r for r in poll.rows if r.table == "phase"]
    assert [(r.label, r.power_w, r.breakdown) for r in phases] == [
        ("1", 2080, True),
        ("2", 2110, True),
        ("3", 2020, True),
    ]
    assert sum(r.power_w or 0 for r in phases) == inp.power_w
    status = {(spec.name, i): v for spec, i, v in poll.status}
    assert status[("phase_voltage_volts", "2")] == pytest.approx(229.7)  # tenths of V
    assert status[("phase_current_amps", "1")] == pytest.approx(9.20)  # hundredths of A


def test_an_agent_refusing_the_get_for_sysuptime_is_asked_again_without_it(tmp_path, sim):
    """Some agents answer the whole GET with genErr (or noSuchName) for one object they do
    not have: the system group is asked again without sysUpTime.0 and the device is polled."""
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "pdu-g", "rpdu2-uptime-generr")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        assert c.snmp.state["pdu-g"].profile.name == "apc-rpdu2"  # sysObjectID still read
        assert {(r.table, r.index): r.power_w for r in poll.rows}[("input", "1")] == 2580
        assert c.snmp.status()["dc1"]["no_sysuptime"] == ["pdu-g"]


def test_a_vendor_prefix_whose_tables_are_absent_gives_way_to_the_mib_the_device_speaks(
    tmp_path, sim, caplog
):
    """A card under Tripp Lite's enterprise arc that speaks UPS-MIB only: the vendor profile
    its sysObjectID chose finds nothing, the probe finds UPS-MIB, the next poll reads it."""
    cfg = make_config(tmp_path, snmp={"devices": [device(sim, "ups-t", "tripplite-upsmib-only")]})
    with running(cfg) as c, caplog.at_level("WARNING", logger="energy_collector.snmp"):
        (first,) = c.snmp.run_cycle()
        assert first.rows == []
        assert c.snmp.state["ups-t"].profile.name == "ups-mib"
        (second,) = c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
    assert [r.power_w for r in second.rows if r.table == "output"] == [5640, 5910, 5380]
    assert metric(text, "energy_snmp_profile", device="ups-t", profile="ups-mib") == 1
    assert metric(text, "energy_snmp_profile", device="ups-t", profile="tripplite") == 0
    assert any("profile ups-mib from the next poll" in r.getMessage() for r in caplog.records)
