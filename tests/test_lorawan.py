"""LoRaWAN: ChirpStack v4/v3 and The Things Stack messages, meters mapped and scaled, counters
across reboots and glitches, gateways, deduplication, a facility meter feeding a PUE and a
smart plug calibrating a host. End to end through a real Mosquitto."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from collector_helpers import check_panel, make_config, metric, running, scrape, url, wait_for

from collector.datacenter.facility import partial_pue, pue
from collector.sources.lorawan import messages as m
from collector.sources.lorawan.calibration import plug_calibration
from energy_common.schema import Host, Limits, Report, Segment, encode_report

FIX = Path(__file__).parent / "fixtures/lorawan"
PLUG = json.loads((FIX / "chirpstack-v4_event-up_milesight-ws523-smart-plug.json").read_text())
PULSE = json.loads((FIX / "chirpstack-v4_event-up_adeunis-pulse4-0x46-counters.json").read_text())
STATS = (FIX / "chirpstack-gwbridge_event-stats_json-marshaler.json").read_bytes()
ONLINE = (FIX / "chirpstack-gwbridge_state-conn_online.json").read_bytes()
OFFLINE = (FIX / "chirpstack-gwbridge_state-conn_offline-lwt.json").read_bytes()

LORA = {
    "enabled": True,
    "profiles": [
        {
            "name": "ws52x",
            "match": "WS523",
            "version": "2",
            "fields": [
                {
                    "name": "energy",
                    "path": "power_consumption",
                    "meaning": "energy_index",
                    "unit": "Wh",
                },
                {"name": "power", "path": "active_power", "meaning": "power", "unit": "W"},
            ],
        },
        {
            "name": "ws52x-v1",
            "version": "1",
            "fields": [
                {"name": "energy", "path": "power_sum", "meaning": "energy_index", "unit": "Wh"}
            ],
        },
        {
            "name": "pulse4",
            "match": "Pulse 4",
            "version": "1",
            "fields": [
                {
                    "name": "chA",
                    "path": "bytes.counterValues[0]",
                    "meaning": "pulse_count",
                    "wh_per_pulse": 10,
                },
                {
                    "name": "chB",
                    "path": "bytes.counterValues[1]",
                    "meaning": "pulse_count",
                    "wh_per_pulse": 1,
                },
            ],
        },
        {
            "name": "clamp",
            "version": "1",
            "fields": [
                {
                    "name": "amps",
                    "path": "current",
                    "meaning": "current",
                    "unit": "mA",
                    "voltage_v": 230,
                    "power_factor": 0.9,
                }
            ],
        },
    ],
    "meters": [
        {"dev_eui": "24e124148d042a77", "role": "host_plug", "host": "PC-042", "site": "hq"},
        {
            "dev_eui": "0018b21000006c3a",
            "name": "dc1-main",
            "role": "facility",
            "datacenter": "dc1",
            "field": "chA",
            "site": "dc1",
            "profile": "pulse4",
        },
        {
            "dev_eui": "0018b21000006c3b",
            "name": "dc1-ups-out",
            "role": "it",
            "datacenter": "dc1",
            "room": "A",
            "category": 1,
            "profile": "pulse4",
            "field": "chB",
            "site": "dc1",
        },
        {
            "dev_eui": "a000000000000001",
            "name": "old-plug",
            "profile": "ws52x-v1",
            "role": "building",
            "site": "hq",
        },
        {
            "dev_eui": "c1a4900000000001",
            "name": "clamp-1",
            "profile": "clamp",
            "role": "cooling",
            "site": "dc1",
            "datacenter": "dc1",
        },
    ],
    "gateways": [{"id": "7276ff002e062cc4", "model": "Kerlink iBTS", "power_w": 12}],
}

COVERAGE_MIN = 0.9  # compliance.coverage_min's default: each side's share a PUE needs


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


T0 = datetime(2025, 11, 20, 23, 0, tzinfo=timezone.utc).timestamp()


def pulse(dev: str, t: float, a: float, b: float = 0.0, dedup: str | None = None) -> bytes:
    d = copy.deepcopy(PULSE)
    d["deviceInfo"]["devEui"] = dev
    d["time"] = iso(t)
    d["deduplicationId"] = dedup or f"{dev}-{t}"
    d["object"]["bytes"]["counterValues"] = [a, b]
    return json.dumps(d).encode()


def plug(t: float, wh: float, w: float = 68.0, dev: str = "24e124148d042a77") -> bytes:
    d = copy.deepcopy(PLUG)
    d["deviceInfo"]["devEui"] = dev
    d["time"] = iso(t)
    d["deduplicationId"] = f"plug-{dev}-{t}"
    d["object"]["power_consumption"] = wh
    d["object"]["active_power"] = w
    return json.dumps(d).encode()


UP = "application/8e2f41a0/device/{}/event/up"


class Feeder:
    """Publishes messages to the real broker like a network server, and waits for them."""

    def __init__(self, collector, port: int) -> None:
        self.c = collector
        self.pub = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"ns-{id(self)}",
            protocol=mqtt.MQTTv5,
        )
        self.pub.connect("127.0.0.1", port)
        self.pub.loop_start()

    def process(self, items):
        """Same call shape as LoraProcessor.process, but through Mosquitto."""
        before = self.c.lora.processed
        for topic, payload, _ in items:
            self.pub.publish(topic, payload, qos=1).wait_for_publish(5)
        wait_for(lambda: self.c.lora.processed >= before + len(items), 20, "processed")
        return list(self.c.lora.outcomes)[-len(items) :]

    def close(self):
        self.pub.disconnect()
        self.pub.loop_stop()


class Through:
    """Wraps the collector so that tests' `lora.lora.process` goes through the broker."""

    def __init__(self, collector, feeder) -> None:
        self._c = collector
        self.lora = feeder

    def __getattr__(self, name):
        return getattr(self._c, name)


