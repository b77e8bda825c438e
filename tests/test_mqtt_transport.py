"""The agent as a real process against a real Mosquitto: delivery, outage, kill -9, Last Will."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from services import Mosquitto, free_port, make_tls, mosquitto_tls_conf

from energy_common.schema import parse_report


class Listener:
    """A collector stand-in: persistent-session QoS 1 subscriber recording what arrives and,
    like the collector after its commit, answering each report on the agent's ack topic
    (`ack=False`: a collector that takes reports and never commits them)."""

    def __init__(self, port: int, name: str, tls_ca: Path | None = None, ack: bool = True) -> None:
        self.ack = ack
        self.reports: list[dict] = []
        self.status: list[dict] = []
        self.status_by_agent: dict[str, dict] = {}
        self.lock = threading.RLock()
        self.c = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=name,
            protocol=mqtt.MQTTv5,
        )
        if tls_ca:
            self.c.tls_set(ca_certs=str(tls_ca))
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.c.reconnect_delay_set(0.2, 1)
        self.c.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.c.loop_start()

    def _on_connect(self, c, u, f, rc, p):
        c.subscribe([("energy/v1/agents/+/report", 1), ("energy/v1/agents/+/status", 1)])

    def _on_message(self, c, u, msg):
        doc = json.loads(msg.payload)
        with self.lock:
            if msg.topic.endswith("/report"):
                self.reports.append(doc)
                if self.ack:
                    ack = msg.topic.rsplit("/", 1)[0] + "/ack"
                    answer = {"seq": doc["seq"], "result": "accepted"}
                    if "incarnation" in doc:
                        answer["incarnation"] = doc["incarnation"]
                    c.publish(ack, json.dumps({"acks": [answer]}), qos=1)
            else:
                self.status.append(doc)
                self.status_by_agent[msg.topic.split("/")[-2]] = doc

    def seqs(self) -> list[int]:
        with self.lock:
            return [r["seq"] for r in self.reports]

    def wait(self, pred, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if pred(self):
                    return
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; seqs={self.seqs()} status={self.status[-3:]}"
        )

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def start_agent(tmp_path: Path, port: int, extra: dict | None = None) -> subprocess.Popen:
    cfg = {
        "transport": "mqtt",
        "state_dir": str(tmp_path / "state"),
        "sample_interval_s": 0.5,
        "report_interval_s": 1,
        "heartbeat_interval_s": 5,
        "site": "test-site",
        "department": "DSI",
        "mqtt": {"host": "127.0.0.1", "port": port, "keepalive_s": 5, "reconnect_max_s": 2},
    }
    for k, v in (extra or {}).items():
        if isinstance(v, dict):
            cfg.setdefault(k, {}).update(v)
        else:
            cfg[k] = v
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(cfg))
    log = open(tmp_path / "agent.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "run", "-c", str(path)], stdout=log, stderr=log
    )


def spooled(tmp_path: Path) -> list[int]:
    return sorted(int(p.stem) for p in (tmp_path / "state/spool").glob("*.json"))


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(45)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave a process behind, then fail
            proc.wait()
            raise


def assert_contiguous(reports: list[dict]) -> None:
    by_seq = {r["seq"]: r for r in reports}  # duplicates are allowed and identical
    segs = [s for seq in sorted(by_seq) for s in by_seq[seq]["segments"]]
    for a, b in itertools.pairwise(segs):
        assert a["end"] == b["start"]


def test_reports_delivered_and_parsed_back(tmp_path, broker):
    sub = Listener(broker.port, "t-deliver")
    agent = start_agent(tmp_path, broker.port)
    try:
        sub.wait(lambda s: len(s.reports) >= 4, 20, "four reports")
        sub.wait(lambda s: any(x["state"] == "online" for x in s.status), 5, "online status")
    finally:
        stop(agent)
    for r in sub.reports:
        rep = parse_report(json.dumps(r), now=time.time())
        assert rep.host.site == "test-site" and rep.host.department == "DSI"
        assert len(json.dumps(r, separators=(",", ":"))) < 1024
    seqs = sub.seqs()
    assert seqs == sorted(seqs) and seqs[0] == 0
    assert_contiguous(sub.reports)
    sub.wait(
        lambda s: s.status[-1] == {**s.status[-1], "state": "offline", "clean": True},
        5,
        "clean offline status",
    )
    sub.close()


def test_broker_outage_spool_grows_then_drains_in_order(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    sub = Listener(broker.port, "t-outage")
    agent = start_agent(tmp_path, broker.port)
    try:
        sub.wait(lambda s: len(s.reports) >= 2, 20, "first reports")
        broker.stop()
        time.sleep(6)
        during = spooled(tmp_path)
        assert len(during) >= 4, f"spool should grow while the broker is down: {during}"
        broker.start()
        deadline = time.monotonic() + 60
        while spooled(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert spooled(tmp_path) == [] or spooled(tmp_path)[0] > during[-1]
        sub.wait(lambda s: set(during) <= set(s.seqs()), 30, "the spooled reports")
    finally:
        stop(agent)
        sub.close()
        broker.stop()
    seqs = sub.seqs()
    assert set(range(max(seqs) + 1)) == set(seqs), "no report lost"
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == sorted(first_seen), "drained in order"
    assert_contiguous(sub.reports)


def test_kill_9_keeps_spool_and_seq_continuity(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    sub = Listener(broker.port, "t-kill")
    agent = start_agent(tmp_path, broker.port)
    try:
        sub.wait(lambda s: len(s.reports) >= 2, 20, "first reports")
        broker.stop()
        time.sleep(4)
        stop(agent, signal.SIGKILL)
        left = spooled(tmp_path)
        assert len(left) >= 2
        for seq in left:  # every spooled report is whole and valid
            parse_report((tmp_path / f"state/spool/{seq:012d}.json").read_bytes())
        broker.start()
        agent = start_agent(tmp_path, broker.port)
        sub.wait(
            lambda s: set(left) <= set(s.seqs()) and max(s.seqs()) > max(left) + 2,
            30,
            "backlog and new reports",
        )
    finally:
        stop(agent)
        sub.close()
        broker.stop()
    seqs = sub.seqs()
    assert set(range(max(seqs) + 1)) == set(seqs), "no gap in seq"
    assert_contiguous(sub.reports)


def test_last_will_announces_a_vanished_agent(tmp_path, broker):
    sub = Listener(broker.port, "t-will")
    agent = start_agent(tmp_path, broker.port)
    try:
        sub.wait(lambda s: s.status and s.status[-1]["state"] == "online", 20, "online")
        stop(agent, signal.SIGKILL)
        # the broker publishes the will after 1.5 × keepalive (5 s) without traffic
        sub.wait(lambda s: s.status[-1]["state"] == "offline", 15, "Last Will")
        assert sub.status[-1]["clean"] is False
    finally:
        stop(agent)
        sub.close()


def test_status_is_retained_for_late_subscribers(tmp_path, broker):
    agent = start_agent(tmp_path, broker.port)
    try:
        time.sleep(3)
        agent_id = (tmp_path / "state/agent_id").read_text().strip()
        late = Listener(broker.port, "t-late")
        late.wait(lambda s: agent_id in s.status_by_agent, 5, "retained status")
        assert late.status_by_agent[agent_id]["state"] == "online"
        late.close()
    finally:
        stop(agent)


def test_tls_connection_with_ca_file(tmp_path):
    certs = make_tls(tmp_path / "tls")
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", extra_conf=mosquitto_tls_conf(port, certs)).start()
    from services import wait_port

    wait_port(port)
    sub = Listener(port, "t-tls", tls_ca=certs["ca"])
    agent = start_agent(
        tmp_path,
        port,
        {"mqtt": {"host": "localhost", "tls": {"enabled": True, "ca_file": str(certs["ca"])}}},
    )
    try:
        sub.wait(lambda s: len(s.reports) >= 2, 20, "reports over TLS")
    finally:
        stop(agent)
        sub.close()
        broker.stop()


def test_tls_with_wrong_ca_sends_nothing_and_keeps_reports(tmp_path):
    certs = make_tls(tmp_path / "tls")
    other = make_tls(tmp_path / "other")
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", extra_conf=mosquitto_tls_conf(port, certs)).start()
    agent = start_agent(
        tmp_path,
        port,
        {"mqtt": {"host": "localhost", "tls": {"enabled": True, "ca_file": str(other["ca"])}}},
    )
    try:
        time.sleep(4)
        assert len(spooled(tmp_path)) >= 2
    finally:
        stop(agent)
        broker.stop()
    # why it sends nothing is said, once, not at every retry
    text = (tmp_path / "agent.log").read_text()
    assert text.count("CERTIFICATE_VERIFY_FAILED") == 1, text
    assert "mqtt: cannot connect to localhost" in text


@pytest.fixture(autouse=True)
def _pythonpath(monkeypatch):
    root = str(Path(__file__).parent.parent)
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
