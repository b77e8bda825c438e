"""`energy-collector snmp probe HOST` against real snmpsim agents: which profile polling
would choose and why, what each row would read, which values are not readings, what is
missing; v2c and v3; a device no profile fits; a wrong key."""

from __future__ import annotations

import json

import pytest
from services import SnmpSim
from snmp_helpers import serve

from collector.cli import main

USED = (
    "apc-rpdu2",
    "apc-epdu",
    "eaton-xups",
    "ups-socomec-filler",
    "rpdu2-no-uptime",
    "odd-device",
    "servertech-sentry3",
    "juniper-ex3400",
    "aruba-ap315",
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    yield from serve(tmp_path_factory, USED)


def run(sim, capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["snmp", "probe", "127.0.0.1", "--port", str(sim.port), "--retries", "0", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def probe_json(sim, capsys, *args: str) -> dict:
    rc, out, _ = run(sim, capsys, "--json", *args)
    doc = json.loads(out)
    doc["rc"] = rc
    return doc


def test_probe_says_the_profile_why_and_each_rows_reading(sim, capsys):
    rc, out, _ = run(sim, capsys, "--community", "apc-epdu")
    assert rc == 0
    assert "profile: apc-epdu (PowerNet-MIB v4.5.8 (ePDU, Easy PDU))" in out
    assert "sysObjectID 1.3.6.1.4.1.318.1.3.4.9 is under 1.3.6.1.4.1.318.1.3.4.9" in out
    lines = {tuple(line.split()[:2]): line for line in out.splitlines() if line[:1].isalpha()}
    assert "6210.0" in lines[("input", "1")] and "register, counted" in lines[("input", "1")]
    assert "2110.0" in lines[("phase", "2")] and "breakdown" in lines[("phase", "2")]
    assert "device total now: 6210.0 W (counted rows)" in out  # phases not added
    assert "phase_voltage_volts[1] = 230.2" in out
    assert "missing: nothing" in out


def test_probe_json_rows_w_wh_phase_and_outlet(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "servertech-sentry3")
    assert (doc["rc"], doc["profile"], doc["chosen_by"]) == (0, "servertech-sentry3", "sysObjectID")
    rows = {(r["table"], r["index"]): r for r in doc["rows"]}
    x = rows[("infeed", "1.1")]
    assert (x["label"], x["power_w"], x["energy"], x["counted"]) == (
        "Master_X",
        1210,
        "register",
        True,
    )
    assert x["energy_wh"] >= 45678 * 100  # tenths of kWh → Wh
    outlet = rows[("outlet", "1.1.1")]
    assert (outlet["power_w"], outlet["breakdown"], outlet["counted"]) == (305, True, False)
    dead = rows[("outlet", "1.2.2")]
    assert [(b["field"], b["reason"], b["raw"]) for b in dead["not_readings"]] == [
        ("power_w", "sentinel", -1),
        ("energy_wh", "sentinel", -1),
    ]
    assert doc["total_w"] == 1210 + 1180 + 1250 + 640


def test_probe_explains_a_choice_by_the_mib_the_device_answers(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "eaton-xups")
    assert (doc["profile"], doc["chosen_by"]) == ("eaton-xups", "probe")
    assert "1.3.6.1.4.1.534.1.4.4.1.4" in doc["why"]
    assert all(r["energy"] == "integrated from power (estimated)" for r in doc["rows"])
    doc = probe_json(sim, capsys, "--community", "ups-socomec-filler")
    assert doc["profile"] == "ups-mib"
    (inp,) = [r for r in doc["rows"] if r["table"] == "input"]
    assert inp["power_w"] is None and inp["not_readings"][0]["raw"] == 65535
    assert any("battery_minutes_remaining" in m for m in doc["missing"])  # 65535 there too


def test_probe_says_what_is_missing(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "rpdu2-no-uptime")
    assert doc["profile"] == "apc-rpdu2" and doc["sysuptime_s"] is None
    assert any(m.startswith("sysUpTime.0: not answered") for m in doc["missing"])
    assert any(m.startswith("status bank_current_amps") for m in doc["missing"])  # no banks
    rc, out, _ = run(sim, capsys, "--community", "odd-device")
    assert rc == 1
    assert "profile: none (none of the probed MIB columns answers)" in out
    assert "write one (docs/snmp-profiles.md) or set `profile:`" in out


def test_probe_with_a_forced_profile_shows_tables_absent(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "apc-rpdu2", "--profile", "raritan-pdu2")
    assert (doc["rc"], doc["chosen_by"], doc["rows"]) == (1, "forced", [])
    assert any(m.startswith("table inlet (") and m.endswith("no rows") for m in doc["missing"])
    rc, _, err = run(sim, capsys, "--community", "apc-rpdu2", "--profile", "nope")
    assert rc == 2 and "--profile 'nope': unknown" in err


def test_probe_over_snmpv3_and_a_wrong_key(sim, capsys):
    v3 = ["--user", SnmpSim.V3_USER, "--priv-key", SnmpSim.V3_PRIV, "--context", "apc-epdu"]
    doc = probe_json(sim, capsys, *v3, "--auth-key", SnmpSim.V3_AUTH)
    assert (doc["rc"], doc["profile"]) == (0, "apc-epdu")
    rc, out, err = run(sim, capsys, *v3, "--auth-key", "wrong-key-000", "--timeout", "1")
    assert rc == 1 and out == "" and f"127.0.0.1:{sim.port}" in err


def test_probe_shows_a_switch_without_a_power_sensor_modelled(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "juniper-ex3400")
    rows = {r["table"]: r for r in doc["rows"]}
    assert rows["poe"]["energy"].startswith("not counted") and not rows["poe"]["counted"]
    assert (rows["modelled"]["power_w"], rows["modelled"]["counted"]) == (96, True)
    assert rows["modelled"]["label"] == "EX3400 (poe_only)"
    assert any("set snmp.network_models, PoE only is counted" in m for m in doc["missing"])
    assert doc["total_w"] == 96
    nm = doc["network_model"]  # which entry of the model table, and how it matched
    assert (nm["entry"], nm["matched_by"]) == ("EX3400", "sysObjectID 1.3.6.1.4.1.2636.1.1.1.2.131")
    assert (nm["basis"], nm["powered_by"], nm["counted"]) == ("poe_only", "mains", True)


def test_probe_says_an_access_point_is_inside_its_switchs_poe(sim, capsys):
    doc = probe_json(sim, capsys, "--community", "aruba-ap315")
    assert doc["profile"] == "network-entity-sensor"
    nm = doc["network_model"]
    assert (nm["entry"], nm["matched_by"]) == ("AP-315", "sysObjectID 1.3.6.1.4.1.14823.1.2.82")
    assert (nm["typical_w"], nm["basis"], nm["powered_by"]) == (14.4, "table_max", "poe")
    assert nm["powered_by_from"] == "the table (ap)" and not nm["counted"]
    assert "Aruba AP-310 Series data sheet" in nm["source"]
    (row,) = doc["rows"][-1:]
    assert (row["table"], row["power_w"], row["counted"], row["breakdown"]) == (
        "poe_fed",
        14.4,
        False,
        True,
    )
    assert doc["total_w"] is None  # nothing counted for an AP fed by PoE
    rc, out, _ = run(sim, capsys, "--community", "aruba-ap315")
    assert rc == 0
    assert "network model: AP-315 (table entry AP-315, matched by sysObjectID" in out
    assert "powered by poe (the table (ap)): inside the PoE of the switch feeding it" in out
