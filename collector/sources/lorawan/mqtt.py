"""MQTT subscription to a LoRaWAN network server's integration.

Event topics are subscribed as a shared subscription (`$share/<group>/…`) so several
collectors split them. Gateway `state/conn` topics are subscribed *without* sharing: MQTT 5
does not send retained messages to shared subscriptions, and every collector needs the
retained gateway states. Subscriptions are QoS 1, but note that ChirpStack publishes at QoS 0
unless its MQTT integration sets `qos=1`, and The Things Stack publishes at QoS 0 only: for
those messages the broker cannot queue anything while the collector is away.
Acknowledgements (for QoS 1) go out after the ledger commit, a batch's in one write.
"""

from __future__ import annotations

import logging
from typing import Any

from collector.mqttclient import Acks, connect_persistent, subscriber
from collector.sources.lorawan.processor import LoraProcessor
from collector.sources.lorawan.settings import LorawanConfig

log = logging.getLogger("energy_collector.lorawan")


class LoraMqtt:
    def __init__(self, cfg: LorawanConfig, processor: LoraProcessor) -> None:
        self.cfg = cfg
        self.processor = processor
        self.connected = False
        c = subscriber(cfg.mqtt, "lorawan.mqtt.password_file")
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self._acks = Acks(c)  # sent once per batch, after its commit
        processor.after_batch.append(self._acks.send)

    def filters(self) -> list[tuple[str, int]]:
        out = []
        for t in self.cfg.topics:
            shared = not t.endswith("/state/conn")
            out.append((f"$share/{self.cfg.mqtt.group}/{t}" if shared else t, 1))
        return out

    def start(self) -> None:
        connect_persistent(self.client, self.cfg.mqtt)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("lorawan mqtt: connection refused: %s", reason)
            return
        self.connected = True
        filters = self.filters()
        log.info(
            "lorawan mqtt: connected to %s:%d; subscribing to %s",
            self.cfg.mqtt.host,
            self.cfg.mqtt.port,
            ", ".join(f for f, _ in filters),
        )
        client.subscribe(filters)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected = False
        if getattr(reason, "value", 0) == 0:  # our own disconnect: a clean stop
            log.info("lorawan mqtt: disconnected")
        else:
            log.warning("lorawan mqtt: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        mid, qos = msg.mid, msg.qos

        def done(_: str) -> None:
            self._acks.add(mid, qos)

        self.processor.submit(msg.topic, msg.payload, done)
