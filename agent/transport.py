"""Transports: move spooled reports to the collector; delete each only once delivered.

- `MqttTransport`: paho-mqtt 2, MQTT 5, QoS 1, persistent session, retained `status` with a
  Last Will. A report leaves the spool on its PUBACK.
- `HttpTransport`: POST with a bearer token; a report leaves the spool on a 2xx answer. A 4xx
  other than 408/429 means the collector will never take it: it is moved to `spool/rejected/`
  (kept, logged), so one bad report cannot block the rest.
- `StdoutTransport`: prints reports as JSON lines (the default, for ops checking a machine).

All three share one interface: `start()`, `pump(spool) -> bool` (try to send; True if
something moved), `stop(clean)`. `wake` is set from network threads when more can be sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import AgentConfig, HttpConfig, MqttConfig, TlsConfig, read_secret
from agent.spool import Spool

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt_client

log = logging.getLogger("energy_agent.transport")


class Transport:
    def __init__(self) -> None:
        self.wake = threading.Event()
        self.sent = 0

    def start(self) -> None:
        pass

    def pump(self, spool: Spool) -> bool:
        raise NotImplementedError

    def stop(self, clean: bool) -> None:
        pass

    def flush(self, spool: Spool, timeout_s: float) -> None:
        """Give queued reports a short chance to leave before stopping."""
        deadline = time.monotonic() + timeout_s
        while len(spool) and time.monotonic() < deadline:
            self.pump(spool)
            self.wake.wait(0.05)
            self.wake.clear()


class StdoutTransport(Transport):
    def pump(self, spool: Spool) -> bool:
        moved = False
        for seq in spool.seqs():
            data = spool.read(seq)
            if data is not None:
                sys.stdout.write(data.decode() + "\n")
                sys.stdout.flush()
                self.sent += 1
            spool.remove(seq)
            moved = True
        return moved


def _ssl_context(tls: TlsConfig | HttpConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    if isinstance(tls, TlsConfig) and tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class MqttTransport(Transport):
    SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our session (and QoS 1 state) this long

    def __init__(self, cfg: MqttConfig, agent_id: str, version: str) -> None:
        super().__init__()
        import paho.mqtt.client as mqtt

        self.cfg = cfg
        self.agent_id = agent_id
        self.version = version
        base = f"{cfg.topic_prefix}/{agent_id}"
        self.report_topic = f"{base}/report"
        self.status_topic = f"{base}/status"
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._queued: set[int] = set()  # seqs published and not yet acknowledged
        self._acked: deque[int] = deque()
        self._early: dict[int, Any] = {}  # mid -> reason: acks that beat pump() to the mid
        self._connected = False
        self._retry_after = 0.0
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"energy-agent-{agent_id}",
            protocol=mqtt.MQTTv5,
        )
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=int(cfg.reconnect_max_s))
        password = read_secret(cfg.password, cfg.password_file, "mqtt.password_file")
        if cfg.username:
            # `{agent_id}` lets one config serve a fleet whose broker ACL uses %u
            client.username_pw_set(cfg.username.replace("{agent_id}", agent_id), password)
        if cfg.tls.enabled:
            client.tls_set_context(_ssl_context(cfg.tls))
        client.will_set(self.status_topic, self._status(False, clean=False), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client: mqtt_client.Client = client

    def _status(self, online: bool, clean: bool | None = None) -> bytes:
        doc: dict[str, Any] = {
            "state": "online" if online else "offline",
            "at": round(time.time(), 3),
            "agent_version": self.version,
        }
        if clean is not None:
            doc["clean"] = clean
        return json.dumps(doc, separators=(",", ":")).encode()

    def start(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.SESSION_EXPIRY_S
        self.client.connect_async(
            self.cfg.host,
            self.cfg.port,
            keepalive=self.cfg.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    # paho network thread ----------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning(
                "mqtt: connection to %s:%d refused: %s", self.cfg.host, self.cfg.port, reason
            )
            return
        log.info("mqtt: connected to %s:%d", self.cfg.host, self.cfg.port)
        client.publish(self.status_topic, self._status(True), qos=1, retain=True)
        with self._lock:
            self._connected = True
            # anything unacknowledged is sent again from the spool; duplicates are harmless
            # (the collector deduplicates on agent_id + seq)
            self._inflight.clear()
            self._queued.clear()
            self._early.clear()
        self.wake.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self._connected = False
            self._inflight.clear()
            self._queued.clear()
        if reason is not None and getattr(reason, "value", 0) != 0:
            log.warning("mqtt: disconnected (%s); reports stay spooled", reason)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                # acknowledged before pump() recorded the mid: settle it there
                self._early[mid] = reason
                return
            self._settle(seq, reason)
        self.wake.set()

    def _settle(self, seq: int, reason: Any) -> None:
        """Record one acknowledgement; the caller holds self._lock."""
        self._queued.discard(seq)
        if reason is not None and reason.is_failure:
            log.error(
                "mqtt: broker refused report seq=%d: %s (kept; retrying in 60 s)", seq, reason
            )
            self._retry_after = time.monotonic() + 60
            return
        self._acked.append(seq)

    # main thread -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def pump(self, spool: Spool) -> bool:
        moved = False
        while True:
            with self._lock:
                if not self._acked:
                    break
                seq = self._acked.popleft()
            spool.remove(seq)
            self.sent += 1
            moved = True
        with self._lock:
            if not self._connected or time.monotonic() < self._retry_after:
                return moved
            room = self.cfg.max_inflight - len(self._inflight)
            queued = set(self._queued)
        if room <= 0:
            return moved
        for seq in spool.seqs():
            if seq in queued:
                continue
            if room <= 0:
                break
            data = spool.read(seq)
            if data is None:
                continue
            # never call paho while holding self._lock: paho runs our callbacks under its own
            # locks, and the callbacks take self._lock (lock-order inversion → deadlock)
            info = self.client.publish(self.report_topic, data, qos=1)
            if info.rc != 0:
                break
            with self._lock:
                self._queued.add(seq)
                if info.mid in self._early:
                    self._settle(seq, self._early.pop(info.mid))
                else:
                    self._inflight[info.mid] = seq
            room -= 1
        return moved

    def stop(self, clean: bool) -> None:
        if self._connected:
            info = self.client.publish(
                self.status_topic, self._status(False, clean=clean), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
            self.client.disconnect()
        self.client.loop_stop()


class HttpTransport(Transport):
    def __init__(self, cfg: HttpConfig, spool_dir: Path) -> None:
        super().__init__()
        self.cfg = cfg
        self.token = read_secret(cfg.token, cfg.token_file, "http.token_file")
        self.rejected_dir = spool_dir / "rejected"
        self._ctx = _ssl_context(cfg) if cfg.url.startswith("https:") else None
        self._backoff = 0.0
        self._retry_at = 0.0

    def pump(self, spool: Spool) -> bool:
        import urllib.error
        import urllib.request

        if time.monotonic() < self._retry_at:
            return False
        moved = False
        for seq in spool.seqs():
            data = spool.read(seq)
            if data is None:
                continue
            req = urllib.request.Request(self.cfg.url, data=data, method="POST")
            req.add_header("Content-Type", "application/json")
            if self.token:
                req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(
                    req, timeout=self.cfg.timeout_s, context=self._ctx
                ) as resp:
                    resp.read()
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    detail = exc.read(300).decode(errors="replace")
                    self._reject(spool, seq, data, f"HTTP {exc.code}: {detail}")
                    moved = True
                    continue
                self._fail(f"HTTP {exc.code}")
                return moved
            except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors
                self._fail(str(getattr(exc, "reason", exc)))
                return moved
            spool.remove(seq)
            self.sent += 1
            moved = True
            self._backoff = 0.0
        return moved

    def _fail(self, why: str) -> None:
        self._backoff = min(max(self._backoff * 2, 2.0), 300.0)
        self._retry_at = time.monotonic() + self._backoff
        log.warning(
            "http: %s unreachable (%s); retrying in %.0f s, reports stay spooled",
            self.cfg.url,
            why,
            self._backoff,
        )

    def _reject(self, spool: Spool, seq: int, data: bytes, why: str) -> None:
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        (self.rejected_dir / f"{seq:012d}.json").write_bytes(data)
        spool.remove(seq)
        log.error(
            "http: collector rejected report seq=%d (%s); kept in %s", seq, why, self.rejected_dir
        )


def make_transport(cfg: AgentConfig, agent_id: str, version: str) -> Transport:
    if cfg.transport == "mqtt":
        return MqttTransport(cfg.mqtt, agent_id, version)
    if cfg.transport == "http":
        return HttpTransport(cfg.http, cfg.state_path / "spool")
    return StdoutTransport()