@pytest.fixture
def lora(tmp_path, broker, request):
    name = "lora-" + request.node.name[-40:].replace("[", "-").replace("]", "")
    cfg = {
        **LORA,
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": name, "group": name},
    }
    with running(make_config(tmp_path, lorawan=cfg)) as c:
        wait_for(lambda: c.lora_mqtt.connected, 10, "collector subscribed")
        time.sleep(0.3)  # SUBACK
        feeder = Feeder(c, broker.port)
        try:
            yield Through(c, feeder)
        finally:
            feeder.close()


def energy(c, meter):
    return c.ledger.execute(
        "SELECT COALESCE(SUM(wh), 0) FROM meter_hours WHERE meter = ?", (meter,)
    )[0][0]


def test_fixture_messages_parse_with_their_traps():
    up = m.chirpstack_v4_up(json.dumps(PULSE).encode())
    assert up.dev_eui == "0018b21000006c3a" and up.spreading_factor == 12
    assert [r.gateway_id for r in up.rx] == ["7276ff002e062cc4", "0016c001f153a14c"]
    assert up.time == pytest.approx(
        datetime(2025, 11, 20, 23, 0, 4, 552091, tzinfo=timezone.utc).timestamp()
    )
    st = m.gateway_stats(STATS)
    assert (st.rx_received, st.rx_ok, st.tx_emitted) == (37, 31, 2)
    assert st.rx_per_sf == {"SF7": 12, "SF9": 11, "SF12": 8}
    assert m.gateway_conn(ONLINE, "x").online is True
    assert m.gateway_conn(OFFLINE, "x").online is False  # Last Will: no `state` key


def test_pulse_meter_scaled_and_facility_feeds_pue(lora):
    c = lora.lora
    c.process(
        [
            (UP.format("0018b21000006c3a"), pulse("0018b21000006c3a", T0, 1000), None),
            (UP.format("0018b21000006c3a"), pulse("0018b21000006c3a", T0 + 3600, 1150), None),
            (UP.format("0018b21000006c3b"), pulse("0018b21000006c3b", T0, 0, 500), None),
            (UP.format("0018b21000006c3b"), pulse("0018b21000006c3b", T0 + 3600, 0, 1500), None),
        ]
    )
    assert energy(lora, "dc1-main") == pytest.approx(150 * 10)  # pulses × 10 Wh
    assert energy(lora, "dc1-ups-out") == pytest.approx(1000)
    p = pue(lora.ledger, "dc1", T0, T0 + 3600, coverage_min=COVERAGE_MIN)
    assert p.value == pytest.approx(1.5)
    assert p.facility.coverage == pytest.approx(1.0) and p.it.coverage == pytest.approx(1.0)
    assert p.categories == (1,)  # the configured category of the LoRaWAN IT meter
    # room A holds the IT meter: its zone takes it; the site meter (no room) stays out
    zone = partial_pue(lora.ledger, "dc1", "A", T0, T0 + 3600, coverage_min=COVERAGE_MIN)
    assert (zone.it.wh, zone.facility.wh, zone.value) == (1000, 1000, 1.0)


