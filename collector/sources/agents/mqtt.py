"""MQTT: agent reports through an MQTT 5 shared subscription, acknowledged after commit.

`$share/<group>/<prefix>/+/report` at QoS 1 with a fixed client id and a persistent session:
the broker queues reports while this collector restarts, and collectors in the same group
split the load. Acknowledgements are manual (paho `manual_ack`): a PUBACK goes out only once
the report is in the ledger, so a crash before that makes the broker deliver it again.
After the commit the collector also answers on the agent's own `<prefix>/<id>/ack` topic
(`{"acks": [{"seq", "result", "incarnation"}…]}`, one message per agent and batch): the
agent keeps a report until that answer comes, so
a report a broker or a collector loses is sent again (docs/collector.md, "Delivery"). A
report naming an agent other than its topic's is rejected (`identity`).
Status topics (`<prefix>/+/status`, retained, the agents' Last Will) are followed without
sharing, so every collector knows which agents vanished.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from collector.metrics import Fleet, Metrics
from collector.mqttclient import Acks, connect_persistent, subscriber
from collector.mqttsettings import MqttIngestConfig
from collector.sources.agents.pipeline import Outcome, Pipeline

log = logging.getLogger("energy_collector.mqtt")


class MqttIngest:
    def __init__(
        self, cfg: MqttIngestConfig, pipeline: Pipeline, fleet: Fleet, metrics: Metrics
    ) -> None:
        self.cfg = cfg
        self.pipeline = pipeline
        self.fleet = fleet
        self.metrics = metrics
        self.report_filter = f"$share/{cfg.group}/{cfg.topic_prefix}/+/report"
        self.status_filter = f"{cfg.topic_prefix}/+/status"
        self.connected = False
        c = subscriber(cfg, "mqtt.password_file")
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self._acks = Acks(c)  # sent once per batch, after its commit, before the answers
        self._answers: dict[str, list[str]] = {}  # ack topic -> answers (JSON objects)
        self._controls: dict[str, dict[str, Any]] = {}  # ack topic -> policy / wake to send
        self.on_sender: Callable[[str], None] | None = None  # who reports over MQTT
        pipeline.after_batch.append(self._acks.send)
        pipeline.after_batch.append(self._send_answers)

    def start(self) -> None:
        connect_persistent(self.client, self.cfg)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error(
                "mqtt: %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, reason
            )
            return
        self.connected = True
        log.info(
            "mqtt: connected to %s:%d (session present: %s)",
            self.cfg.host,
            self.cfg.port,
            getattr(flags, "session_present", "?"),
        )
        # subscribe on every connect: a broker that lost our session forgets subscriptions
        client.subscribe([(self.report_filter, 1), (self.status_filter, 1)])

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected = False
        if getattr(reason, "value", 0) == 0:  # our own disconnect: a clean stop
            log.info("mqtt: disconnected")
        else:
            log.warning("mqtt: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        topic = msg.topic  # decoded from bytes at every read
        if topic.endswith("/status"):
            self._status(topic, msg.payload)
            client.ack(msg.mid, msg.qos)
            return
        mid, qos = msg.mid, msg.qos
        # the topic is the agent's own (the broker's ACL binds it to its credentials)
        parts = topic.split("/")
        sender = parts[-2] if len(parts) >= 2 else ""
        # the answer goes to the sender's own ack topic only: no one can make the collector
        # acknowledge another agent's reports
        ack_topic = f"{self.cfg.topic_prefix}/{sender}/ack"
        payload = msg.payload
        if self.on_sender is not None:
            self.on_sender(sender)

        def done(outcome: Outcome) -> None:
            self._answer(ack_topic, payload, outcome)
            # rejected reports are acknowledged too: redelivery would not make them valid;
            # sent with the batch's others once every outcome is known
            self._acks.add(mid, qos)

        self.pipeline.submit(payload, done, sender)

    def _answer(self, topic: str, payload: bytes, outcome: Outcome) -> None:
        """Queue the agent's answer: its report is committed (or rejected, with the reason).
        Only then does the agent forget the report. Called on the ingest thread."""
        m = _SEQ.search(payload[:400])
        if m is None:
            self.metrics.acks_unsent.inc()  # no seq to name: the agent resends, if it is one
            return
        # built as text: seq is digits, result and incarnation come from fixed alphabets
        ack = f'{{"seq":{int(m.group(1))},"result":"{outcome.result}"'
        inc = _INCARNATION.search(payload)
        if inc is not None:
            ack += f',"incarnation":"{inc.group(1).decode()}"'
        if outcome.reason:
            ack += (
                "," + json.dumps({"reason": outcome.reason, "detail": outcome.detail or ""})[1:-1]
            )
        self._answers.setdefault(topic, []).append(ack + "}")
        if outcome.control:
            self._controls.setdefault(topic, {}).update(outcome.control)

    def _send_answers(self) -> None:
        """One message per agent for the whole batch (`{"acks": [...]}`): an agent draining
        its spool has many reports in one batch. QoS 0 on purpose: an answer is regenerated by
        any resend (answered `duplicate`), so a lost one costs a resend, while paho spends
        ~200 µs of CPU per QoS 1 publish here against ~26 µs at QoS 0 (measured). No MQTT 5
        properties either: paho packs and parses them in Python at ~50 µs each way."""
        answers, self._answers = self._answers, {}
        controls, self._controls = self._controls, {}
        for topic, acks in answers.items():
            body = '{"acks":[' + ",".join(acks) + "]"
            extra = controls.get(topic)
            if extra:  # a policy the agent does not hold yet: it reports its version again
                body += "," + json.dumps(extra, separators=(",", ":"))[1:-1]
            info = self.client.publish(topic, body + "}", qos=0)
            if info.rc != 0:
                # not connected: the reports are committed; the agent resends after its
                # timeout and gets `duplicate`, which it takes as an acknowledgement
                self.metrics.acks_unsent.inc(len(acks))

    def publish_control(self, agent_id: str, message: dict[str, Any]) -> bool:
        """A message of the collector's own on the agent's ack topic (wake requests), QoS 1:
        unlike an answer, nothing would send it again."""
        topic = f"{self.cfg.topic_prefix}/{agent_id}/ack"
        info = self.client.publish(topic, json.dumps(message, separators=(",", ":")), qos=1)
        return info.rc == 0

    def _status(self, topic: str, payload: bytes) -> None:
        agent_id = topic.split("/")[-2]
        try:
            doc = json.loads(payload)
            state = doc["state"]
        except (ValueError, KeyError, TypeError):
            return
        status = "online" if state == "online" else "stopped" if doc.get("clean") else "vanished"
        self.fleet.set_status(agent_id, status)
        self.metrics.agent_status.labels(status).inc()


# where a report names itself: the agent writes compact JSON with these keys near the top
_SEQ = re.compile(rb'"seq":\s*([0-9]{1,16})[,}\s]')
_INCARNATION = re.compile(rb'"incarnation":\s*"([0-9a-f]{8,32})"')
