"""Parsing network-server messages into plain records. Pure; every failure is a
`LoraError` with a countable reason.

Formats, from the network servers' public definitions:
- ChirpStack v4 integration events (`integration.proto`, JSON marshaler): camelCase,
  `deviceInfo.devEui` hex, `deduplicationId`, decoded payload in `object` (numbers always
  floats), `rxInfo[].gatewayId`, `txInfo.modulation.lora.spreadingFactor`.
- ChirpStack Gateway Bridge (`gw.proto`, JSON): `event/stats` with per-interval counts
  (`rxPacketsReceived`, `rxPacketsReceivedOk`, `txPacketsReceived`, `txPacketsEmitted`,
  `rxPacketsPerFrequency`, `rxPacketsPerModulation`…); `state/conn` with `state: ONLINE`,
  and the offline Last Will that carries no `state` at all.
- ChirpStack v3 (JSON marshaler): `devEUI` and `gatewayID` in base64, `objectJSON` as a
  string, no deduplication id.
- The Things Stack v3: snake_case, `end_device_ids.dev_eui`, `uplink_message
  .decoded_payload`, `rx_metadata[].gateway_ids`, `settings.data_rate.lora`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024
_FRACTION = re.compile(r"^(.*T[0-9:]+)\.([0-9]+)(.*)$")


class LoraError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rx:
    gateway_id: str
    rssi: float | None
    snr: float | None


@dataclass(frozen=True, slots=True)
class Uplink:
    network: str
    dedup_key: str
    dev_eui: str
    device_name: str | None
    profile: str | None
    time: float
    f_cnt: int | None
    fields: dict[str, Any] | None  # the decoded payload; None when no codec ran
    tags: dict[str, str] = field(default_factory=dict)
    rx: tuple[Rx, ...] = ()
    frequency: int | None = None
    spreading_factor: int | None = None
    brand: str | None = None  # The Things Stack version_ids.brand_id (profile: its model_id)


@dataclass(frozen=True, slots=True)
class GatewayStats:
    gateway_id: str
    time: float
    rx_received: int
    rx_ok: int
    tx_received: int
    tx_emitted: int
    rx_per_frequency: dict[str, int]
    rx_per_sf: dict[str, int]
    tx_per_frequency: dict[str, int]


@dataclass(frozen=True, slots=True)
class GatewayState:
    gateway_id: str
    online: bool


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    dev_eui: str
    time: float
    battery_level: float | None  # percent; None on external power or unknown


def _load(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise LoraError("oversized", f"{len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LoraError("json", str(exc)[:100]) from None
    if not isinstance(doc, dict):
        raise LoraError("schema", "message is not a JSON object")
    return doc


def _time(text: Any, what: str) -> float:
    if not isinstance(text, str):
        raise LoraError("schema", f"{what}: missing or not a string")
    t = text.strip().replace("Z", "+00:00")
    # nanosecond fractions (ChirpStack) are cut to microseconds for fromisoformat
    m = _FRACTION.match(t)
    if m:
        t = f"{m.group(1)}.{m.group(2)[:6]}{m.group(3)}"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise LoraError("schema", f"{what}: {text!r} is not a timestamp") from None
    if dt.tzinfo is None:
        raise LoraError("schema", f"{what}: {text!r} has no time zone")
    return dt.timestamp()


def _str(doc: dict[str, Any], key: str, what: str) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not v:
        raise LoraError("schema", f"{what}.{key}: missing or not a string")
    return v


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _int(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return 0


def _counts(v: Any) -> dict[str, int]:
    return {str(k): _int(n) for k, n in v.items()} if isinstance(v, dict) else {}


def _sf_counts(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        lora = (item.get("modulation") or {}).get("lora") or {}
        sf = lora.get("spreadingFactor")
        key = f"SF{int(sf)}" if isinstance(sf, (int, float)) else "other"
        out[key] = out.get(key, 0) + _int(item.get("count"))
    return out


def _tags(v: Any) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else {}


def _b64_hex(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise LoraError("schema", f"{what}: missing")
    try:
        return base64.b64decode(v, validate=True).hex()
    except ValueError:
        raise LoraError("schema", f"{what}: not base64") from None


# -- protobuf ------------------------------------------------------------------------------


def protobuf_to_json(kind: str, payload: bytes) -> bytes:
    """ChirpStack protobuf (`integration.UplinkEvent`, `StatusEvent`, `gw.GatewayStats`,
    `gw.ConnState`) to the JSON the same message has with the JSON marshaler (protojson
    names, Struct `object` as a JSON object), so one parser serves both encodings."""
    import json as _json

    from chirpstack_api import gw, integration  # type: ignore[import-untyped,unused-ignore]
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    cls = {
        "up": integration.UplinkEvent,
        "status": integration.StatusEvent,
        "stats": gw.GatewayStats,
        "conn": gw.ConnState,
    }[kind]
    msg = cls()
    try:
        msg.ParseFromString(payload)
    except DecodeError as exc:
        raise LoraError("protobuf", str(exc)[:100]) from None
    return _json.dumps(json_format.MessageToDict(msg)).encode()


# -- ChirpStack v4 ---------------------------------------------------------------------------


def chirpstack_v4_up(payload: bytes) -> Uplink:
    doc = _load(payload)
    info = doc.get("deviceInfo")
    if not isinstance(info, dict):
        raise LoraError("schema", "deviceInfo: missing")
    obj = doc.get("object")
    if obj is not None and not isinstance(obj, dict):
        raise LoraError("schema", "object: not a JSON object")
    rx = tuple(
        Rx(str(r.get("gatewayId", "")), _num(r.get("rssi")), _num(r.get("snr")))
        for r in doc.get("rxInfo") or []
        if isinstance(r, dict) and r.get("gatewayId")
    )
    tx = doc.get("txInfo") or {}
    lora = ((tx.get("modulation") or {}).get("lora") or {}) if isinstance(tx, dict) else {}
    sf = lora.get("spreadingFactor")
    fcnt = doc.get("fCnt")
    return Uplink(
        network="chirpstack-v4",
        dedup_key=_str(doc, "deduplicationId", "$"),
        dev_eui=_str(info, "devEui", "deviceInfo").lower(),
        device_name=info.get("deviceName"),
        profile=info.get("deviceProfileName"),
        time=_time(doc.get("time"), "time"),
        f_cnt=int(fcnt) if isinstance(fcnt, (int, float)) else None,
        fields=obj,
        tags=_tags(info.get("tags")),
        rx=rx,
        frequency=_int(tx.get("frequency")) if isinstance(tx, dict) else None,
        spreading_factor=int(sf) if isinstance(sf, (int, float)) else None,
    )


def chirpstack_v4_status(payload: bytes) -> DeviceStatus:
    doc = _load(payload)
    info = doc.get("deviceInfo")
    if not isinstance(info, dict):
        raise LoraError("schema", "deviceInfo: missing")
    battery = None if doc.get("externalPowerSource") else _num(doc.get("batteryLevel"))
    if doc.get("batteryLevelUnavailable"):
        battery = None
    return DeviceStatus(
        _str(info, "devEui", "deviceInfo").lower(), _time(doc.get("time"), "time"), battery
    )


def gateway_stats(payload: bytes) -> GatewayStats:
    doc = _load(payload)
    return GatewayStats(
        gateway_id=_str(doc, "gatewayId", "$").lower(),
        time=_time(doc.get("time"), "time"),
        rx_received=_int(doc.get("rxPacketsReceived")),
        rx_ok=_int(doc.get("rxPacketsReceivedOk")),
        tx_received=_int(doc.get("txPacketsReceived")),
        tx_emitted=_int(doc.get("txPacketsEmitted")),
        rx_per_frequency=_counts(doc.get("rxPacketsPerFrequency")),
        rx_per_sf=_sf_counts(doc.get("rxPacketsPerModulation")),
        tx_per_frequency=_counts(doc.get("txPacketsPerFrequency")),
    )


def gateway_conn(payload: bytes, topic_gateway: str) -> GatewayState:
    if not payload:
        # a retained message cleared with an empty payload: the gateway is gone
        return GatewayState(topic_gateway.lower(), False)
    doc = _load(payload)
    gid = doc.get("gatewayId") or topic_gateway
    # the Gateway Bridge's Last Will has no `state` key: that means OFFLINE
    return GatewayState(str(gid).lower(), doc.get("state") == "ONLINE")


# -- ChirpStack v3 ---------------------------------------------------------------------------


def chirpstack_v3_up(payload: bytes) -> Uplink:
    doc = _load(payload)
    dev = _b64_hex(doc.get("devEUI"), "devEUI")
    raw = doc.get("objectJSON")
    fields = None
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise LoraError("schema", "objectJSON: not JSON") from None
        if not isinstance(parsed, dict):
            raise LoraError("schema", "objectJSON: not an object")
        fields = parsed
    rx_list = doc.get("rxInfo") or []
    rx = tuple(
        Rx(
            _b64_hex(r.get("gatewayID"), "rxInfo.gatewayID"),
            _num(r.get("rssi")),
            _num(r.get("loRaSNR")),
        )
        for r in rx_list
        if isinstance(r, dict)
    )
    times = [r.get("time") for r in rx_list if isinstance(r, dict) and r.get("time")]
    when = _time(times[0], "rxInfo.time") if times else _time(doc.get("publishedAt"), "publishedAt")
    fcnt = doc.get("fCnt")
    tx = doc.get("txInfo") or {}
    return Uplink(
        network="chirpstack-v3",
        # v3 has no deduplication id: the frame counter and the time identify an uplink
        dedup_key=f"{dev}:{fcnt}:{int(when)}",
        dev_eui=dev,
        device_name=doc.get("deviceName"),
        profile=doc.get("deviceProfileName"),
        time=when,
        f_cnt=int(fcnt) if isinstance(fcnt, (int, float)) else None,
        fields=fields,
        tags=_tags(doc.get("tags")),
        rx=rx,
        frequency=_int(tx.get("frequency")) if isinstance(tx, dict) else None,
    )


# -- The Things Stack v3 ---------------------------------------------------------------------


def tts_v3_up(payload: bytes) -> Uplink:
    doc = _load(payload)
    ids = doc.get("end_device_ids")
    up = doc.get("uplink_message")
    if not isinstance(ids, dict) or not isinstance(up, dict):
        raise LoraError("schema", "end_device_ids or uplink_message: missing")
    dev = ids.get("dev_eui") or ids.get("device_id")
    if not isinstance(dev, str):
        raise LoraError("schema", "end_device_ids.dev_eui: missing")
    decoded = up.get("decoded_payload")
    if decoded is not None and not isinstance(decoded, dict):
        raise LoraError("schema", "uplink_message.decoded_payload: not an object")
    when = _time(up.get("received_at") or doc.get("received_at"), "received_at")
    rx = tuple(
        Rx(
            str(
                (m.get("gateway_ids") or {}).get("eui")
                or (m.get("gateway_ids") or {}).get("gateway_id", "")
            ).lower(),
            _num(m.get("rssi")),
            _num(m.get("snr")),
        )
        for m in up.get("rx_metadata") or []
        if isinstance(m, dict)
    )
    lora = ((up.get("settings") or {}).get("data_rate") or {}).get("lora") or {}
    sf = lora.get("spreading_factor")
    fcnt = up.get("f_cnt", 0)  # TTS omits zero values
    # TTS sends the device's version identifiers in uplink_message.version_ids (v3.13+, the
    # data-formats documentation); older messages at the top level or under end_device_ids
    version = up.get("version_ids") or doc.get("version_ids") or ids.get("version_ids") or {}
    corr = [c for c in doc.get("correlation_ids") or [] if isinstance(c, str)]
    key = (
        next((c for c in corr if c.startswith("as:up:")), None)
        or f"{dev.lower()}:{fcnt}:{int(when)}"
    )
    return Uplink(
        network="tts-v3",
        dedup_key=key,
        dev_eui=dev.lower(),
        device_name=ids.get("device_id"),
        profile=version.get("model_id") if isinstance(version, dict) else None,
        time=when,
        f_cnt=_int(fcnt),
        fields=decoded,
        tags=_tags(doc.get("attributes") or up.get("attributes")),
        rx=rx,
        frequency=_int((up.get("settings") or {}).get("frequency")),
        spreading_factor=int(sf) if isinstance(sf, (int, float)) else None,
        brand=version.get("brand_id") if isinstance(version, dict) else None,
    )
