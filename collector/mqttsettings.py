"""Settings of an MQTT subscription (broker, credentials, TLS, shared group): the agents'
ingest and the LoRaWAN network server use the same shape."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt, section
from energy_common.tls import TlsConfig


@dataclass
class MqttIngestConfig:
    enabled: bool = opt(False, "Subscribe to agent reports on an MQTT broker.")
    host: str = opt("localhost", "Broker host.")
    port: int = opt(1883, "Broker port.", minimum=1, maximum=65535)
    username: str | None = opt(None, "User name.")
    password: str | None = opt(None, "Password (prefer password_file).", secret=True)
    password_file: str | None = opt(None, "File holding the password.")
    client_id: str = opt(
        "energy-collector-1",
        "Fixed client id: the broker keeps this "
        "collector's persistent session (queued QoS 1 reports) across restarts. "
        "Unique per collector process.",
    )
    group: str = opt(
        "energy-collectors",
        "Shared subscription group: collectors in one group split the reports between them.",
    )
    topic_prefix: str = opt(
        "energy/v1/agents", "Reports on `<prefix>/+/report`, status on `<prefix>/+/status`."
    )
    session_expiry_s: int = opt(
        3600,
        "How long the broker keeps this collector's session (and queues messages for it) "
        "while it is away. A LoRaWAN network server does not resend what a collector missed: "
        "keep it long there.",
        minimum=0,
    )
    max_inflight: int = opt(
        1000, "Unacknowledged messages the broker may send at once.", minimum=1, maximum=65535
    )
    keepalive_s: int = opt(30, "MQTT keepalive.", minimum=5)
    tls: TlsConfig = section(TlsConfig, "TLS for the broker connection.")
