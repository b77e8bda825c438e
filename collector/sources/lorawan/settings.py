"""Settings of the LoRaWAN room: the network server's broker, meter profiles, meters and
gateways, checked against the shipped device library."""

from __future__ import annotations

from dataclasses import dataclass

from collector.mqttsettings import MqttIngestConfig
from collector.sources.lorawan.field_settings import MeterFieldConfig
from collector.sources.lorawan.library import shipped_fields
from energy_common.configspec import opt, section


@dataclass
class MeterProfileConfig:
    name: str = opt("", "Profile name, referred to by `meters[].profile`.")
    match: str = opt(
        "",
        "Selects this profile for meters that name none, before the shipped device library: "
        "The Things Stack's `version_ids.model_id` (e.g. `ws52x`), or a substring of "
        "ChirpStack's device-profile name (`deviceInfo.deviceProfileName`).",
    )
    version: str = opt(
        "1", "Codec version this mapping is for (field names change between versions)."
    )
    fields: list[MeterFieldConfig] = opt([], "The decoded fields used.")


@dataclass
class MeterConfig:
    dev_eui: str | None = opt(None, "Device EUI (hex).")
    device_profile: str | None = opt(None, "Or: every device whose profile name contains this.")
    name: str | None = opt(None, "Meter name (default: the device name).")
    profile: str | None = opt(
        None,
        "Meter profile: a `profiles[].name`, or a shipped model `brand/model` (default: a "
        "user profile whose `match` fits, else the shipped model the uplink names).",
    )
    field: str | None = opt(
        None, "Profile field to use (default: the device's register, else the first)."
    )
    wh_per_pulse: float | None = opt(
        None,
        "For pulse counters: the metered installation's Wh per pulse (overrides the profile's; "
        "required with a shipped pulse-counter model).",
        minimum=0,
    )
    site: str = opt("", "Site or building.")
    datacenter: str | None = opt(None, "Datacenter this meter belongs to.")
    role: str = opt(
        "building",
        "What it measures.",
        choices=("facility", "it", "cooling", "lighting", "building", "host_plug", "other"),
    )
    host: str | None = opt(None, "For `host_plug`: hostname of the PC it measures.")
    room: str | None = opt(None, "Room (zone) of the datacenter it belongs to, for partial PUE.")
    category: int | None = opt(
        None,
        "For `it` meters: the ISO/IEC 30134-2 category of IT energy it measures (1 UPS "
        "output, 2 PDU output, 3 IT equipment input).",
        minimum=1,
        maximum=3,
    )
    max_power_w: float = opt(1_000_000.0, "Readings implying more are glitches.", minimum=1)


@dataclass
class GatewayPowerConfig:
    id: str = opt("", "Gateway id (EUI, hex).")
    model: str = opt("", "Model, for the record.")
    power_w: float = opt(5.0, "Mean electrical power of the gateway.", minimum=0)


@dataclass
class LorawanConfig:
    enabled: bool = opt(False, "Subscribe to a LoRaWAN network server's MQTT integration.")
    mqtt: MqttIngestConfig = section(
        MqttIngestConfig, "Broker of the network server (`topic_prefix` unused here)."
    )
    topics: list[str] = opt(
        [
            "application/+/device/+/event/+",
            "+/gateway/+/event/stats",
            "+/gateway/+/state/conn",
            "gateway/+/event/stats",
            "gateway/+/state/conn",
            "v3/+/devices/+/up",
        ],
        "Topic filters, subscribed in the shared group `mqtt.group` "
        "(ChirpStack v4/v3 events, Gateway Bridge with and without a "
        "region prefix, The Things Stack v3 uplinks).",
    )
    profiles: list[MeterProfileConfig] = opt(
        [], "Meter profiles of your own; they override the shipped device library."
    )
    shipped_profiles: bool = opt(
        True, "Use the shipped device library (collector/sources/lorawan/devices/)."
    )
    meters: list[MeterConfig] = opt([], "Devices that are meters.")
    gateways: list[GatewayPowerConfig] = opt([], "Gateway power figures.")
    default_gateway_power_w: float = opt(5.0, "Power of gateways not listed.", minimum=0)
    marshaler: str = opt(
        "json",
        "Payload encoding of ChirpStack events and Gateway Bridge "
        "messages (ChirpStack `marshaler`); protobuf needs `chirpstack-api`.",
        choices=("json", "protobuf"),
    )
    gateway_stale_s: float = opt(
        300.0, "A gateway without stats for this long is offline.", minimum=10
    )
    max_gap_s: float = opt(
        7200.0, "Power readings further apart are not integrated (gap).", minimum=60
    )

    def validate(self) -> None:
        names = {p.name for p in self.profiles}
        fields = {p.name: {f.name for f in p.fields} for p in self.profiles}
        meanings = {(p.name, f.name): f.meaning for p in self.profiles for f in p.fields}
        by_eui: dict[str, list[int]] = {}
        for i, m in enumerate(self.meters):
            if not (m.dev_eui or m.device_profile):
                raise ValueError(f"meters[{i}]: give dev_eui or device_profile")
            if m.profile and m.profile not in names:
                shipped = shipped_fields() if self.shipped_profiles else {}
                if m.profile not in shipped:
                    raise ValueError(
                        f"meters[{i}].profile: no profile named {m.profile!r} in "
                        "lorawan.profiles nor in the shipped device library"
                    )
                fields[m.profile] = shipped[m.profile]
            if m.field and meanings.get((m.profile or "", m.field)) == "voltage":
                raise ValueError(
                    f"meters[{i}].field: {m.field!r} is a voltage, not energy: name a "
                    "register, power or current field"
                )
            if m.profile and m.field and m.field not in fields[m.profile]:
                raise ValueError(
                    f"meters[{i}].field: profile {m.profile!r} has no field {m.field!r}"
                )
            if m.role == "host_plug" and not m.host:
                # was checked only for the last channel of multi-channel devices
                raise ValueError(f"meters[{i}].host: a host_plug meter names its host")
            if m.dev_eui:
                by_eui.setdefault(m.dev_eui.lower(), []).append(i)
        for eui, idx in by_eui.items():
            if len(idx) < 2:
                continue
            # a multi-channel device: one meter per channel, each its own field and name
            seen_fields: set[str] = set()
            seen_names: set[str] = set()
            for i in idx:
                m = self.meters[i]
                if not m.field:
                    raise ValueError(
                        f"meters[{i}].field: device {eui} appears {len(idx)} times; each "
                        "entry is one channel and names its field"
                    )
                if m.field in seen_fields:
                    raise ValueError(f"meters[{i}].field: {m.field!r} of {eui} used twice")
                if not m.name or m.name in seen_names:
                    raise ValueError(
                        f"meters[{i}].name: each channel of {eui} needs a name of its own"
                    )
                seen_fields.add(m.field)
                seen_names.add(m.name)
        for p in self.profiles:
            if not p.fields:
                raise ValueError(f"profiles[{p.name}].fields: at least one field")
