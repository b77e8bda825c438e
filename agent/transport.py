"""Transports: move spooled reports to the collector; delete each only once delivered.

- `MqttTransport`: paho-mqtt 2, MQTT 5, QoS 1, persistent session, retained `status` with a
  Last Will. A report leaves the spool when the collector acknowledges its commit on the
  agent's ack topic (not on the broker's PUBACK); unanswered reports are sent again.
- `HttpTransport`: POST with a bearer token; a report leaves the spool on a 2xx answer (sent
  after the commit). 401/403 keep every report and retry with backoff (a credential problem
  is not the report's). Any other 4xx but 408/429 means the collector will never take it: it
  is moved to `spool/rejected/` (kept, logged), so one bad report cannot block the rest.
- `StdoutTransport`: prints reports as JSON lines (the default, for ops checking a machine).

All three share one interface: `start()`, `pump(spool) -> bool` (try to send; True if
something moved), `stop(clean)`. `wake` is set from network threads when more can be sent.
What the collector sends back besides acknowledgements (a sleep policy, wake requests) lands
in `control` for the agent's loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import enrolment
from agent.config import AgentConfig, HttpConfig, MqttConfig
from agent.spool import Spool
from energy_common.configspec import read_secret
from energy_common.tls import ssl_context

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt_client

log = logging.getLogger("energy_agent.transport")


class Transport:
    def __init__(self) -> None:
        self.wake = threading.Event()
        self.sent = 0
        # what the collector sends besides acknowledgements, on this agent's own
        # authenticated channel: `{"policy": {...}}`, `{"wake": [...]}` (agent/service.py)
        self.control: deque[dict[str, Any]] = deque(maxlen=64)

    def _take_control(self, doc: Any) -> None:
        if isinstance(doc, dict):
            extra = {k: doc[k] for k in ("policy", "wake") if k in doc}
            if extra:
                self.control.append(extra)
                self.wake.set()

    def start(self) -> None:
        pass

    def pump(self, spool: Spool) -> bool:
        raise NotImplementedError

    def stop(self, clean: bool) -> None:
        pass

    def can_deliver(self) -> bool:
        """False while the destination is known to be away (backing off, disconnected)."""
        return True

    def flush(self, spool: Spool, timeout_s: float) -> None:
        """Give queued reports a short chance to leave before stopping; none when the
        destination is away (a stop, and so a shutdown or an uninstall, must not wait on it:
        the spool keeps them)."""
        deadline = time.monotonic() + timeout_s
        while len(spool) and time.monotonic() < deadline and self.can_deliver():
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


class NoDestination(Transport):
    """A service whose settings name no destination (`transport: stdout`, the default, and a
    service has no standard output): reports stay in the spool until the settings, read again
    while running, name one (agent/service.py)."""

    def pump(self, spool: Spool) -> bool:
        return False

    def can_deliver(self) -> bool:
        return False


NO_MATCHING_SUBSCRIBERS = 0x10  # MQTT 5 PUBACK: the broker took it, but nobody will read it


class MqttTransport(Transport):
    """End to end: a report leaves the spool only when the collector says it is committed.

    Each report is published at QoS 1 on `<prefix>/<agent_id>/report`; the agent subscribes
    to `<prefix>/<agent_id>/ack`. The broker's PUBACK only means the broker has it; the
    collector publishes `{"acks": [{"seq", "result", "incarnation"}…]}` on the ack topic
    after its ledger commit. An answer whose incarnation is not the spooled report's is
    ignored (an answer to the sequence before a lost state must not delete a new report of
    the same seq). A report with no collector ack `ack_timeout_s` after its PUBACK (a broker
    that restarted and lost it, a collector that died holding it, a PUBACK saying "no
    matching subscribers") is sent again, waiting twice as long each time.
    """

    SESSION_EXPIRY_S = 7 * 86400  # the broker keeps our session (and QoS 1 state) this long

    def __init__(
        self,
        cfg: MqttConfig,
        agent_id: str,
        version: str,
        state_dir: Path | None = None,
        hostname: str = "",
    ) -> None:
        super().__init__()
        import paho.mqtt.client as mqtt

        self.cfg = cfg
        self.agent_id = agent_id
        self.version = version
        base = f"{cfg.topic_prefix}/{agent_id}"
        self.report_topic = f"{base}/report"
        self.status_topic = f"{base}/status"
        self.ack_topic = f"{base}/ack"
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # mid -> seq, waiting for the broker's PUBACK
        self._queued: set[int] = set()  # seqs published and not yet PUBACKed
        # seq -> when to send again: the broker has it, the collector has not answered
        self._awaiting: dict[int, float] = {}
        self._attempts: dict[int, int] = {}  # seq -> sends so far (for the backoff)
        # (seq, result, reason, incarnation) as the collector answered
        self._answers: deque[tuple[int, str, str, str | None]] = deque()
        self._early: dict[int, Any] = {}  # mid -> reason: acks that beat pump() to the mid
        self._connected = False
        self._connect_failure: str | None = None  # the last one logged, not repeated
        self._retry_after = 0.0
        self.resent = 0
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"energy-agent-{agent_id}",
            protocol=mqtt.MQTTv5,
        )
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=int(cfg.reconnect_max_s))
        self.state_dir = state_dir
        self.hostname = hostname
        self._enrolment_secret: str | None = None
        self._enrol_retry_at = 0.0
        self._enrol_backoff = 0.0
        self._started = False
        creds = enrolment.load(state_dir, agent_id) if cfg.enrolment_secret_file else None
        if cfg.enrolment_secret_file and not (creds and creds.get("mqtt")):
            self._enrolment_secret = read_secret(
                None, cfg.enrolment_secret_file, "mqtt.enrolment_secret_file"
            )
        if creds and isinstance(creds.get("mqtt"), dict):
            # the credentials enrolment gave: this agent's own, scoped to its topics
            client.username_pw_set(creds["mqtt"]["username"], creds["mqtt"]["password"])
        elif cfg.username:
            password = read_secret(cfg.password, cfg.password_file, "mqtt.password_file")
            # `{agent_id}` lets one config serve a fleet whose broker ACL uses %u
            client.username_pw_set(cfg.username.replace("{agent_id}", agent_id), password)
        if cfg.tls.enabled:
            client.tls_set_context(ssl_context(cfg.tls))
        client.will_set(self.status_topic, self._status(False, clean=False), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
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
        if self._enrolment_secret is not None and not self._enrol():
            return  # pump() tries again; reports stay spooled meanwhile
        self._connect()

    def _enrol(self) -> bool:
        if time.monotonic() < self._enrol_retry_at:
            return False
        url = self.cfg.enrolment_url or ""
        ctx = ssl_context(self.cfg.tls) if url.startswith("https:") else None
        try:
            doc = enrolment.enrol(
                url, self._enrolment_secret or "", self.agent_id, self.hostname, ctx, 10.0
            )
        except enrolment.EnrolmentFailed as exc:
            self._enrol_backoff = min(max(self._enrol_backoff * 2, 5.0), 600.0)
            self._enrol_retry_at = time.monotonic() + self._enrol_backoff
            log.warning("mqtt: enrolment failed (%s); retrying in %.0f s", exc, self._enrol_backoff)
            return False
        mq = doc.get("mqtt")
        if not isinstance(mq, dict):
            log.error("mqtt: enrolled, but the collector gave no MQTT credentials (dynsec off?)")
        else:
            self.client.username_pw_set(mq["username"], mq["password"])
        enrolment.save(self.state_dir, doc)
        self._enrolment_secret = None
        log.info("mqtt: enrolled as %s; credentials kept in %s", self.agent_id, self.state_dir)
        return True

    def _connect(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self._started = True
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
        session = bool(getattr(flags, "session_present", False))
        self._connect_failure = None
        log.info(
            "mqtt: connected to %s:%d (session present: %s)", self.cfg.host, self.cfg.port, session
        )
        # every connect: a broker that lost our session lost the subscription too
        client.subscribe(self.ack_topic, qos=1)
        client.publish(self.status_topic, self._status(True), qos=1, retain=True)
        with self._lock:
            self._connected = True
            # what the broker never PUBACKed is sent again from the spool
            self._inflight.clear()
            self._queued.clear()
            self._early.clear()
            if not session:
                # a new session: acks the collector sent to the old one are gone
                self._awaiting.clear()
        self.wake.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its `except OSError`: the exception says why (refused, name
        # not found, certificate not trusted…). Logged when the reason changes, not every retry.
        exc = sys.exc_info()[1]
        why = f"{type(exc).__name__}: {exc}" if exc else "unknown reason"
        if why != self._connect_failure:
            self._connect_failure = why
            log.warning(
                "mqtt: cannot connect to %s:%d (%s); reports stay spooled, retrying",
                self.cfg.host,
                self.cfg.port,
                why,
            )

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
        """Record the broker's PUBACK; the caller holds self._lock."""
        if seq not in self._queued:
            return  # a status publish, or a report already answered
        self._queued.discard(seq)
        code = getattr(reason, "value", 0)
        if reason is not None and reason.is_failure:
            log.error(
                "mqtt: broker refused report seq=%d: %s (kept; retrying in 60 s)", seq, reason
            )
            self._retry_after = time.monotonic() + 60
            return
        attempts = self._attempts.get(seq, 1)
        wait = min(self.cfg.ack_timeout_s * 2 ** (attempts - 1), self.cfg.ack_timeout_max_s)
        if code == NO_MATCHING_SUBSCRIBERS:
            log.warning(
                "mqtt: no collector subscribed; report seq=%d kept, sent again in %.0f s",
                seq,
                wait,
            )
        self._awaiting[seq] = time.monotonic() + wait

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.topic != self.ack_topic:
            return
        try:
            doc = json.loads(msg.payload)
            self._take_control(doc)
            answers = [
                (
                    int(a["seq"]),
                    str(a["result"]),
                    str(a.get("reason") or ""),
                    a["incarnation"] if isinstance(a.get("incarnation"), str) else None,
                )
                for a in doc.get("acks", [])
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("mqtt: unreadable acknowledgement on %s ignored", msg.topic)
            return
        with self._lock:
            self._answers.extend(answers)
        self.wake.set()

    # main thread -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    def can_deliver(self) -> bool:
        return self._connected

    def pump(self, spool: Spool) -> bool:
        if not self._started:
            if self._enrolment_secret is None or self._enrol():
                self._connect()
            return False
        moved = False
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._answers:
                    break
                seq, result, reason, inc = self._answers.popleft()
            data = spool.read(seq)
            if data is None or _incarnation(data) != inc:
                continue  # not (or no longer) ours: an answer about another report
            with self._lock:
                self._awaiting.pop(seq, None)
                self._queued.discard(seq)
                self._attempts.pop(seq, None)
            if result in ("accepted", "duplicate"):
                spool.remove(seq)
                self.sent += 1
                moved = True
            elif result == "rejected":
                spool.set_aside(seq, reason or "rejected")
                moved = True
        with self._lock:
            for seq, deadline in list(self._awaiting.items()):
                if deadline <= now:
                    del self._awaiting[seq]  # no answer in time: send again
                    self.resent += 1
                    log.info(
                        "mqtt: no acknowledgement for report seq=%d after %d send(s); resending",
                        seq,
                        self._attempts.get(seq, 1),
                    )
            if not self._connected or now < self._retry_after:
                return moved
            busy = set(self._queued) | set(self._awaiting)
            room = self.cfg.max_inflight - len(busy)
        if room <= 0:
            return moved
        for seq in spool.seqs():
            if seq in busy:
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
                self._attempts[seq] = self._attempts.get(seq, 0) + 1
                if info.mid in self._early:
                    self._settle(seq, self._early.pop(info.mid))
                else:
                    self._inflight[info.mid] = seq
            room -= 1
        return moved

    def stop(self, clean: bool) -> None:
        if not self._started:
            return
        if self._connected:
            info = self.client.publish(
                self.status_topic, self._status(False, clean=clean), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
            self.client.disconnect()
        self.client.loop_stop()


class HttpTransport(Transport):
    def __init__(
        self,
        cfg: HttpConfig,
        state_dir: Path | None = None,
        agent_id: str | None = None,
        hostname: str = "",
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.state_dir = state_dir
        self.agent_id = agent_id
        self.hostname = hostname
        self._ctx = ssl_context(cfg) if cfg.url.startswith("https:") else None
        self._backoff = 0.0
        self._retry_at = 0.0
        self.token: str | None = None
        self._enrolment_secret: str | None = None
        if cfg.enrolment_secret_file:
            self.token = self._saved_token()
            if self.token is None:
                self._enrolment_secret = read_secret(
                    None, cfg.enrolment_secret_file, "http.enrolment_secret_file"
                )
        else:
            self.token = read_secret(cfg.token, cfg.token_file, "http.token_file")

    def _saved_token(self) -> str | None:
        doc = enrolment.load(self.state_dir, self.agent_id or "")
        token = doc.get("token") if doc else None
        return token if isinstance(token, str) and token else None

    def _enrol(self) -> bool:
        """Trade the site secret for this agent's own token, once; False: retry later."""
        url = self.cfg.enrolment_url or self.cfg.url.replace("/reports", "/enrol")
        try:
            doc = enrolment.enrol(
                url,
                self._enrolment_secret or "",
                self.agent_id or "",
                self.hostname,
                self._ctx,
                self.cfg.timeout_s,
            )
        except enrolment.EnrolmentFailed as exc:
            self._fail(f"enrolment refused or failed: {exc}")
            return False
        enrolment.save(self.state_dir, doc)
        self.token = doc["token"]
        self._enrolment_secret = None
        log.info("http: enrolled as %s; credentials kept in %s", self.agent_id, self.state_dir)
        return True

    def pump(self, spool: Spool) -> bool:
        import urllib.error
        import urllib.request

        if time.monotonic() < self._retry_at:
            return False
        if self._enrolment_secret is not None and not self._enrol():
            return False  # not enrolled yet: everything stays spooled
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
                    body = resp.read(256 * 1024)
                with contextlib.suppress(ValueError):
                    self._take_control(json.loads(body))
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    # our credentials, not the report: keep everything and retry, loudly
                    self._fail(f"HTTP {exc.code}: credentials refused (revoked, or a wrong token)")
                    return moved
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    detail = exc.read(300).decode(errors="replace")
                    spool.set_aside(seq, f"HTTP {exc.code}: {detail}")
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

    def can_deliver(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _fail(self, why: str) -> None:
        self._backoff = min(max(self._backoff * 2, 2.0), 300.0)
        self._retry_at = time.monotonic() + self._backoff
        log.warning(
            "http: %s unreachable (%s); retrying in %.0f s, reports stay spooled",
            self.cfg.url,
            why,
            self._backoff,
        )


_INCARNATION = re.compile(rb'"incarnation":"([0-9a-f]{8,32})"')


def _incarnation(report: bytes) -> str | None:
    m = _INCARNATION.search(report)
    return m.group(1).decode() if m else None


def make_transport(
    cfg: AgentConfig, agent_id: str, version: str, console: bool = True
) -> Transport:
    """`console`: False for a service, which never writes reports to standard output."""
    import socket

    if cfg.transport == "mqtt":
        return MqttTransport(cfg.mqtt, agent_id, version, cfg.state_path, socket.gethostname())
    if cfg.transport == "http":
        return HttpTransport(cfg.http, cfg.state_path, agent_id, socket.gethostname())
    return StdoutTransport() if console else NoDestination()
