"""The collector's MQTT subscriber client, shared by its sources (agent reports, LoRaWAN):
MQTT 5, fixed client id with a persistent session, manual acknowledgements (sent after the
ledger commit), credentials and TLS from an `MqttIngestConfig`."""

from __future__ import annotations

import struct
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.mqttsettings import MqttIngestConfig
from energy_common.configspec import read_secret
from energy_common.tls import ssl_context


class ReadAhead:
    """The broker connection's socket with a receive buffer in front of it.

    paho reads each message with several `recv` calls (its first byte, each byte of its
    length, then its body), each a system call, and waits in `select()` before each message.
    Here one `recv` of up to 64 KiB serves every message it holds, and `pending()` tells
    paho's loop that bytes are waiting, as it asks of TLS sockets (it then reads without
    waiting). Writes and everything else go to the socket itself."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._buf = b""
        self._pos = 0
        self._inner = getattr(sock, "pending", None)  # a TLS socket's own decrypted bytes

    def recv(self, n: int) -> bytes:
        pos = self._pos
        if pos >= len(self._buf):
            data = self.sock.recv(max(n, 65536))  # may raise BlockingIOError: nothing waits
            if len(data) <= n:
                return data
            self._buf, pos = data, 0
        out = self._buf[pos : pos + n]
        self._pos = pos + len(out)
        return out

    def pending(self) -> int:
        return len(self._buf) - self._pos + (self._inner() if self._inner else 0)

    def close(self) -> None:
        self._buf, self._pos = b"", 0
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        """Everything else paho does with its socket (send, fileno, setblocking…) goes to it;
        no other read: a read past the buffer would lose or reorder bytes."""
        if name.startswith("recv"):
            raise AttributeError(f"ReadAhead has no {name}")
        return getattr(self.sock, name)


class BufferedClient(mqtt.Client):
    """paho's client reading through `ReadAhead` (not over WebSockets, which frame their
    own reads). The hook is paho's socket factory; a paho without it reads as before."""

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        return sock if self._transport == "websockets" else ReadAhead(sock)


def subscriber(cfg: MqttIngestConfig, secret_key: str) -> mqtt.Client:
    c = BufferedClient(
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


_PUBACK = struct.Struct("!BBH")  # fixed header 0x40, remaining length 2, packet identifier


class Acks:
    """The PUBACKs of one batch, sent together once it is committed.

    paho's `ack()` queues each PUBACK as a packet of its own: a wake-up byte to its network
    thread and a socket write per message (~8 µs of the ingest thread's time per report, and
    as much again on the network thread). These are queued as one write of back-to-back
    PUBACK packets, the shortest form MQTT 5 allows for a success (§3.4.2.1: no reason code,
    no properties; the same bytes in MQTT 3.1.1), through the one paho call that queues bytes
    for its network thread; a paho without it gets one `ack()` each. QoS 2 (never asked for
    here) goes through `ack()` too. Used from one thread (the one that commits)."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self._mids: list[int] = []

    def add(self, mid: int, qos: int) -> None:
        if qos == 1:
            self._mids.append(mid)
        elif qos == 2:
            self.client.ack(mid, qos)

    def send(self) -> None:
        mids, self._mids = self._mids, []
        queue: Any = getattr(self.client, "_packet_queue", None)
        if len(mids) < 2 or queue is None:
            for mid in mids:
                self.client.ack(mid, 1)
            return
        pack = _PUBACK.pack
        queue(mqtt.PUBACK, b"".join([pack(0x40, 2, mid) for mid in mids]), 0, 0)
