"""The collector's MQTT client (collector/mqttclient.py) against a real Mosquitto.

`Acks`: a batch's PUBACKs go as one write; the broker takes every one of them (nothing
redelivered to the persistent session), holds what was not acknowledged (redelivered on
reconnect), and a paho without the queueing call gets one `ack()` per message, same result.

`ReadAhead`: paho reads through a receive buffer; every message arrives whole and in order,
over TCP and TLS, small ones many to a read and ones larger than the buffer across reads."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, cast

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from services import Mosquitto, free_port, make_tls, mosquitto_tls_conf, wait_port

from collector.mqttclient import Acks, BufferedClient, ReadAhead

TOPIC = "acks/test"


class Receiver:
    """A persistent-session MQTT 5 subscriber with manual acknowledgements, as the collector's."""

    def __init__(self, port: int, cid: str, cls: type[mqtt.Client] = mqtt.Client) -> None:
        self.port, self.cid = port, cid
        self.got: list[Any] = []
        self.subscribed = threading.Event()
        c = cls(
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


def publish(port: int, n: int, body: Any = None, ca: Any = None) -> list[bytes]:
    """`n` QoS 1 messages; `body(i)` their payloads (default m0, m1, …)."""
    payloads = [body(i) if body else f"m{i}".encode() for i in range(n)]
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if ca is not None:
        pub.tls_set(ca_certs=str(ca))
    pub.connect("localhost" if ca is not None else "127.0.0.1", port)
    pub.loop_start()
    infos = [pub.publish(TOPIC, p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    return payloads


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


# -- ReadAhead -------------------------------------------------------------------------------


def test_read_ahead_serves_small_reads_from_one_receive_and_says_what_waits():
    a, b = socket.socketpair()
    b.setblocking(False)
    r = ReadAhead(b)
    with pytest.raises(BlockingIOError):  # nothing sent: paho's "try again later"
        r.recv(1)
    a.sendall(b"\x30\x05hello\x30\x03abc")
    time.sleep(0.05)
    assert r.recv(1) == b"\x30"  # one receive took all 12 bytes
    assert r.pending() == 11
    assert r.recv(1) == b"\x05"
    assert r.recv(5) == b"hello"
    assert r.recv(1) == b"\x30"
    assert r.recv(10) == b"\x03abc"  # a short read: what is there, paho asks again
    assert r.pending() == 0
    big = bytes(range(256)) * 1024  # 256 KiB: more than one receive
    a.sendall(b"\x31")
    time.sleep(0.05)
    assert r.recv(1) == b"\x31"

    def feed() -> None:
        a.sendall(big)

    t = threading.Thread(target=feed)
    t.start()
    got = b""
    while len(got) < len(big):
        try:
            got += r.recv(len(big) - len(got))
        except BlockingIOError:
            time.sleep(0.001)
    t.join()
    assert got == big
    assert r.pending() == 0
    assert r.send(b"x") == 1 and b.fileno() == r.fileno()
    assert a.recv(1) == b"x"  # writes go to the socket itself
    with pytest.raises(AttributeError):
        r.recv_into  # noqa: B018 (a read past the buffer must not exist)
    a.close()
    time.sleep(0.05)
    assert r.recv(1) == b""  # the peer closed: paho's "connection lost"
    r.close()


def sizes(i: int) -> bytes:
    """Bodies of 1 byte to ~200 KiB, numbered so order and wholeness can be checked."""
    n = (1, 17, 500, 4000, 70_000, 200_000)[i % 6] if i % 10 == 0 else 300 + i % 700
    return (f"{i:06d}:".encode() + bytes([i % 251]) * n)[: max(n, 7)]


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_messages_arrive_whole_and_in_order_through_the_read_ahead(tmp_path, tls):
    if tls:
        certs = make_tls(tmp_path / "tls")
        port = free_port()
        broker = Mosquitto(tmp_path / "broker", extra_conf=mosquitto_tls_conf(port, certs)).start()
        wait_port(port)
    else:
        broker = Mosquitto(tmp_path / "broker").start()
        port = broker.port
    try:
        r = Receiver(port, "read-ahead", BufferedClient)
        if tls:
            r.client.tls_set(ca_certs=str(certs["ca"]))
            p = Properties(PacketTypes.CONNECT)
            p.SessionExpiryInterval = 600
            r.client.connect("localhost", port, clean_start=False, properties=p)
            r.client.loop_start()
            assert r.subscribed.wait(10)
        else:
            r.connect()
        assert isinstance(r.client.socket(), ReadAhead)
        sent = publish(port, 600, sizes, certs["ca"] if tls else None)
        r.wait_for(600, 30)
        assert [m.payload for m in r.got] == sent
        r.close()
    finally:
        broker.stop()