def test_register_reboot_glitch_and_wrap_never_go_negative(lora):
    dev = "0018b21000006c3b"
    seq = [
        (0, 100),
        (600, 150),
        (1200, 3),
        (1800, 160),
        (2400, 170),  # glitch: reads 3 once
        (3000, 5),
        (3600, 25),
    ]  # device reboot: restarts from 0
    lora.lora.process([(UP.format(dev), pulse(dev, T0 + t, 0, v), None) for t, v in seq])
    # 50 + 10 (160 over 150, the low reading ignored) + 10 + (5 + 20 after the reboot)
    assert energy(lora, "dc1-ups-out") == pytest.approx(95)
    text = scrape(url(lora, "/metrics"))
    assert metric(text, "energy_lora_meter_events_total", meter="dc1-ups-out", event="reset") == 1
    assert metric(text, "energy_lora_meter_events_total", meter="dc1-ups-out", event="suspect") == 2


def test_power_and_current_are_integrated_and_labelled_estimated(lora):
    clamp = "c1a4900000000001"
    msgs = []
    for i, ma in enumerate((1000, 1000, 2000)):
        d = copy.deepcopy(PLUG)
        d["deviceInfo"].update(devEui=clamp, deviceProfileName="Clamp")
        d.update(time=iso(T0 + i * 1800), deduplicationId=f"clamp-{i}")
        d["object"] = {"current": float(ma)}
        msgs.append((UP.format(clamp), json.dumps(d).encode(), None))
    lora.lora.process(msgs)
    # 1 A × 230 V × 0.9 for 30 min, then (1 A + 2 A)/2 for 30 min
    assert energy(lora, "clamp-1") == pytest.approx(207 * 0.5 + 310.5 * 0.5)
    (est,) = lora.ledger.execute("SELECT estimated FROM meters WHERE meter = 'clamp-1'")[0]
    assert est == 1


def test_duplicate_uplinks_and_replays_count_once(lora):
    dev = "0018b21000006c3a"
    a = pulse(dev, T0, 1000, dedup="same")
    b = pulse(dev, T0 + 600, 1010, dedup="same-2")
    res = lora.lora.process(
        [(UP.format(dev), a, None), (UP.format(dev), a, None), (UP.format(dev), b, None)]
    )
    res += lora.lora.process([(UP.format(dev), b, None)])  # replay later
    assert res.count("duplicate") == 2
    assert energy(lora, "dc1-main") == pytest.approx(100)


def test_codec_versions_map_different_field_names(lora):
    old = copy.deepcopy(PLUG)
    old["deviceInfo"].update(devEui="a000000000000001", deviceProfileName="WS52x old codec")
    out = []
    for i, wh in enumerate((5000.0, 5040.0)):
        d = copy.deepcopy(old)
        d.update(time=iso(T0 + i * 900), deduplicationId=f"old-{i}")
        d["object"] = {"power_sum": wh, "power": 160.0}  # v1 codec names
        out.append((UP.format("a000000000000001"), json.dumps(d).encode(), None))
    lora.lora.process(out)
    assert energy(lora, "old-plug") == pytest.approx(40)


