"""A batch's PUBACKs go to a real Mosquitto as one write (collector/mqttclient.py, `Acks`):
the broker takes every one of them (nothing redelivered to the persistent session), holds
what was not acknowledged (redelivered on reconnect), and a paho without the queueing call
gets one `ack()` per message with the same result."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from services import Mosquitto

from collector.mqttclient import Acks

TOPIC = "acks/test"


class Receiver:
    """A persistent-session MQTT 5 subscriber with manual acknowledgements, as the collector's."""

    def __init__(self, port: int, cid: str) -> None:
        self.port, self.cid = port, cid
        self.got: list[Any] = []
        self.subscribed = threading.Event()
        c = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=cid,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        c.on_message = lambda _c, _u, m: self.got.append(m)
        c.on_subscribe = lambda *_: self.subscribed.set()
        c.on_connect = lambda cl, *_: cl.subscribe(TOPIC, 1)
        self.client = c

    def connect(self) -> Receiver:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=p)
        self.client.loop_start()
        assert self.subscribed.wait(10)
        return self

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.got) >= n, f"{len(self.got)} of {n}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(port: int, n: int) -> None:
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(TOPIC, f"m{i}", qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()


class WithoutQueue:
    """A client offering only the public `ack()` (an older or newer paho)."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self.acks = 0

    def ack(self, mid: int, qos: int) -> mqtt.MQTTErrorCode:
        self.acks += 1
        return self.client.ack(mid, qos)


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.mark.parametrize("queueing", [True, False], ids=["one-write", "ack-each"])
def test_acknowledged_messages_are_gone_and_the_others_come_again(broker, queueing):
    first = Receiver(broker.port, "acks-receiver").connect()
    publish(broker.port, 300)
    first.wait_for(300)
    assert len({m.payload for m in first.got}) == 300
    proxy = WithoutQueue(first.client)
    acks = Acks(first.client if queueing else cast(mqtt.Client, proxy))
    taken = first.got[:200]
    for m in taken:
        acks.add(m.mid, m.qos)
    acks.send()
    assert proxy.acks == (0 if queueing else 200)
    acks.send()  # nothing left to send: sends nothing
    time.sleep(0.5)  # the network thread writes them
    first.close()

    again = Receiver(broker.port, "acks-receiver").connect()
    again.wait_for(100)
    time.sleep(0.5)  # and no more than those
    redelivered = sorted(m.payload for m in again.got)
    assert redelivered == sorted(m.payload for m in first.got[200:])
    assert all(m.dup for m in again.got)
    acks = Acks(again.client)
    for m in again.got:
        acks.add(m.mid, m.qos)
    acks.send()
    time.sleep(0.5)
    again.close()

    last = Receiver(broker.port, "acks-receiver").connect()
    time.sleep(1.0)
    assert last.got == []  # every message acknowledged once: the session holds nothing
    last.close()


def test_qos_0_needs_no_acknowledgement_and_a_single_one_goes_through_ack(broker):
    r = Receiver(broker.port, "acks-single").connect()
    sent: list[tuple[int, int]] = []

    class Spy(WithoutQueue):
        def ack(self, mid: int, qos: int) -> mqtt.MQTTErrorCode:
            sent.append((mid, qos))
            return super().ack(mid, qos)

    acks = Acks(cast(mqtt.Client, Spy(r.client)))
    acks.add(7, 0)  # QoS 0: nothing to acknowledge
    acks.add(8, 1)
    acks.send()
    assert sent == [(8, 1)]
    r.close()
