"""The collector's MQTT subscriber client, shared by its sources (agent reports, LoRaWAN):
MQTT 5, fixed client id with a persistent session, manual acknowledgements (sent after the
ledger commit), credentials and TLS from an `MqttIngestConfig`."""

from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.mqttsettings import MqttIngestConfig
from energy_common.configspec import read_secret
from energy_common.tls import ssl_context


def subscriber(cfg: MqttIngestConfig, secret_key: str) -> mqtt.Client:
    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=cfg.client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    if cfg.username:
        c.username_pw_set(cfg.username, read_secret(cfg.password, cfg.password_file, secret_key))
    if cfg.tls.enabled:
        c.tls_set_context(ssl_context(cfg.tls))
    c.reconnect_delay_set(min_delay=1, max_delay=30)
    # acknowledgements to agents go out at ingest rate: paho's default of 20 in flight would
    # make them queue behind broker round trips
    c.max_inflight_messages_set(1000)
    return c


def connect_persistent(client: mqtt.Client, cfg: MqttIngestConfig) -> None:
    """Connect in the background with a persistent session; the broker sends at most
    `max_inflight` unacknowledged messages (flow control while the ledger commits)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = cfg.session_expiry_s
    props.ReceiveMaximum = cfg.max_inflight
    client.connect_async(
        cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False, properties=props
    )
    client.loop_start()