def test_bad_messages_are_counted_not_fatal(lora):
    dev = "0018b21000006c3a"
    no_object = copy.deepcopy(PULSE)
    del no_object["object"]
    wrong_type = copy.deepcopy(PULSE)
    wrong_type["object"] = [1, 2]
    stranger = copy.deepcopy(PLUG)
    stranger["deviceInfo"]["devEui"] = "ffffffffffffffff"
    res = lora.lora.process(
        [
            (UP.format(dev), json.dumps(no_object).encode(), None),
            (UP.format(dev), b"{not json", None),
            (UP.format(dev), json.dumps(wrong_type).encode(), None),
            (UP.format(dev), b" " * 70000, None),
            (UP.format("ffffffffffffffff"), json.dumps(stranger).encode(), None),
            ("application/x/device/y/event/join", b"{}", None),
        ]
    )
    assert res == ["no_object", "json", "schema", "oversized", "unknown_device", "ignored"]
    # a meter whose profile cannot be resolved is counted, not fatal
    plug_no_profile = copy.deepcopy(PLUG)
    plug_no_profile["deviceInfo"]["deviceProfileName"] = "Something else"
    assert lora.lora.process(
        [(UP.format("24e124148d042a77"), json.dumps(plug_no_profile).encode(), None)]
    ) == ["no_profile"]
    text = scrape(url(lora, "/metrics"))
    assert metric(text, "energy_lora_unknown_devices_total") == 1
    assert metric(text, "energy_lora_rejected_total", reason="json") == 1


def test_the_things_stack_and_chirpstack_v3_uplinks(lora):
    tts = {
        "end_device_ids": {
            "device_id": "dc1-main-tts",
            "application_ids": {"application_id": "facility"},
            "dev_eui": "0018B21000006C3A",
        },
        "correlation_ids": ["as:up:01HABC", "rpc:/ttn.lorawan.v3.AppAs/SimulateUplink"],
        "received_at": iso(T0 + 5),
        "uplink_message": {
            "f_port": 1,
            "f_cnt": 42,
            "frm_payload": "AQID",
            "decoded_payload": {"bytes": {"counterValues": [2000, 0]}},
            "rx_metadata": [
                {
                    "gateway_ids": {"gateway_id": "gw-1", "eui": "7276FF002E062CC4"},
                    "rssi": -90,
                    "snr": 7.5,
                }
            ],
            "settings": {
                "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 7}},
                "frequency": "868100000",
            },
            "received_at": iso(T0 + 5),
        },
    }
    up = m.tts_v3_up(json.dumps(tts).encode())
    assert (up.dev_eui, up.dedup_key, up.spreading_factor) == (
        "0018b21000006c3a",
        "as:up:01HABC",
        7,
    )
    v3 = {
        "applicationID": "3",
        "applicationName": "facility",
        "deviceName": "dc1-main",
        "devEUI": base64.b64encode(bytes.fromhex("0018b21000006c3a")).decode(),
        "rxInfo": [
            {
                "gatewayID": base64.b64encode(bytes.fromhex("7276ff002e062cc4")).decode(),
                "time": iso(T0 + 3605),
                "rssi": -95,
                "loRaSNR": 5.5,
            }
        ],
        "txInfo": {"frequency": 868100000, "dr": 5},
        "fCnt": 43,
        "fPort": 1,
        "data": "AQID",
        "objectJSON": json.dumps({"bytes": {"counterValues": [2100, 0]}}),
        "tags": {},
    }
    up3 = m.chirpstack_v3_up(json.dumps(v3).encode())
    assert up3.dev_eui == "0018b21000006c3a" and up3.rx[0].gateway_id == "7276ff002e062cc4"
    # the same meter fed by both networks' formats: 100 pulses × 10 Wh
    lora.lora.process(
        [
            ("v3/facility@ville/devices/dc1-main-tts/up", json.dumps(tts).encode(), None),
            ("application/3/device/0018b21000006c3a/event/up", json.dumps(v3).encode(), None),
        ]
    )
    assert energy(lora, "dc1-main") == pytest.approx(1000)


