"""Switches without a power sensor, against snmpsim recordings written from the MIBs (a
Cisco 2960-X-like and a Juniper EX3400-like switch publishing PoE figures only): the device
is modelled (its model's typical power from the configuration or the shipped table, plus the
PoE it delivers), labelled so, stored as estimated energy of the network role; a model
whose typical power is unknown counts its PoE and says so; a switch with PSU sensors is
measured, not modelled."""

from __future__ import annotations

import time

import pytest
from collector_helpers import make_config, metric, running, scrape, url
from snmp_helpers import device, serve

from collector.sources.snmp.network_models import Model, identify, load_table

USED = ("cisco-2960x", "juniper-ex3400", "cisco-switch-poe")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    yield from serve(tmp_path_factory, USED)


def switch(sim, name, community):
    return device(sim, name, community, role="network")


def test_a_2960x_is_modelled_from_its_configured_typical_power_plus_poe(tmp_path, sim):
    snmp = {
        "devices": [switch(sim, "sw-2960", "cisco-2960x")],
        "network_models": {"WS-C2960X-48FPD-L": 48.5},
    }
    cfg = make_config(tmp_path, snmp=snmp)
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        by = {(r.table, r.index): r for r in poll.rows}
        modelled = by[("modelled", "0")]
        # 48.5 W typical (configured for this model) + 212 W of PoE delivered
        assert modelled.power_w == pytest.approx(48.5 + 212)
        assert modelled.label == "WS-C2960X-48FPD-L (config)"
        assert (by[("poe", "1")].power_w, by[("poe", "1")].account) == (212, False)
        assert modelled.account and not modelled.breakdown
        status = {(spec.name, i): v for spec, i, v in poll.status}
        assert status[("psu_state", "1001")] == 1  # CISCO-ENVMON: normal, no watts
        time.sleep(1.2)
        c.snmp.run_cycle()
        (role, estimated) = c.ledger.execute(
            "SELECT role, estimated FROM meters WHERE meter = 'sw-2960:modelled:0'"
        )[0]
        assert (role, estimated) == ("network", 1)
        (wh,) = c.ledger.execute(
            "SELECT SUM(wh) FROM meter_hours WHERE meter = 'sw-2960:modelled:0'"
        )[0]
        assert wh > 0
        text = scrape(url(c, "/metrics"))
        gauge = "energy_snmp_network_modelled_watts"
        assert metric(text, gauge, device="sw-2960", basis="config") == pytest.approx(260.5)
        assert metric(text, "energy_dc_power_watts", role="network") == pytest.approx(260.5)


def test_an_ex3400_of_unknown_typical_power_counts_its_poe_and_says_so(tmp_path, sim, caplog):
    cfg = make_config(tmp_path, snmp={"devices": [switch(sim, "sw-ex", "juniper-ex3400")]})
    with running(cfg) as c, caplog.at_level("WARNING", logger="energy_collector.snmp"):
        (poll,) = c.snmp.run_cycle()
        assert c.snmp.state["sw-ex"].profile.name == "network-entity-sensor"  # by its PSE
        (modelled,) = [r for r in poll.rows if r.table == "modelled"]
        assert modelled.power_w == 96 and modelled.label == "EX3400 (poe_only)"
        text = scrape(url(c, "/metrics"))
    assert metric(text, "energy_snmp_network_modelled_watts", basis="poe_only") == 96
    assert any("counting the PoE it delivers only" in r.getMessage() for r in caplog.records)


def test_the_configured_model_power_wins_over_the_table_for_an_ex3400(tmp_path, sim):
    snmp = {"devices": [switch(sim, "sw-ex", "juniper-ex3400")], "network_models": {"EX3400": 61}}
    cfg = make_config(tmp_path, snmp=snmp)
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
    (modelled,) = [r for r in poll.rows if r.table == "modelled"]
    assert (modelled.power_w, modelled.label) == (61 + 96, "EX3400 (config)")


def test_a_switch_with_psu_sensors_is_measured_not_modelled(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [switch(sim, "sw", "cisco-switch-poe")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
    assert not [r for r in poll.rows if r.table == "modelled"]
    assert [r for r in poll.rows if r.table == "psu" and r.power_w]


def test_the_shipped_table_names_its_source_and_matches_the_variant_first():
    table = load_table()
    assert all(m.source for m in table)
    assert all(m.typical_w is None or m.typical_w > 0 for m in table)
    found = identify(table, "1.3.6.1.4.1.2636.1.1.1.2.131", ["EX3400-48P"])
    assert found is not None and found.model == "EX3400-48P"  # the variant, not the family
    found = identify(table, "1.3.6.1.4.1.9.1.1690", [])
    assert found is not None and found.model == "WS-C2960X-48FPD-L"
    assert identify([Model("x", ("1.2.3",), (), 10.0, "s")], "1.2.30", []) is None  # arcs


def test_a_configured_model_power_must_be_watts(tmp_path):
    from energy_common.configspec import ConfigError

    with pytest.raises(ConfigError, match=r"snmp.network_models.WS-X: 'lots': expected watts"):
        make_config(tmp_path, snmp={"network_models": {"WS-X": "lots"}})
