"""The shipped device library, out of the box: 21 energy devices of 7 vendors, as The Things
Stack (version_ids) and ChirpStack v4 (device-profile name) deliver their codecs' output, each
meter declared by its dev_eui only (plus the Wh per pulse of a pulse counter, the channel of a
multi-channel one), read exactly through the real pipeline and a real Mosquitto. Then what
must be refused: an unknown model, a missing field, a wrong type, fillers, negatives, absurd
values, a register going backwards.

Fixtures (tests/fixtures/lorawan/devices/) are written for these tests from each codec's
documented field names and units (the data file of each model cites it)."""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from collector_helpers import make_config, metric, running, scrape, url, wait_for
from test_lorawan import Feeder

FIX = Path(__file__).parent / "fixtures/lorawan/devices"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
DT = 900.0  # seconds between the two uplinks of each device
EST = 230 * 0.9 * DT / 3600  # Wh per ampere over DT at the nominal 230 V and power factor 0.9
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def load(name: str) -> dict[str, Any]:
    return json.loads((FIX / name).read_text())


def decoded(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["uplink_message"]["decoded_payload"] if "uplink_message" in doc else doc["object"]


def put(fields: dict[str, Any], path: str, value: Any) -> None:
    steps = _STEP.findall(path)
    cur: Any = fields
    for name, index in steps[:-1]:
        cur = cur[name] if name else cur[int(index)]
    name, index = steps[-1]
    if name:
        cur[name] = value
    else:
        cur[int(index)] = value


def uplink(
    name: str | dict[str, Any], n: int, changes: dict[str, Any] | None = None
) -> tuple[str, bytes]:
    """The fixture as its network server publishes it, `n` intervals later, with changes."""
    doc = copy.deepcopy(load(name) if isinstance(name, str) else name)
    when = (T0 + timedelta(seconds=n * DT)).isoformat().replace("+00:00", "Z")
    fields = decoded(doc)
    for path, value in (changes or {}).items():
        if value is DELETE:
            fields.pop(path)
        else:
            put(fields, path, float(value) if "deviceInfo" in doc and _num(value) else value)
    if "uplink_message" in doc:
        ids = doc["end_device_ids"]
        doc["received_at"] = doc["uplink_message"]["received_at"] = when
        doc["correlation_ids"][0] += f"-{n}"
        return f"v3/ville-energie@ttn/devices/{ids['device_id']}/up", json.dumps(doc).encode()
    doc["time"] = when
    doc["deduplicationId"] = doc["deduplicationId"][:-2] + f"{n:02d}"
    dev = doc["deviceInfo"]["devEui"]
    return f"application/0f5b8c2e/device/{dev}/event/up", json.dumps(doc).encode()


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


DELETE = object()


def dev_eui(name: str) -> str:
    doc = load(name)
    if "uplink_message" in doc:
        return str(doc["end_device_ids"]["dev_eui"]).lower()
    return str(doc["deviceInfo"]["devEui"])


def meter_name(name: str) -> str:
    doc = load(name)
    return str(
        doc["end_device_ids"]["device_id"]
        if "uplink_message" in doc
        else doc["deviceInfo"]["deviceName"]
    )


# fixture, what changed 15 minutes later, the energy that means (from the codec's unit), the
# profile that must read it, and what the meter declares beyond its dev_eui
CASES: list[tuple[str, dict[str, Any], float, str, dict[str, Any]]] = [
    # The Things Stack v3: brand_id/model_id in uplink_message.version_ids
    (
        "tts_milesight-iot_ws52x.json",
        {"energy": 1230},
        1230 - 1110,
        "milesight-iot/ws52x@ttn-2021",
        {},
    ),
    (
        "tts_milesight-iot_ct101.json",
        {"current": 27},
        (25 + 27) / 2 * EST,
        "milesight-iot/ct101@ttn-2025",
        {},
    ),
    (
        "tts_milesight-iot_em300-di.json",
        {"pulse": 356},
        (356 - 256) * 10,
        "milesight-iot/em300-di@ttn-2023",
        {"wh_per_pulse": 10},
    ),
    (
        "tts_milesight-iot_uc50x.json",
        {"gpio_counter_1": 1500},
        1500 - 1000,
        "milesight-iot/uc50x@ttn-2023",
        {"field": "counter_1", "wh_per_pulse": 1},
    ),
    (
        "tts_watteco_smartplug.json",
        {"active_energy": 95},
        95 - 71,
        "watteco/smartplug@standard-report",
        {},
    ),
    (
        "tts_watteco_flasho.json",
        {"index": 5120},
        5120 - 5000,
        "watteco/flasho@ttn-2023",
        {"wh_per_pulse": 1},
    ),
    ("tts_watteco_ticso.json", {"EAST": 104566}, 104566 - 104066, "watteco/ticso@ttn-2023", {}),
    (
        "tts_watteco_triphaso.json",
        {"positive_active_energy_abc": 241978},
        241978 - 239978,
        "watteco/triphaso@ttn-2023",
        {},
    ),
    # three phases, each current × its own multiplier (mA): 1000×1 + 2000×1 + 500×10 = 8 A
    ("tts_netvox_r718n3.json", {}, (1 + 2 + 5) * EST, "netvox/r718n3@ttn-2021", {}),
    ("tts_netvox_r809a.json", {"Energy": 612}, 612 - 512, "netvox/r809a@ttn-2021", {}),
    (
        "tts_mclimate_16aspm.json",
        {"energy_kWh": 55190.752},
        (55190.752 - 55190.552) * 1000,
        "mclimate/16aspm@ttn-2024",
        {},
    ),
    (
        "tts_yobiiq_em4301.json",
        {"activeEnergyImportL123T1.data": 50861780},
        50861780 - 50859780,
        "yobiiq/em4301@codec-1.0.1",
        {},
    ),
    # Linky historic HC option: HCHC + HCHP, 0 + 1000 then 300 + 1400
    (
        "tts_adeunis_tic-cbe-linky-mono.json",
        {"bytes.HCHC.value": 300, "bytes.HCHP.value": 1400},
        (300 + 1400) - (0 + 1000),
        "adeunis/tic-cbe-linky-mono@ttn-2023",
        {},
    ),
    # ChirpStack v4: the device-profile name
    (
        "chirpstack_milesight-iot_ws52x.json",
        {"power_consumption": 152460},
        152460 - 152340,
        "milesight-iot/ws52x@sensor-decoders-2023",
        {},
    ),
    (
        "chirpstack_adeunis_pulse.json",
        {"bytes.counterValues[0]": 1234667},
        1234667 - 1234567,
        "adeunis/pulse@ttn-2023",
        {"wh_per_pulse": 1},
    ),
    (
        "chirpstack_netvox_r718n1.json",
        {"Current": 2400},
        (2.0 + 2.4) / 2 * EST,
        "netvox/r718n1@ttn-2021",
        {},
    ),
    (
        "chirpstack_watteco_pulse-senso.json",
        {"index_1": 160},
        (160 - 100) * 10,
        "watteco/pulse-senso@ttn-2023",
        {"wh_per_pulse": 10},
    ),
    (
        "chirpstack_yobiiq_em2101.json",
        {"activeEnergyImportL1T1.data": 10250, "activeEnergyImportL1T2.data": 5050},
        (10250 + 5050) - (10000 + 5000),
        "yobiiq/em2101@codec-1.0.1",
        {},
    ),
    (
        "chirpstack_adeunis_tic-cbe-linky-tri.json",
        {"bytes.BASE.value": 5660},
        5660 - 4660,
        "adeunis/tic-cbe-linky-tri@ttn-2023",
        {},
    ),
    (
        "chirpstack_dragino_lt22222-l.json",
        {"Count1_times": 20880},
        (20880 - 20480) * 0.5,
        "dragino/lt22222-l@ttn-2021",
        {"wh_per_pulse": 0.5},
    ),
    # the batch report names the register ActiveEnergy: another codec version of the plug
    (
        "chirpstack_watteco_smartplug.json",
        {"ActiveEnergy": 79},
        79 - 49,
        "watteco/smartplug@batch-report",
        {},
    ),
]


def send(feeder: Feeder, items: list[tuple[str, bytes]]) -> list[str]:
    """Publish through the broker as the network server does; the outcome of each."""
    return list(feeder.process([(topic, payload, None) for topic, payload in items]))


def collector_with(tmp_path: Path, broker: Any, meters: list[dict[str, Any]], **lora: Any) -> Any:
    name = f"lib-{tmp_path.name[-30:]}"
    cfg = {
        "enabled": True,
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": name, "group": name},
        "meters": meters,
        **lora,
    }
    return running(make_config(tmp_path, lorawan=cfg))


def energy(c: Any, meter: str) -> float:
    return float(
        c.ledger.execute("SELECT COALESCE(SUM(wh), 0) FROM meter_hours WHERE meter = ?", (meter,))[
            0
        ][0]
    )


def test_twenty_one_vendor_devices_are_read_exactly_out_of_the_box(tmp_path, broker):
    meters = [{"dev_eui": dev_eui(f), "site": "ville", **extra} for f, _, _, _, extra in CASES]
    with collector_with(tmp_path, broker, meters) as c:
        wait_for(lambda: c.lora_mqtt.connected, 10, "collector subscribed")
        time.sleep(0.3)
        pub = Feeder(c, broker.port)
        try:
            first = send(pub, [uplink(f, 0) for f, *_ in CASES])
            second = send(pub, [uplink(f, 1, changes) for f, changes, *_ in CASES])
        finally:
            pub.close()
        assert first == ["ok"] * len(CASES) and second == ["ok"] * len(CASES)
        got = {f: energy(c, meter_name(f)) for f, *_ in CASES}
        want = {f: wh for f, _, wh, _, _ in CASES}
        assert got == pytest.approx(want, rel=1e-9)
        profiles = dict(c.ledger.execute("SELECT meter, profile FROM meters"))
        assert {f: profiles[meter_name(f)] for f, *_ in CASES} == {f: p for f, _, _, p, _ in CASES}
        text = scrape(url(c, "/metrics"))
        # clamps give amperes only: their energy is labelled estimated, registers are not
        assert metric(text, "energy_lora_meter_wh_total", meter="clamps-chaufferie", estimated="1")
        assert metric(text, "energy_lora_meter_wh_total", meter="linky-mediatheque", estimated="0")


def test_what_cannot_be_read_is_counted_logged_and_never_energy(tmp_path, broker, caplog):
    ws52x, ct101, r809a = (
        "tts_milesight-iot_ws52x.json",
        "tts_milesight-iot_ct101.json",
        "tts_netvox_r809a.json",
    )
    plug = "chirpstack_watteco_smartplug.json"
    unknown = copy.deepcopy(load(ws52x))
    unknown["end_device_ids"]["dev_eui"] = "A1B2C3D4E5F60001"
    unknown["end_device_ids"]["device_id"] = "unknown-gadget"
    unknown["uplink_message"]["version_ids"].update(brand_id="acme", model_id="gadget-42")
    meters = [
        {"dev_eui": "a1b2c3d4e5f60001"},
        {"dev_eui": dev_eui(ws52x)},
        {"dev_eui": dev_eui(ct101)},
        {"dev_eui": dev_eui(r809a)},
        {"dev_eui": dev_eui(plug), "field": "power"},
    ]
    caplog.set_level(logging.INFO, logger="energy_collector")
    with collector_with(tmp_path, broker, meters) as c:
        wait_for(lambda: c.lora_mqtt.connected, 10, "collector subscribed")
        time.sleep(0.3)
        pub = Feeder(c, broker.port)
        try:
            # an unknown model: clear log naming it, counted, nothing recorded
            res = send(pub, [uplink(unknown, 0), uplink(unknown, 1)])
            assert res == ["no_profile", "no_profile"]
            res = send(
                pub,
                [
                    uplink(ws52x, 0),
                    uplink(ws52x, 1, {"energy": DELETE}),  # only voltage and current
                    uplink(ws52x, 2, {"energy": "1330"}),  # a string where a number goes
                    uplink(ct101, 0, {"current": 655.35}),  # an old codec's "read failed"
                    uplink(r809a, 0),
                    uplink(r809a, 1, {"Energy": -5}),  # negative: unavailable, not zero
                    uplink(plug, 0, {"active_power": 40}),
                    uplink(plug, 1, {"active_power": 5e9}),  # 5 GW through a plug
                ],
            )
            assert res == [
                "ok",
                "field_missing",
                "field_type",
                "field_invalid",
                "ok",
                "field_invalid",
                "ok",
                "field_invalid",
            ]
            # the register going backwards: held as suspect, then back above: a glitch,
            # no spike and no negative energy
            res = send(
                pub,
                [
                    uplink(r809a, 2, {"Energy": 612}),
                    uplink(r809a, 3, {"Energy": 400}),
                    uplink(r809a, 4, {"Energy": 700}),
                ],
            )
            assert res == ["ok", "ok", "ok"]
        finally:
            pub.close()
        assert energy(c, "unknown-gadget") == 0
        assert (
            c.ledger.execute(
                "SELECT COUNT(*) FROM meters WHERE dev_eui = ?", ("a1b2c3d4e5f60001",)
            )[0][0]
            == 0
        )
        assert energy(c, meter_name(ws52x)) == 0  # one good reading: nothing to difference
        assert energy(c, meter_name(ct101)) == 0
        assert energy(c, meter_name(r809a)) == 612 - 512 + 700 - 612
        assert energy(c, meter_name(plug)) == 0
        text = scrape(url(c, "/metrics"))
        rejected = {
            r: metric(text, "energy_lora_rejected_total", reason=r)
            for r in ("no_profile", "field_missing", "field_type", "field_invalid")
        }
        assert rejected == {
            "no_profile": 2,
            "field_missing": 1,
            "field_type": 1,
            "field_invalid": 3,
        }
        events = {
            (mt, e): metric(text, "energy_lora_meter_events_total", meter=mt, event=e)
            for mt, e in (
                (meter_name(ct101), "filler"),
                (meter_name(r809a), "negative"),
                (meter_name(plug), "absurd"),
                (meter_name(r809a), "suspect"),
            )
        }
        assert set(events.values()) == {1}, events
    logs = caplog.text
    # once per device, naming what the uplink said and what to do
    assert logs.count("acme/gadget-42 matches no profile") == 1
    assert "write a profile" in logs
    assert "wrong_type energy is str '1330'" in logs