def test_smart_plug_calibrates_its_host(lora):

    # the host's agent: idle 24 h on 2025-11-21 (Paris) → modelled 25.3 W × 24 h
    day0 = datetime(2025, 11, 21, 0, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    rep = Report(
        "00000000-0000-4000-8000-0000000000aa",
        0,
        day0 + 86400,
        Host(hostname="PC-042", kind="desktop"),
        day0 - 60,
        (Segment(day0, day0 + 86400, "idle", cpu_util=0.0),),
    )
    lora.pipeline.limits = Limits(clock_skew_s=1e9)
    assert lora.pipeline.process([(encode_report(rep), None)])[0].result == "accepted"
    lora.lora.process(
        [
            (UP.format("24e124148d042a77"), plug(day0 + i * 3600, 10000 + 20 * i), None)
            for i in range(25)
        ]
    )
    (cal,) = plug_calibration(lora.ledger, date(2025, 11, 21), date(2025, 11, 21))
    assert cal.measured_wh == pytest.approx(480)
    assert cal.modelled_wh == pytest.approx(25.3 * 24)
    assert cal.ratio == pytest.approx(480 / (25.3 * 24))


def test_end_to_end_through_mosquitto_gateways_and_meters(tmp_path, broker):
    cfg_lora = {
        **LORA,
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker.port,
            "client_id": "lora-e2e",
            "group": "lora-e2e",
        },
    }
    pub = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="ns-e2e",
        protocol=mqtt.MQTTv5,
    )
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    # retained gateway state published before the collector exists
    pub.publish(
        "eu868/gateway/7276ff002e062cc4/state/conn", ONLINE, qos=1, retain=True
    ).wait_for_publish(5)
    with running(make_config(tmp_path, lorawan=cfg_lora)) as c:
        wait_for(lambda: c.lora_mqtt.connected, 10, "lora mqtt")
        wait_for(
            lambda: (
                metric(
                    scrape(url(c, "/metrics")), "energy_lora_gateway_up", gateway="7276ff002e062cc4"
                )
                == 1
            ),
            10,
            "retained ONLINE",
        )
        for i in range(2):
            stats = json.loads(STATS)
            stats["time"] = iso(T0 + 30 * i)
            pub.publish(
                "eu868/gateway/7276ff002e062cc4/event/stats", json.dumps(stats).encode(), qos=1
            ).wait_for_publish(5)
        for i, v in enumerate((1000, 1100)):
            pub.publish(
                UP.format("0018b21000006c3a"), pulse("0018b21000006c3a", T0 + 600 * i, v), qos=1
            ).wait_for_publish(5)
        wait_for(lambda: c.lora.processed >= 5, 20, "messages processed")
        text = scrape(url(c, "/metrics"))
        assert (
            metric(
                text,
                "energy_lora_gateway_packets_total",
                gateway="7276ff002e062cc4",
                direction="rx",
                status="received",
            )
            == 74
        )  # 37 per interval, summed
        assert metric(text, "energy_lora_gateway_rx_sf_packets_total", sf="SF12") == 16
        assert metric(text, "energy_lora_meter_wh_total", meter="dc1-main") == 1000
        assert metric(text, "energy_lora_network_wh_total") == pytest.approx(12 * 60 / 3600)
        # the gateway drops: its bridge's Last Will (no `state` key) arrives
        pub.publish(
            "eu868/gateway/7276ff002e062cc4/state/conn", OFFLINE, qos=1, retain=True
        ).wait_for_publish(5)
        wait_for(
            lambda: (
                metric(
                    scrape(url(c, "/metrics")), "energy_lora_gateway_up", gateway="7276ff002e062cc4"
                )
                == 0
            ),
            10,
            "offline",
        )
        (uplinks,) = c.ledger.execute("SELECT SUM(uplinks) FROM lora_gateway_days")[0]
        assert uplinks == 2
    pub.publish("eu868/gateway/7276ff002e062cc4/state/conn", b"", qos=1, retain=True)
    pub.loop_stop()


def test_protobuf_marshaler_gives_the_same_results(tmp_path):
    from chirpstack_api import gw, integration
    from google.protobuf import json_format

    def pb(cls, doc):
        msg = cls()
        json_format.ParseDict(doc, msg, ignore_unknown_fields=True)
        return msg.SerializeToString()

    cfg = {**LORA, "marshaler": "protobuf"}
    with running(make_config(tmp_path, lorawan=cfg)) as c:
        dev = "0018b21000006c3a"
        ups = [json.loads(pulse(dev, T0 + 600 * i, v)) for i, v in enumerate((1000, 1020))]
        res = c.lora.process(
            [(UP.format(dev), pb(integration.UplinkEvent, u), None) for u in ups]
            + [
                (
                    "eu868/gateway/7276ff002e062cc4/event/stats",
                    pb(gw.GatewayStats, json.loads(STATS)),
                    None,
                ),
                (
                    "eu868/gateway/7276ff002e062cc4/state/conn",
                    pb(gw.ConnState, json.loads(OFFLINE)),
                    None,
                ),
                (UP.format(dev), b"\xff\xfe not protobuf", None),
            ]
        )
        assert res == ["ok", "ok", "ok", "ok", "protobuf"]
        assert energy(c, "dc1-main") == pytest.approx(200)
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_lora_gateway_packets_total", direction="rx", status="ok") == 31
        assert metric(text, "energy_lora_gateway_up", gateway="7276ff002e062cc4") == 0


