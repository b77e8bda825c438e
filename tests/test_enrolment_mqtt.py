"""Enrolment with MQTT credentials from Mosquitto's dynamic-security plugin: each agent gets
a user of its own, scoped to its topics. A cannot write as B by any path, a revoked agent
is refused by the broker at once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from collector_helpers import make_config, running, wait_for
from services import Mosquitto, require_binary

from agent.config import MqttConfig
from agent.spool import Spool
from agent.transport import MqttTransport
from collector.simulate import SimConfig, Simulation
from collector.web import enrolment
from collector.web.dynsec import Dynsec
from collector.web.settings import DynsecConfig

ADMIN_PW = "adm1n-pw"
COLLECTOR_PW = "c0llector-pw"


def collector_role(d: Dynsec) -> None:
    """What docs/deploy.md has ops run once: the collectors' user and role."""
    acls = [
        {"acltype": "subscribePattern", "topic": "energy/v1/agents/+/report", "allow": True},
        # Mosquitto 2.0 checks a shared subscription with its $share/<group>/ prefix
        {
            "acltype": "subscribePattern",
            "topic": "$share/+/energy/v1/agents/+/report",
            "allow": True,
        },
        {"acltype": "subscribePattern", "topic": "energy/v1/agents/+/status", "allow": True},
        {"acltype": "publishClientReceive", "topic": "energy/v1/agents/+/report", "allow": True},
        {"acltype": "publishClientReceive", "topic": "energy/v1/agents/+/status", "allow": True},
        {"acltype": "publishClientSend", "topic": "energy/v1/agents/+/ack", "allow": True},
    ]
    d.run(
        [
            {"command": "createRole", "rolename": "energy-collector", "acls": acls},
            {
                "command": "createClient",
                "username": "collector",
                "password": COLLECTOR_PW,
                "roles": [{"rolename": "energy-collector"}],
            },
        ]
    )


@pytest.fixture
def dynsec_broker(tmp_path):
    state = tmp_path / "dynamic-security.json"
    subprocess.run(
        [require_binary("mosquitto_ctrl"), "dynsec", "init", str(state), "admin", ADMIN_PW],
        check=True,
        capture_output=True,
    )
    state.chmod(0o644)
    broker = Mosquitto.production(tmp_path / "broker", dynsec=state).start()
    cfg = DynsecConfig(enabled=True, host="127.0.0.1", port=broker.port, username="admin")
    collector_role(Dynsec(cfg, ADMIN_PW, "energy/v1/agents"))
    yield broker
    broker.stop()


def collector_config(tmp_path: Path, port: int):
    (tmp_path / "site").write_text("s1te\n")
    (tmp_path / "admin").write_text(ADMIN_PW + "\n")
    (tmp_path / "collector-pw").write_text(COLLECTOR_PW + "\n")
    return make_config(
        tmp_path,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": port,
            "username": "collector",
            "password_file": str(tmp_path / "collector-pw"),
            "client_id": "dynsec-collector",
        },
        enrolment={
            "secret_file": str(tmp_path / "site"),
            "dynsec": {
                "enabled": True,
                "host": "127.0.0.1",
                "port": port,
                "password_file": str(tmp_path / "admin"),
            },
        },
    )


def agent(tmp_path: Path, port: int, c, aid: str) -> tuple[MqttTransport, Spool]:
    cfg = MqttConfig(
        host="127.0.0.1",
        port=port,
        keepalive_s=5,
        reconnect_max_s=1,
        ack_timeout_s=2,
        enrolment_secret_file=str(tmp_path / "site"),
        enrolment_url=f"http://127.0.0.1:{c.http.port}/api/v1/enrol",
    )
    state = tmp_path / "agents" / aid
    state.mkdir(parents=True)
    t = MqttTransport(cfg, aid, "test", state, f"PC-{aid[:4]}")
    return t, Spool(state / "spool", 1 << 20, 1e9)


def raw_client(port: int, user: str, password: str) -> tuple[mqtt.Client, list]:
    events: list = []
    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"raw-{user[:8]}-{time.monotonic_ns()}",
        protocol=mqtt.MQTTv5,
    )
    c.username_pw_set(user, password)
    c.on_connect = lambda cl, u, f, rc, p: events.append(("connect", rc.value))
    c.on_publish = lambda cl, u, mid, rc, p: events.append(("puback", mid, rc.value))
    c.on_subscribe = lambda cl, u, mid, codes, p: events.append(
        ("suback", [x.value for x in codes])
    )
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c, events


def test_enrolled_agents_deliver_and_a_cannot_write_as_b_by_any_path(tmp_path, dynsec_broker):
    sim = Simulation(SimConfig(agents=2, days=1, seed=23))
    by: dict[str, list[tuple[int, bytes]]] = {}
    for _, aid, seq, body in sim.reports():
        by.setdefault(aid, []).append((seq, body))
    a_id, b_id = list(by)
    port = dynsec_broker.port
    with running(collector_config(tmp_path, port)) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected with its own user")
        time.sleep(0.5)
        agents = {aid: agent(tmp_path, port, c, aid) for aid in (a_id, b_id)}
        for aid, (t, spool) in agents.items():
            for seq, body in by[aid][:5]:
                spool.put(seq, body)
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(len(s) for _, s in agents.values()):
            for t, s in agents.values():
                t.pump(s)
            time.sleep(0.05)
        assert all(len(s) == 0 for _, s in agents.values())  # acknowledged end to end
        creds = json.loads((tmp_path / "agents" / a_id / "credentials.json").read_text())
        assert creds["mqtt"]["username"] == a_id
        pw = creds["mqtt"]["password"]

        raw, events = raw_client(port, a_id, pw)
        wait_for(lambda: ("connect", 0) in events, 10, "A connected with its own credentials")
        # 1. B's topic: refused by the broker (MQTT 5 PUBACK 0x87 Not authorized)
        seq, body = by[b_id][5]
        info = raw.publish(f"energy/v1/agents/{b_id}/report", body, qos=1)
        wait_for(lambda: ("puback", info.mid, 0x87) in events, 10, "refused on B's topic")
        # 2. its own topic with B's id: refused by the collector (identity)
        raw.publish(f"energy/v1/agents/{a_id}/report", body, qos=1)
        # 3. B's acknowledgements: A may not subscribe to them
        raw.subscribe(f"energy/v1/agents/{b_id}/ack", qos=1)
        wait_for(lambda: any(e[0] == "suback" for e in events), 10, "suback")
        (codes,) = [e[1] for e in events if e[0] == "suback"]
        assert codes[0] >= 0x80, codes
        wait_for(
            lambda: c.pipeline.metrics.rejections.labels("identity")._value.get() == 1,
            10,
            "identity rejection",
        )
        assert c.ledger.execute("SELECT COUNT(*) FROM processed")[0][0] == 10
        raw.loop_stop()
        raw.disconnect()

        # revoked: the broker refuses A from now on, B goes on
        enrolment.revoke(c.ledger, a_id, enrolment.dynsec_for(c.cfg))
        again, ev2 = raw_client(port, a_id, pw)
        wait_for(lambda: any(e[0] == "connect" for e in ev2), 10, "A's connection answered")
        assert ("connect", 0) not in ev2  # refused (not authorized)
        again.loop_stop()
        b_creds = json.loads((tmp_path / "agents" / b_id / "credentials.json").read_text())
        b_raw, ev3 = raw_client(port, b_id, b_creds["mqtt"]["password"])
        wait_for(lambda: ("connect", 0) in ev3, 10, "B still connects")
        b_raw.loop_stop()
        b_raw.disconnect()
        for t, _ in agents.values():
            t.stop(clean=True)
