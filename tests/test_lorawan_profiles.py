"""LoRaWAN profiles as data: every shipped model file valid and cited, computed fields checked
at load with errors naming the key, a user's profile overriding a shipped one, the codec
version chosen by the fields an uplink carries, `lorawan explain` and check-config's list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import CollectorConfig
from collector.meters.compute import parse
from collector.sources.lorawan import messages as m
from collector.sources.lorawan.explain import explain, meter_plan
from collector.sources.lorawan.library import DEVICES_DIR, load_library
from collector.sources.lorawan.resolve import Resolver, spec_for
from collector.sources.lorawan.settings import LorawanConfig
from energy_common.configspec import ConfigError, load

FIX = Path(__file__).parent / "fixtures/lorawan/devices"
ROOT = Path(__file__).resolve().parent.parent


def lora(**section) -> LorawanConfig:
    return load(CollectorConfig, {"lorawan": section}, "<test>").lorawan


def test_every_shipped_model_is_valid_cited_and_listed_in_the_docs():
    lib = load_library()
    assert len(lib.models) >= 18
    docs = (ROOT / "docs/lorawan.md").read_text()
    for model in lib.models:
        assert model.docs and all(v.source for v in model.versions), model.id
        for mid in model.model_ids:
            # docs/lorawan.md lists every supported model with its codec source
            assert f"`{model.brand_id}/{mid}`" in docs, f"{model.brand_id}/{mid} not in docs"
        for v in model.versions:
            for f in v.fields:
                if f.compute:
                    parse(f.compute)  # loading checked it; the paths are real names
    kinds = {m.kind for m in lib.models}
    assert kinds == {"smart_plug", "ct_clamp", "pulse_counter", "tic_reader", "din_meter"}


def test_a_bad_model_file_is_an_error_naming_the_file_and_key(tmp_path):
    good = (DEVICES_DIR / "netvox/r809a.yaml").read_text()
    (tmp_path / "netvox").mkdir()
    bad = tmp_path / "netvox/r809a.yaml"
    bad.write_text(good.replace("path: Energy,", 'compute: "Energy -",'))
    with pytest.raises(ConfigError, match=r"r809a.yaml: versions\[0\].fields\[0\].compute"):
        load_library(tmp_path)
    bad.write_text(good.replace("    source:", "    sauce:", 1))
    with pytest.raises(ConfigError, match="unknown option"):
        load_library(tmp_path)


@pytest.mark.parametrize(
    ("field", "error"),
    [
        (
            {"name": "e", "compute": "Current1 *", "meaning": "current", "unit": "mA"},
            r"lorawan.profiles\[0\].fields\[0\].compute: .*an operator without an operand",
        ),
        (
            {"name": "e", "compute": "Current1 - Current2", "meaning": "current", "unit": "mA"},
            r"lorawan.profiles\[0\].fields\[0\].compute: .*neither a number nor a payload path",
        ),
        (
            {"name": "e", "compute": "2 * 3", "meaning": "current", "unit": "mA"},
            r"lorawan.profiles\[0\].fields\[0\].compute: .*names no payload field",
        ),
        (
            {"name": "e", "path": "x", "compute": "x * 2", "meaning": "power", "unit": "W"},
            r"lorawan.profiles\[0\].fields\[0\].compute: give either path or compute",
        ),
        (
            {"name": "e", "meaning": "power", "unit": "W"},
            r"lorawan.profiles\[0\].fields\[0\].path: missing",
        ),
        # the default unit is Wh: a power field must say W or kW (it crashed at the uplink)
        (
            {"name": "e", "path": "p", "meaning": "power"},
            r"lorawan.profiles\[0\].fields\[0\].unit: 'Wh' is not a unit of power \(W, kW\)",
        ),
        (
            {"name": "e", "path": "i", "meaning": "current", "unit": "kWh"},
            r"fields\[0\].unit: 'kWh' is not a unit of current \(A, mA\)",
        ),
    ],
)
def test_computed_fields_are_checked_at_load_naming_the_key(field, error):
    with pytest.raises(ConfigError, match=error):
        lora(profiles=[{"name": "p", "fields": [field]}])


def test_a_meter_naming_an_unknown_profile_or_field_is_refused():
    with pytest.raises(ConfigError, match=r"meters\[0\].profile: no profile named 'acme/x'"):
        lora(meters=[{"dev_eui": "01", "profile": "acme/x"}])
    with pytest.raises(ConfigError, match=r"meters\[0\].field: profile 'netvox/r718n3' has no"):
        lora(meters=[{"dev_eui": "01", "profile": "netvox/r718n3", "field": "l4"}])
    # a shipped model named explicitly, with one of its channels
    cfg = lora(meters=[{"dev_eui": "01", "profile": "netvox/r718n3", "field": "l2"}])
    assert cfg.meters[0].profile == "netvox/r718n3"


def _uplink(name: str) -> m.Uplink:
    payload = (FIX / name).read_bytes()
    if b"end_device_ids" in payload:
        return m.tts_v3_up(payload)
    return m.chirpstack_v4_up(payload)


def test_a_users_profile_overrides_the_shipped_one():
    up = _uplink("tts_milesight-iot_ws52x.json")
    mine = {
        "name": "ws52x-mine",
        "match": "ws52x",  # The Things Stack's version_ids.model_id
        "fields": [{"name": "energy", "path": "energy", "meaning": "energy_index", "unit": "kWh"}],
    }
    meters = [{"dev_eui": up.dev_eui}]
    shipped = Resolver(lora(meters=meters)).meters(up)[0]
    user = Resolver(lora(meters=meters, profiles=[mine])).meters(up)[0]
    assert (shipped.origin, shipped.profile) == ("shipped", "milesight-iot/ws52x@ttn-2021")
    assert (user.origin, user.profile) == ("user", "ws52x-mine@1")
    assert shipped.spec.value(up.fields or {}) == 1110
    assert user.spec.value(up.fields or {}) == 1110 * 1000
    # without the library, the same meter has no profile at all
    with pytest.raises(LookupError, match="matches no profile"):
        Resolver(lora(meters=meters, shipped_profiles=False)).meters(up)


def test_the_codec_version_is_the_one_whose_fields_the_uplink_carries():
    fam = Resolver(lora()).library.by_id("milesight-iot/ws52x")
    assert fam is not None
    resolver = Resolver(lora(meters=[{"dev_eui": "24e124148d040001"}]))
    up = _uplink("chirpstack_milesight-iot_ws52x.json")
    for fields, version in (
        ({"power_consumption": 5.0, "active_power": 3.0, "current": 20.0}, "sensor-decoders-2023"),
        ({"energy": 5.0, "current": 20.0}, "ttn-2021"),
        ({"energy_sum": 5.0, "current": 20.0, "voltate": 229.0}, "sensor-decoders-2021"),
    ):
        meter = resolver.meters(m.Uplink(**{**_fields(up), "fields": fields}))[0]
        assert meter.profile == f"milesight-iot/ws52x@{version}"
        assert meter.spec.value(fields) == 5.0


def _fields(up: m.Uplink) -> dict:
    return {k: getattr(up, k) for k in m.Uplink.__dataclass_fields__}


def test_payload_given_scale_and_sums_of_registers():
    lib = load_library()
    r718n3 = lib.by_id("netvox/r718n3")
    assert r718n3 is not None
    fields = {
        "Current1": 1000,
        "Current2": 200,
        "Current3": 7000,
        "Multiplier1": 10,
        "Multiplier2": 5,
        "Multiplier3": 100,
    }
    by_name = {f.name: parse(f.compute or f.path) for f in r718n3.versions[0].fields}
    assert by_name["l1"].evaluate(fields).value == 10_000  # mA: Current1 × Multiplier1
    assert by_name["total"].evaluate(fields).value == 10_000 + 1000 + 700_000
    # report type 0x01 carries Multiplier1 only: phase 2 is not in it
    type1 = {k: v for k, v in fields.items() if k not in ("Multiplier2", "Multiplier3")}
    assert by_name["l2"].evaluate(type1).problem == "missing"
    linky = parse("EAST or HCHC + HCHP or BASE")
    assert linky.evaluate({"HCHC": 300, "HCHP": 1400}).value == 1700
    assert linky.evaluate({"BASE": 4660, "HCHC": 300}).value == 4660  # HCHP absent
    assert linky.evaluate({"EAST": 9, "BASE": 4660}).value == 9
    assert linky.evaluate({"HCHC": "300", "HCHP": 1}).problem == "wrong_type"


def test_explain_says_which_device_profile_and_fields_and_what_is_recorded():
    cfg = lora()
    text, ok = explain(cfg, (FIX / "tts_milesight-iot_ws52x.json").read_bytes())
    assert ok
    assert "version_ids: brand_id 'milesight-iot', model_id 'ws52x'" in text
    assert "profile: shipped milesight-iot/ws52x@ttn-2021 (The Things Stack version_ids" in text
    assert "→ energy: energy register from energy: register 1110 Wh" in text
    assert "current: current from current: 0.164 A, so 33.948 W estimated at 230 V" in text
    assert "not declared in lorawan.meters" in text
    assert "voltage: voltage from voltage: 229.8 V (information, not energy)" in text
    # the TTN codec's `power` is the power factor: shown as not read, never taken for watts
    assert "unknown to the profile (not read): power=82" in text
    text, ok = explain(cfg, (FIX / "tts_netvox_r718n3.json").read_bytes())
    assert ok and "→ total: current from Current1 * Multiplier1 + Current2" in text
    assert "Multiplier3: 8 A, so 1656 W estimated" in text  # 1 A + 2 A + 0.5 A × 10
    # a pulse counter without its constant: the counts, and what to add
    text, ok = explain(cfg, (FIX / "chirpstack_adeunis_pulse.json").read_bytes())
    assert not ok and "give meters[].wh_per_pulse" in text and "1234567 pulses" in text


def test_explain_says_what_is_missing_or_unknown():
    doc = json.loads((FIX / "tts_milesight-iot_ws52x.json").read_text())
    doc["uplink_message"]["decoded_payload"].pop("energy")
    cfg = lora(meters=[{"dev_eui": "24e1641234560001", "name": "accueil"}])
    text, ok = explain(cfg, json.dumps(doc).encode())
    assert not ok
    assert "meter accueil records nothing from this uplink: energy missing" in text
    doc["uplink_message"]["version_ids"]["model_id"] = "ws99z"
    text, ok = explain(cfg, json.dumps(doc).encode())
    assert not ok and "milesight-iot/ws99z matches no profile of lorawan.profiles" in text
    # what the collector refuses, explain refuses: 5 GW through a plug
    doc = json.loads((FIX / "tts_watteco_smartplug.json").read_text())
    doc["uplink_message"]["decoded_payload"] = {"active_power": 5e9}
    cfg = lora(meters=[{"dev_eui": "70b3d5e75e001001", "field": "power", "name": "biblio"}])
    text, ok = explain(cfg, json.dumps(doc).encode())
    assert not ok
    assert "meter biblio records nothing from this uplink: power absurd (5e+09 W above" in text
    text, ok = explain(cfg, b'{"hello": 1}')
    assert not ok and "not an uplink" in text


def test_explain_and_check_config_from_the_command_line(tmp_path, capsys):
    conf = tmp_path / "c.yaml"
    conf.write_text(
        "lorawan:\n"
        "  profiles:\n"
        "    - {name: mine, match: ws52x, fields: [{name: e, path: energy, meaning: "
        "energy_index, unit: Wh}]}\n"
        "  meters:\n"
        "    - {dev_eui: 24e1641234560001, name: accueil}\n"
        "    - {dev_eui: 00137a1000010001, name: chaufferie-l2, profile: netvox/r718n3, "
        "field: l2}\n"
        "    - {device_profile: Adeunis Pulse 4, wh_per_pulse: 1}\n"
        "    - {device_profile: Frobnicator 3000}\n"
    )
    assert (
        main(["lorawan", "explain", str(FIX / "tts_milesight-iot_ws52x.json"), "-c", str(conf)])
        == 0
    )
    out = capsys.readouterr().out
    assert "profile: user mine@1 (lorawan.profiles[0].match 'ws52x' is in 'ws52x')" in out
    assert "meter accueil records its e (register)" in out
    assert main(["check-config", "-c", str(conf)]) == 0
    out = capsys.readouterr().out
    assert "lorawan.profiles[0] 'mine' overrides shipped milesight-iot/ws52x" in out
    assert "lorawan.meters[0] 24e1641234560001 'accueil': chosen at its first uplink" in out
    assert (
        "lorawan.meters[1] 00137a1000010001 'chaufferie-l2', field l2: shipped netvox/r718n3" in out
    )
    assert "lorawan.meters[2] device profile ~'Adeunis Pulse 4': shipped adeunis/pulse" in out
    assert "lorawan.meters[3] device profile ~'Frobnicator 3000': no profile matches" in out
    assert main(["lorawan", "explain", str(tmp_path / "absent.json")]) == 2


def test_meter_plan_counts_the_library():
    lines = meter_plan(lora())
    assert lines[0].startswith("lorawan: shipped device library: ")
    n = sum(len(x.model_ids) for x in load_library().models)
    assert f"({n} model ids)" in lines[0]


def test_a_chirpstack_model_tag_names_the_model_whatever_the_profile_is_called():
    doc = json.loads((FIX / "chirpstack_netvox_r718n1.json").read_text())
    doc["deviceInfo"]["deviceProfileName"] = "Pinces batiment A"
    cfg = lora(meters=[{"dev_eui": "00137a1000020001"}])
    text, ok = explain(cfg, json.dumps(doc).encode())
    assert not ok and "device profile 'Pinces batiment A' matches no profile" in text
    doc["deviceInfo"]["tags"] = {"model": "netvox/r718n1"}
    text, ok = explain(cfg, json.dumps(doc).encode())
    assert ok and "shipped netvox/r718n1@ttn-2021 (ChirpStack tag model=netvox/r718n1)" in text


def test_a_host_plug_meter_names_its_host():
    with pytest.raises(ConfigError, match=r"meters\[1\].host: a host_plug meter names its host"):
        lora(meters=[{"dev_eui": "01"}, {"dev_eui": "02", "role": "host_plug"}])


def test_a_field_is_read_only_from_the_frames_that_carry_it():
    lt = Resolver(lora()).library.by_id("dragino/lt22222-l")
    assert lt is not None
    count1 = next(f for f in lt.versions[0].fields if f.name == "count1")
    spec = spec_for(count1, None)
    assert spec.reading({"Work_mode": "Count mode 1", "Count1_times": 7}).value == 7
    # the analogue mode's frame has no count: not a reading of this channel
    assert spec.reading({"Work_mode": "2ACI+2AVI", "ACI1_mA": 4.88}).problem == "missing"
    # JavaScript's signed shifts turn a count past 2^31 negative: refused, never energy
    out = spec.reading({"Work_mode": "Count mode 1", "Count1_times": -2147483000})
    assert out.problem == "negative"


def test_a_voltage_is_shown_never_read_as_a_meter():
    prof = {
        "name": "p",
        "fields": [
            {"name": "v", "path": "voltage", "meaning": "voltage", "unit": "V"},
            {"name": "w", "path": "active_power", "meaning": "power", "unit": "W"},
        ],
    }
    with pytest.raises(ConfigError, match=r"meters\[0\].field: 'v' is a voltage, not energy"):
        lora(profiles=[prof], meters=[{"dev_eui": "01", "profile": "p", "field": "v"}])
    # a meter naming no field skips the voltage listed first and reads the power
    up = _uplink("chirpstack_milesight-iot_ws52x.json")
    cfg = lora(profiles=[prof], meters=[{"dev_eui": up.dev_eui, "profile": "p"}])
    assert Resolver(cfg).meters(up)[0].spec.name == "w"
    # a shipped model's voltage field named by a meter: refused at the uplink, with the reason
    cfg = lora(meters=[{"dev_eui": up.dev_eui, "field": "voltage"}])
    with pytest.raises(LookupError, match="'voltage' of milesight-iot/ws52x@sensor-decoders-2023"):
        Resolver(cfg).meters(up)


@pytest.mark.parametrize(
    ("profile_name", "model"),
    [
        # ChirpStack's templates from the TTN repository are named after the TTN device's name
        ("Smart Plug", "watteco/smartplug"),
        ("Pulse", "adeunis/pulse"),
        ("Tics'O - ", "watteco/ticso"),
        # names searched within: the longest contained name wins, a generic one never
        ("Milesight WS523 Smart Plug", "milesight-iot/ws52x"),
        ("Adeunis Pulse 4 (EU868)", "adeunis/pulse"),
        ("R718N3 - Wireless 3-Phase Current Meter With 3 x 75A Clamp-On CT", "netvox/r718n3"),
        ("Smart Plug (EU868)", None),
        ("Pulse counters, building B", None),
    ],
)
def test_chirpstack_device_profile_names(profile_name, model):
    hit = load_library().for_chirpstack(profile_name)
    assert (hit[0].id if hit else None) == model


def test_devices_of_one_profile_name_tagged_as_different_models_read_as_tagged():
    cfg = lora(meters=[{"device_profile": "Compteurs", "wh_per_pulse": 1}])
    resolver = Resolver(cfg)
    base = _uplink("chirpstack_adeunis_pulse.json")
    plain = {**_fields(base), "profile": "Compteurs batiment A"}
    pulse = m.Uplink(**{**plain, "tags": {"model": "adeunis/pulse"}})
    em300 = m.Uplink(
        **{**plain, "dev_eui": "24e1641234560003", "tags": {"model": "milesight-iot/em300-di"}}
    )
    assert resolver.meters(pulse)[0].profile == "adeunis/pulse@ttn-2023"
    assert resolver.meters(em300)[0].profile == "milesight-iot/em300-di@ttn-2023"


def test_sentinels_and_max_are_no_reading():
    prof = {
        "name": "p",
        "fields": [
            {
                "name": "e",
                "path": "e",
                "meaning": "energy_index",
                "unit": "kWh",
                "sentinels": [4294967.295],
                "max": 1000000,
            },
        ],
    }
    cfg = lora(profiles=[prof], meters=[{"dev_eui": "01", "profile": "p"}])
    up = m.Uplink("tts-v3", "k", "01", None, None, 0.0, None, {"e": 12.5})
    spec = Resolver(cfg).meters(up)[0].spec
    assert spec.reading({"e": 12.5}).value == 12_500
    assert spec.reading({"e": 4294967.295}).problem == "filler"
    assert spec.reading({"e": 1000000.5}).problem == "absurd"
    assert spec.reading({"e": 1000000}).value == 1e9