# -- dashboard panels against a real Prometheus ---------------------------------------------

sys_path_dash = str(Path(__file__).resolve().parent.parent / "dashboards")


def status_event(dev: str, t: float, battery: float) -> bytes:
    return json.dumps(
        {
            "deduplicationId": f"st-{t}",
            "time": iso(t),
            "deviceInfo": dict(PULSE["deviceInfo"], devEui=dev),
            "margin": 7,
            "externalPowerSource": False,
            "batteryLevel": battery,
        }
    ).encode()


@pytest.fixture(scope="module")
def lora_prometheus(tmp_path_factory):
    import sys
    import time as _time

    from services import Prometheus

    tmp = tmp_path_factory.mktemp("lora-dash")
    with running(make_config(tmp, lorawan=LORA)) as c:
        prom = Prometheus(tmp / "prom", [f"127.0.0.1:{c.http.port}"]).start()
        try:
            wait_for(lambda: prom.ready() and prom.query("up == 1"), 30, "first scrape")
            now = _time.time()
            gw_topic = "eu868/gateway/7276ff002e062cc4/event/stats"
            for r in range(3):  # rounds between scrapes: counters are seen growing
                stats = json.loads(STATS)
                stats["time"] = iso(now + r)
                c.lora.process(
                    [
                        (gw_topic, json.dumps(stats).encode(), None),
                        (
                            UP.format("0018b21000006c3a"),
                            pulse("0018b21000006c3a", now - 600 + r * 60, 1000 + 50 * r),
                            None,
                        ),
                        (
                            UP.format("24e124148d042a77"),
                            plug(now - 600 + r * 60, 5000 + 5 * r),
                            None,
                        ),
                        (
                            "application/x/device/0018b21000006c3a/event/status",
                            status_event("0018b21000006c3a", now, 87.5),
                            None,
                        ),
                        (UP.format("0018b21000006c3a"), b"{broken", None),
                    ]
                )
                _time.sleep(2.2)
            sys.path.insert(0, sys_path_dash)
            yield c, prom
        finally:
            prom.stop()


def _lorawan_panels():
    import sys

    sys.path.insert(0, sys_path_dash)
    import build

    return build.LORAWAN


@pytest.mark.parametrize("panel", _lorawan_panels(), ids=[p.en for p in _lorawan_panels()])
def test_lorawan_panel_queries_return_expected_series(lora_prometheus, panel):
    check_panel(lora_prometheus[1], panel)


def test_network_energy_per_uplink_matches_the_configured_power(lora_prometheus):
    _, prom = lora_prometheus
    (row,) = prom.query("sum(energy_lora_network_wh_total) / sum(energy_lora_uplinks_total)")
    # 12 W gateway: 30 s for the first stats, then the time between stats (1 s each)
    wh = 12 * (30 + 1 + 1) / 3600
    assert float(row["value"][1]) == pytest.approx(wh / 6, rel=1e-6)


def test_meter_series_land_in_the_tsdb_at_the_uplinks_own_time(tmp_path, victoria):
    cfg = make_config(
        tmp_path, lorawan=LORA, tsdb={"enabled": True, "url": victoria.url, "flush_interval_s": 0.1}
    )
    with running(cfg) as c:
        dev = "0018b21000006c3a"
        c.lora.process(
            [
                (UP.format(dev), pulse(dev, T0, 1000), None),
                (UP.format(dev), pulse(dev, T0 + 3600, 1150), None),
            ]
        )
        wait_for(lambda: c.tsdb.written >= 1, 20, "tsdb write")
    res = victoria.query('energy_meter_wh{meter="dc1-main"}', T0 + 1)
    assert [float(r["value"][1]) for r in res] == [1500.0]  # stamped at T0, the reading's start
    assert res[0]["metric"]["role"] == "facility"


