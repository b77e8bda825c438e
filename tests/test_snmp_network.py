"""Switches and access points without a power sensor, against snmpsim recordings written from
the MIBs (a Cisco 2960-X-like and a Juniper EX3400-like switch publishing PoE figures only, a
data-only 2960-X, an Aruba AP-315): the device is modelled (its model's power from the
configuration or the shipped table, plus the PoE it delivers), labelled so, stored as
estimated energy of the network role; a model whose power is unknown counts its PoE and says
so; an access point fed by PoE is shown but never added (its power is inside its switch's
PoE), one on the mains is counted; the yearly report's network line says its basis; a switch
with PSU sensors is measured, not modelled."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from collector_helpers import make_config, metric, running, scrape, url
from snmp_helpers import device, serve

from collector.sources.snmp.network_models import Model, identify, load_table
from collector.yearly import basis, html
from collector.yearly.build import settings
from collector.yearly.figures import compute, year_bounds

USED = (
    "cisco-2960x",
    "juniper-ex3400",
    "cisco-switch-poe",
    "cisco-2960x-24td",
    "aruba-ap315",
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    yield from serve(tmp_path_factory, USED)


def switch(sim, name, community, **kw):
    return device(sim, name, community, **{"role": "network", **kw})


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
    found, how = identify(table, "1.3.6.1.4.1.2636.1.1.1.2.131", ["EX3400-48P"])
    assert found is not None and found.model == "EX3400-48P"  # the variant, not the family
    assert how == "entPhysicalModelName EX3400-48P"
    found, how = identify(table, "1.3.6.1.4.1.9.1.1690", [])
    assert found is not None and found.model == "WS-C2960X-48FPD-L"
    assert how == "sysObjectID 1.3.6.1.4.1.9.1.1690"
    assert identify([Model("x", ("1.2.3",), (), 10.0, "s")], "1.2.30", [])[0] is None  # arcs
    # access points are fed by PoE unless their entry says otherwise; switches on the mains
    aps = [m for m in table if m.kind == "ap"]
    assert aps and all(m.powered_by == "poe" for m in aps)
    assert all(m.powered_by == "mains" for m in table if m.kind == "switch")
    names = {m.model for m in table}
    for family in ("WS-C2960X-48FPD-L", "C9200L-48P-4G", "C9300-48P", "EX3400", "EX2300"):
        assert family in names
    assert {"C9120AXI", "AP-515", "Aruba 2930F-48G-PoE+-4SFP+ (JL256A)"} <= names


def test_a_data_only_2960x_is_modelled_from_the_shipped_tables_figure(tmp_path, sim):
    cfg = make_config(tmp_path, snmp={"devices": [switch(sim, "sw-24td", "cisco-2960x-24td")]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
    (modelled,) = [r for r in poll.rows if r.table == "modelled"]
    # 33.1 W: Cisco white paper C11-728857 (network-models.yaml); no PoE on this model
    assert (modelled.power_w, modelled.label) == (33.1, "WS-C2960X-24TD-L (table)")
    assert metric(text, "energy_snmp_network_modelled_watts", device="sw-24td", basis="table") == (
        pytest.approx(33.1)
    )


def test_an_access_point_fed_by_poe_is_shown_never_added(tmp_path, sim):
    snmp = {
        "devices": [switch(sim, "sw-2960", "cisco-2960x"), switch(sim, "ap-1", "aruba-ap315")],
        "network_models": {"WS-C2960X-48FPD-L": 48.5},
    }
    cfg = make_config(tmp_path, snmp=snmp)
    with running(cfg) as c:
        (_sw, ap) = c.snmp.run_cycle()
        assert c.snmp.state["ap-1"].profile.name == "network-entity-sensor"  # ARUBA-MIB arc
        (row,) = [r for r in ap.rows if r.table in ("modelled", "poe_fed")]
        # AP-315: only the datasheet's worst case is known (14.4 W): an upper bound, PoE-fed
        assert (row.table, row.power_w, row.breakdown) == ("poe_fed", 14.4, True)
        assert row.label == "AP-315 (table_max, PoE-fed)"
        time.sleep(1.2)
        c.snmp.run_cycle()
        roles = dict(c.ledger.execute("SELECT meter, role FROM meters WHERE meter LIKE 'ap-1:%'"))
        assert roles == {"ap-1:poe_fed:0": "network:poe_fed"}  # recorded, as a breakdown
        text = scrape(url(c, "/metrics"))
    # the network's power now is the switch's (48.5 + 212 W of PoE, the AP's share inside)
    assert metric(text, "energy_dc_power_watts", role="network") == pytest.approx(260.5)
    gauge = "energy_snmp_network_modelled_watts"
    assert metric(text, gauge, device="ap-1", basis="table_max", powered_by="poe") == 14.4


def test_an_access_point_on_the_mains_is_counted(tmp_path, sim):
    snmp = {
        "devices": [
            switch(sim, "sw-2960", "cisco-2960x"),
            switch(sim, "ap-1", "aruba-ap315", powered_by="mains"),
        ],
        "network_models": {"WS-C2960X-48FPD-L": 48.5},
    }
    cfg = make_config(tmp_path, snmp=snmp)
    with running(cfg) as c:
        (_, ap) = c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
    (row,) = [r for r in ap.rows if r.table in ("modelled", "poe_fed")]
    assert (row.table, row.power_w, row.breakdown) == ("modelled", 14.4, False)
    assert metric(text, "energy_dc_power_watts", role="network") == pytest.approx(260.5 + 14.4)


def test_a_models_powered_by_is_configurable_and_checked(tmp_path, sim):
    from energy_common.configspec import ConfigError

    snmp = {
        "devices": [switch(sim, "ap-1", "aruba-ap315")],
        "network_powered_by": {"AP-315": "mains"},
    }
    with running(make_config(tmp_path, snmp=snmp)) as c:
        (ap,) = c.snmp.run_cycle()
    assert [r.table for r in ap.rows if r.table in ("modelled", "poe_fed")] == ["modelled"]
    with pytest.raises(ConfigError, match=r"network_powered_by.AP-315: 'wall': use poe or mains"):
        make_config(tmp_path, snmp={"network_powered_by": {"AP-315": "wall"}})


def test_the_yearly_network_line_says_its_basis_and_lower_bound(tmp_path, sim):
    # gear in the buildings (no datacenter): a switch of configured power, one without a
    # figure (its PoE only: a lower bound), an access point fed by PoE (not added)
    devices = [
        switch(sim, "sw-2960", "cisco-2960x", datacenter=None),
        switch(sim, "sw-ex", "juniper-ex3400", datacenter=None),
        switch(sim, "ap-1", "aruba-ap315", datacenter=None),
    ]
    snmp = {"devices": devices, "network_models": {"WS-C2960X-48FPD-L": 48.5}}
    cfg = make_config(tmp_path, snmp=snmp)
    with running(cfg) as c:
        c.snmp.run_cycle()
        time.sleep(1.5)
        c.snmp.run_cycle()
        s = settings(cfg)
        year = time.localtime().tm_year
        start, end = year_bounds(year, s.tz)
        until = min(end, time.time() + 1)
        wh = dict(
            c.ledger.execute(
                "SELECT m.role, SUM(h.wh) FROM meter_hours h JOIN meters m ON m.meter = h.meter "
                "GROUP BY m.role"
            )
        )
        doc, _ = compute(c.ledger, year, s)
        parts = basis.meter_parts(c.ledger, start, until, s.tz, s.carbon)
    (net,) = [r for r in doc["energy"]["by_kind"] if r["kind"] == "network"]
    assert wh["network"] > 0 and wh["network:poe_fed"] > 0
    by_basis = net["kwh_by_basis"]
    assert by_basis["modelled"] == pytest.approx(wh["network"] / 1000, abs=1e-6)
    assert by_basis["measured"] == 0 and net["in_total"]
    assert (net["lower_bound"], net["poe_only_devices"], net["modelled_devices"]) == (True, 1, 2)
    assert net["poe_fed_devices"] == 1
    assert net["poe_fed_kwh"] == pytest.approx(wh["network:poe_fed"] / 1000, abs=1e-6)
    # the total's basis counts the modelled network as modelled, not as measured
    origins = {k[4] for k in basis.counted_meters(parts) if k[1] == "network"}
    assert origins == {"modelled"}
    # the report (the web's /report/<year> and the PDF) says so in words
    page = html.render(doc, "en")
    assert "Network outside the datacenters:" in page
    assert "A lower bound: 1 devices have no known power figure" in page
    assert "Access points fed by PoE (1 devices" in page
    assert "Réseau hors des centres de données" in html.render(doc, "fr")


def test_no_network_line_for_a_year_before_the_gear_was_polled(tmp_path, sim):
    cfg = make_config(
        tmp_path, snmp={"devices": [switch(sim, "sw-ex", "juniper-ex3400", datacenter=None)]}
    )
    with running(cfg) as c:
        c.snmp.run_cycle()
        time.sleep(1.2)
        c.snmp.run_cycle()
        s = settings(cfg)
        year = time.localtime().tm_year
        now_line = basis.network_line(c.ledger, *year_bounds(year, s.tz))
        before = basis.network_line(c.ledger, *year_bounds(year - 1, s.tz))
    assert now_line is not None and now_line["lower_bound"]
    assert before is None


def test_a_configured_model_power_must_be_watts(tmp_path):
    from energy_common.configspec import ConfigError

    with pytest.raises(ConfigError, match=r"snmp.network_models.WS-X: 'lots': expected watts"):
        make_config(tmp_path, snmp={"network_models": {"WS-X": "lots"}})


def test_check_config_says_which_shipped_entry_each_override_replaces(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "snmp:\n  network_models: {WS-C2960X-48FPD-L: 48.5, MY-SWITCH-9: 20}\n"
        "  network_powered_by: {AP-315: mains}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "check-config", "-c", str(p)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert (
        "snmp network model WS-C2960X-48FPD-L: 48.5 W + PoE (basis config); replaces shipped "
        "entry WS-C2960X-48FPD-L (no figure, switch, mains)" in out
    )
    assert "snmp network model MY-SWITCH-9: 20 W + PoE (basis config); no shipped entry" in out
    assert "AP-315: powered by mains; replaces shipped entry AP-315 (14.4 W max, ap, poe)" in out


def test_a_device_fed_by_poe_with_its_own_sensor_is_never_added(tmp_path, sim):
    # a PoE-powered device reporting its own input power: inside its switch's PoE too
    fed = switch(sim, "sw-small", "cisco-switch-poe", powered_by="poe")
    cfg = make_config(tmp_path, snmp={"devices": [fed]})
    with running(cfg) as c:
        (poll,) = c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
    psu = [r for r in poll.rows if r.table == "psu" and r.power_w]
    assert psu and all(r.breakdown for r in psu)
    assert metric(text, "energy_dc_power_watts", role="network") == 0
