"""Vendor profiles against real snmpsim agents serving recordings written from each MIB's
definitions (tests/fixtures/snmprec/README.md): each device is recognised with no profile
named (its sysObjectID, else the vendor MIB it answers), and every row reads what the MIB's
units and scales say, hand-computed here; fillers and out-of-range values are no reading."""

from __future__ import annotations

import time

import pytest
from collector_helpers import make_config, metric, running, scrape, url
from snmp_helpers import device, serve

USED = (
    "servertech-sentry3",
    "raritan-px1",
    "vertiv-geist",
    "schleifenbauer",
    "hpe-pdu",
    "tripplite",
    "apc-smartups",
    "apc-symmetra-3ph",
    "eaton-xups",
    "liebert-gp",
    "cyberpower-ups",
    "ups-vendor-oid",  # an Eaton card answering UPS-MIB only: still UPS-MIB
    "geist-v3",
    "cyberpower-epdu",
    "tripplite-ups",
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    yield from serve(tmp_path_factory, USED)


def poll(tmp_path, sim, community, **kw):
    dev = device(sim, "dev", community, **kw)
    cfg = make_config(tmp_path, snmp={"devices": [dev]})
    with running(cfg) as c:
        (p,) = c.snmp.run_cycle()
        text = scrape(url(c, "/metrics"))
        profile = c.snmp.state["dev"].profile.name
    by = {(r.table, r.index): r for r in p.rows}
    status = {(spec.name, i): v for spec, i, v in p.status}
    return profile, by, status, text


def elapsed(sim) -> float:
    return time.time() - sim.started + 5


def register(value, initial, watts, unit_wh, sim):
    """A register (in Wh after scaling) that started at `initial` units and advances at
    `watts`, read within the simulator's lifetime."""
    low = initial * unit_wh
    return low <= value <= low + watts * elapsed(sim) / 3600 + unit_wh


@pytest.mark.parametrize(
    ("community", "profile"),
    [
        ("servertech-sentry3", "servertech-sentry3"),
        ("raritan-px1", "raritan-px1"),
        ("vertiv-geist", "vertiv-geist"),
        ("schleifenbauer", "schleifenbauer"),
        ("hpe-pdu", "hpe-pdu"),
        ("tripplite", "tripplite"),
        ("apc-smartups", "apc-smartups"),
        ("apc-symmetra-3ph", "apc-smartups"),
        ("eaton-xups", "eaton-xups"),
        ("liebert-gp", "liebert-gp"),
        ("cyberpower-ups", "cyberpower-ups"),
        ("ups-vendor-oid", "ups-mib"),
        ("geist-v3", "geist-v3"),
        ("cyberpower-epdu", "cyberpower-epdu"),
        ("tripplite-ups", "tripplite"),
    ],
)
def test_each_vendor_is_recognised_without_naming_a_profile(tmp_path, sim, community, profile):
    got, by, _, _ = poll(tmp_path, sim, community)
    assert got == profile
    assert any(r.power_w for r in by.values())


def test_sentry3_three_phase_infeeds_tenths_of_kwh_and_outlets_in_wh(tmp_path, sim):
    _, by, status, text = poll(tmp_path, sim, "servertech-sentry3")
    infeeds = [r for r in by.values() if r.table == "infeed"]
    # tower 1 three-phase (X, Y, Z), tower 2 single-phase
    assert [(r.index, r.label, r.power_w) for r in infeeds] == [
        ("1.1", "Master_X", 1210),
        ("1.2", "Master_Y", 1180),
        ("1.3", "Master_Z", 1250),
        ("2.1", "Link_X", 640),
    ]
    assert register(by[("infeed", "1.1")].energy_wh, 45678, 1210, 100, sim)  # tenths of kWh
    assert not any(r.breakdown for r in infeeds)
    o = by[("outlet", "1.1.1")]
    assert (o.label, o.power_w, o.breakdown) == ("esx-prod-31", 305, True)
    assert register(o.energy_wh, 223344, 305, 1, sim)  # Wh
    dead = by[("outlet", "1.2.2")]  # -1: "not available"
    assert (dead.power_w, dead.energy_wh) == (None, None)
    assert {f for f, reason, _ in dead.rejected if reason == "sentinel"} == {
        "power_w",
        "energy_wh",
    }
    assert status[("infeed_voltage_volts", "1.2")] == pytest.approx(229.8)
    assert status[("infeed_current_amps", "1.3")] == pytest.approx(5.43)
    # two outlets named alike (both PSUs of esx-prod-31 on one name): two series
    assert metric(text, "energy_snmp_power_watts", index="1.1.1", label="esx-prod-31") == 305
    assert metric(text, "energy_snmp_power_watts", index="1.1.2", label="esx-prod-31") == 298


def test_raritan_px1_inlet_and_outlets_in_watts_and_wh(tmp_path, sim):
    _, by, status, _ = poll(tmp_path, sim, "raritan-px1")
    inlet = by[("inlet", "1")]
    assert inlet.power_w == 1864
    assert register(inlet.energy_wh, 30150220, 1864, 1, sim)
    outlets = [r for r in by.values() if r.table == "outlet"]
    assert len(outlets) == 8 and all(r.breakdown for r in outlets)
    assert sum(r.power_w or 0 for r in outlets) == 1864
    assert (by[("outlet", "5")].label, by[("outlet", "5")].power_w) == ("nas-02", 410)
    assert by[("outlet", "8")].energy_wh == 0  # an empty outlet: a flat register
    assert status[("outlet_current_amps", "5")] == pytest.approx(7.02)  # milliamps


def test_vertiv_geist_total_phases_outlets_and_an_out_of_range_outlet(tmp_path, sim):
    _, by, status, text = poll(tmp_path, sim, "vertiv-geist")
    total = by[("total", "1")]
    assert (total.label, total.power_w) == ("pdu-dc1-r09-b", 7420)
    assert register(total.energy_wh, 6012345, 7420, 1, sim)
    phases = [r for r in by.values() if r.table == "phase"]
    assert sum(r.power_w or 0 for r in phases) == 7420 and all(r.breakdown for r in phases)
    assert status[("phase_voltage_volts", "2")] == pytest.approx(229.6)  # decivolts
    assert status[("phase_current_amps", "1")] == pytest.approx(10.86)  # centiamps
    broken = by[("outlet", "4")]  # 65535 W and 2^32-1 Wh: above Gauge32(0..9999) / (0..9999000)
    assert (broken.power_w, broken.energy_wh) == (None, None)
    assert {(f, reason) for f, reason, _ in broken.rejected} == {
        ("power_w", "range"),
        ("energy_wh", "range"),
    }
    rejected = "energy_snmp_readings_rejected_total"
    assert metric(text, rejected, device="dev", table="outlet", reason="range") == 2


def test_schleifenbauer_databus_inputs_in_kwh_per_pdu(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "schleifenbauer")
    inputs = {k[1]: r for k, r in by.items() if k[0] == "input"}
    assert sorted(inputs) == ["1.1", "1.2", "1.3", "2.1"]  # PDU 1 three-phase, PDU 2 single
    assert [inputs[i].power_w for i in ("1.1", "1.2", "1.3", "2.1")] == [1530, 1490, 1610, 880]
    assert inputs["1.1"].label == "L1"
    assert inputs["2.1"].energy_wh == 9120 * 1000  # whole kWh
    out = by[("outlet", "1.2")]
    assert (out.label, out.power_w, out.energy_wh, out.breakdown) == (
        "esx-62-a",
        498,
        3980 * 1000,
        True,
    )


def test_hpe_ipdu_total_once_and_load_segments_as_a_breakdown(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "hpe-pdu")
    assert (by[("pdu", "1")].label, by[("pdu", "1")].power_w) == ("ipdu-dc2-r02", 3520)
    segments = [r for r in by.values() if r.table == "segment"]
    assert [r.power_w for r in segments] == [1210, 1150, 1160]
    assert all(r.breakdown for r in segments) and by[("pdu", "1")].energy_wh is None


def test_tripplite_pdu_total_and_outlets_one_without_a_meter(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "tripplite")
    assert by[("pdu", "1")].power_w == 1450
    outlets = {k[1]: r for k, r in by.items() if k[0] == "outlet"}
    assert [outlets[f"1.{k}"].power_w for k in (1, 2, 3)] == [520, 498, 432]
    assert outlets["1.4"].power_w is None and outlets["1.4"].label == "spare"


def test_apc_smartups_single_phase_watts_and_hundredths_of_kwh(tmp_path, sim):
    _, by, status, text = poll(tmp_path, sim, "apc-smartups", category=1)
    out = by[("output", "0")]
    assert out.power_w == 1870
    assert register(out.energy_wh, 2211034, 1870, 10, sim)  # hundredths of kWh
    assert out.energy_wrap_wh == 4294967296 * 10
    assert status[("output_load_percent", "0")] == 62
    assert status[("battery_minutes_remaining", "0")] == pytest.approx(52, abs=0.01)
    assert metric(text, "energy_snmp_state", reading="output_status", state="onLine") == 1


def test_apc_three_phase_ups_total_and_phases(tmp_path, sim):
    _, by, status, _ = poll(tmp_path, sim, "apc-symmetra-3ph")
    assert by[("output", "0")].power_w == 12300
    phases = [r for r in by.values() if r.table == "phase"]
    assert [r.power_w for r in phases] == [4120, 4050, 4130] and all(r.breakdown for r in phases)
    assert register(phases[0].energy_wh, 32000001, 4120, 10, sim)
    # upsAdvBatteryRunTimeRemaining 4,294,967,295: "not present" per the MIB
    assert ("battery_minutes_remaining", "0") not in status


def test_eaton_xups_three_phase_output_and_input(tmp_path, sim):
    _, by, status, _ = poll(tmp_path, sim, "eaton-xups")
    out = [r for r in by.values() if r.table == "output"]
    assert [(r.label, r.power_w) for r in out] == [
        ("Phase 1", 3420),
        ("Phase 2", 3380),
        ("Phase 3", 3490),
    ]
    inp = [r for r in by.values() if r.table == "input"]
    assert sum(r.power_w or 0 for r in inp) - sum(r.power_w or 0 for r in out) == 650  # losses
    assert status[("battery_minutes_remaining", "0")] == pytest.approx(31)  # 1860 s


def test_liebert_rows_chosen_by_their_measurement_point(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "liebert-gp")
    assert set(by) == {("output", "2"), ("input", "1")}  # the battery point is not read
    assert by[("output", "2")].power_w == 2120 and not by[("output", "2")].breakdown
    assert register(by[("output", "2")].energy_wh, 4690012, 2120, 1, sim)
    assert by[("input", "1")].power_w == 2310 and by[("input", "1")].breakdown


def test_cyberpower_output_watts_and_tenths_of_kwh(tmp_path, sim):
    _, by, status, _ = poll(tmp_path, sim, "cyberpower-ups")
    out = by[("output", "0")]
    assert out.power_w == 1620
    assert register(out.energy_wh, 73420, 1620, 100, sim)
    assert status[("battery_minutes_remaining", "0")] == pytest.approx(24)  # 144000 ticks


def test_geist_v3_total_in_kwh_counted_once_across_its_tables(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "geist-v3")
    # the IEC controller and the power-monitor table describe one unit: one row, not two
    assert list(by) == [("total", "1")]
    total = by[("total", "1")]
    assert (total.label, total.power_w, total.energy_wh) == ("pdu-dc2-r11-a", 5120, 48211 * 1000)


def test_cyberpower_epdu_phase_rows_only_banks_never_added(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "cyberpower-epdu")
    phases = [r for r in by.values() if r.table == "phase"]
    # the table's bank rows (bank 1: 1010 W, bank 2: 820 W) are the same load again
    assert [(r.index, r.label, r.power_w) for r in phases] == [("1", "1", 1830)]
    assert register(phases[0].energy_wh, 40100, 1830, 100, sim)  # tenths of kWh
    outlets = [r for r in by.values() if r.table == "outlet"]
    assert [r.power_w for r in outlets] == [520, 490, 600, 220] and all(
        r.breakdown for r in outlets
    )
    assert register(by[("outlet", "3")].energy_wh, 12000, 600, 100, sim)


def test_tripplite_ups_output_lines(tmp_path, sim):
    _, by, _, _ = poll(tmp_path, sim, "tripplite-ups", category=1)
    out = [r for r in by.values() if r.table == "output"]
    assert [(r.index, r.power_w) for r in out] == [("1.1", 2210), ("1.2", 2150), ("1.3", 2320)]
    assert not [r for r in by.values() if r.table in ("pdu", "outlet")]