def test_calibration_ratio_exposed_on_metrics(tmp_path):
    cfg = make_config(tmp_path, lorawan=LORA)
    with running(cfg) as c:
        z = ZoneInfo("Europe/Paris")
        yday = datetime.now(z).date().toordinal() - 1
        d0 = datetime.combine(date.fromordinal(yday), datetime.min.time(), z).timestamp()
        rep = Report(
            "00000000-0000-4000-8000-0000000000bb",
            0,
            d0 + 86400,
            Host(hostname="PC-042", kind="desktop"),
            d0 - 60,
            (Segment(d0, d0 + 86400, "idle", cpu_util=0.0),),
        )
        assert c.pipeline.process([(encode_report(rep), None)])[0].result == "accepted"
        c.lora.process(
            [
                (UP.format("24e124148d042a77"), plug(d0 + i * 3600, 9000 + 25 * i), None)
                for i in range(25)
            ]
        )
        (cal,) = c.refresh_calibration()
        assert cal.ratio == pytest.approx(600 / (25.3 * 24))
        assert metric(
            scrape(url(c, "/metrics")), "energy_plug_calibration_ratio", host="PC-042"
        ) == pytest.approx(cal.ratio)


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _replace(doc, path, value):
    if not path:
        return value
    out = copy.deepcopy(doc)
    cur = out
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return out


def test_fuzzed_uplinks_never_stop_the_good_ones(tmp_path, broker):
    """Any value at any place of a real uplink or gateway message: each gets an outcome of its
    own and the good uplink in the same batch is stored (the field trial's "object is a list"
    and every shape like it)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    name = "lora-fuzz"
    cfg = {**LORA, "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": name}}
    dev = "0018b21000006c3a"
    sources = [
        (UP.format(dev), json.loads(pulse(dev, T0, 100.0))),
        (UP.format("24e124148d042a77"), json.loads(plug(T0, 5000.0))),
        ("eu868/gateway/0016c001ff10a235/event/stats", json.loads(STATS)),
        ("eu868/gateway/0016c001ff10a235/state/conn", json.loads(ONLINE)),
    ]
    weird = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
    counter = iter(range(10**9))
    with running(make_config(tmp_path, lorawan=cfg)) as c:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6), weird), max_size=6))
        def run(mutations):
            items = []
            for which, pick, value in mutations:
                topic, doc = sources[which]
                paths = list(_paths(doc))
                items.append(
                    (
                        topic,
                        json.dumps(_replace(doc, paths[pick % len(paths)], value)).encode(),
                        None,
                    )
                )
            t = T0 + 60 * next(counter)
            items.append((UP.format(dev), pulse(dev, t, 100.0 + t - T0), None))
            results = c.lora.process(items)
            assert len(results) == len(items)
            assert results[-1] in ("ok", "duplicate"), results

        run()


def test_the_things_stack_version_ids_under_the_uplink_message_name_the_profile():
    """TTS v3.13+ sends `uplink_message.version_ids` (brand, model, firmware): the device's
    model is its profile, so profile matching works for TTS as for ChirpStack."""
    tts = {
        "end_device_ids": {"device_id": "plug-1", "dev_eui": "24E124148D042A77"},
        "received_at": iso(T0),
        "uplink_message": {
            "f_cnt": 3,
            "decoded_payload": {"power_consumption": 1200},
            "version_ids": {
                "brand_id": "milesight-iot",
                "model_id": "ws523",
                "hardware_version": "1.0",
                "firmware_version": "1.0",
                "band_id": "EU_863_870",
            },
            "received_at": iso(T0),
        },
    }
    up = m.tts_v3_up(json.dumps(tts).encode())
    assert up.profile == "ws523"


def test_a_meter_replaced_at_the_same_address_with_its_own_index_goes_on(lora):
    """The same dev_eui, a replacement meter whose index is lower but not zero: a new
    segment after the confirming uplink; the meter never stalls (the field trial lost a
    third of an hour in one reboot, and months for a swapped unit)."""
    dev = "0018b21000006c3b"
    seq = [(0, 90_000), (600, 90_010), (1200, 40_000), (1800, 40_012), (2400, 40_024)]
    lora.lora.process([(UP.format(dev), pulse(dev, T0 + t, 0, v), None) for t, v in seq])
    # Wh: 10 before, the interval to the swap lost, then 12 + 12
    assert energy(lora, "dc1-ups-out") == pytest.approx(10 + 24)
    text = scrape(url(lora, "/metrics"))
    assert metric(text, "energy_lora_meter_events_total", meter="dc1-ups-out", event="rebase") == 1


def test_a_multi_channel_device_is_one_meter_per_channel(tmp_path, broker):
    """A pulse counter with two channels on one dev_eui: two meters, each with its own name,
    room, category and register (three entries for one device used to keep the last)."""
    dev = "0018b21000006c3d"
    cfg = copy.deepcopy(LORA)
    cfg["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "client_id": "multi"}
    cfg["meters"] = [
        {
            "dev_eui": dev,
            "name": "tgbt-A",
            "field": "chA",
            "profile": "pulse4",
            "role": "facility",
            "datacenter": "dc1",
            "room": "A",
            "site": "dc1",
        },
        {
            "dev_eui": dev,
            "name": "tgbt-B",
            "field": "chB",
            "profile": "pulse4",
            "role": "it",
            "category": 1,
            "datacenter": "dc1",
            "room": "B",
            "site": "dc1",
        },
    ]
    with running(make_config(tmp_path, lorawan=cfg)) as c:
        res = c.lora.process(
            [
                (UP.format(dev), pulse(dev, T0, 100, 1000), None),
                (UP.format(dev), pulse(dev, T0 + 600, 130, 1400), None),
            ]
        )
        assert res == ["ok", "ok"]
        assert energy(c, "tgbt-A") == pytest.approx(30 * 10)  # 10 Wh per pulse
        assert energy(c, "tgbt-B") == pytest.approx(400)  # 1 Wh per pulse
        rooms = dict(c.ledger.execute("SELECT meter, room FROM meters"))
        assert rooms == {"tgbt-A": "A", "tgbt-B": "B"}


@pytest.mark.parametrize(
    "meters,expected",
    [
        (
            [{"dev_eui": "aa01", "name": "a"}, {"dev_eui": "AA01", "name": "b"}],
            "meters[0].field: device aa01 appears 2 times",
        ),
        (
            [
                {"dev_eui": "aa01", "name": "a", "field": "chA", "profile": "pulse4"},
                {"dev_eui": "aa01", "name": "b", "field": "chA", "profile": "pulse4"},
            ],
            "meters[1].field: 'chA' of aa01 used twice",
        ),
        (
            [
                {"dev_eui": "aa01", "field": "chA", "profile": "pulse4"},
                {"dev_eui": "aa01", "name": "b", "field": "chB", "profile": "pulse4"},
            ],
            "meters[0].name: each channel of aa01 needs a name of its own",
        ),
        (
            [{"dev_eui": "aa01", "name": "a", "field": "chZ", "profile": "pulse4"}],
            "meters[0].field: profile 'pulse4' has no field 'chZ'",
        ),
    ],
)
def test_repeated_devices_without_channels_are_config_errors(tmp_path, meters, expected):
    from energy_common.configspec import ConfigError

    cfg = {**copy.deepcopy(LORA), "meters": meters}
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_config(tmp_path, lorawan=cfg)


def test_a_meter_naming_no_field_takes_the_devices_register_before_its_power(tmp_path, broker):
    """A smart plug sends both its energy total and its instantaneous power: without a field
    named, the register is used (exact), not the power integrated between uplinks."""
    cfg = copy.deepcopy(LORA)
    cfg["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "client_id": "pref"}
    cfg["profiles"] = [
        {
            "name": "plug-power-first",
            "version": "1",
            "fields": [
                {"name": "power", "path": "active_power", "meaning": "power", "unit": "W"},
                {
                    "name": "energy",
                    "path": "power_consumption",
                    "meaning": "energy_index",
                    "unit": "Wh",
                },
            ],
        }
    ]
    cfg["meters"] = [{"dev_eui": "24e124148d042a77", "name": "plug", "profile": "plug-power-first"}]
    with running(make_config(tmp_path, lorawan=cfg)) as c:
        c.lora.process(
            [
                (UP.format("24e124148d042a77"), plug(T0, 5000.0, w=10.0), None),
                (UP.format("24e124148d042a77"), plug(T0 + 3600, 5120.0, w=10.0), None),
            ]
        )
        assert energy(c, "plug") == pytest.approx(120)  # the register, not 10 W × 1 h
        (est,) = c.ledger.execute("SELECT estimated FROM meters WHERE meter = 'plug'")[0]
        assert est == 0
