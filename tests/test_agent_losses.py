"""The agent's own losses, and who may speak for an agent: a corrupt state starts a new
incarnation the ledger keeps apart; spool drops reach the ledger and /metrics; credential
failures keep reports; a report naming another agent on an agent's topic is refused."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from collector_helpers import make_config, metric, post, running, scrape, url, wait_for
from fakes import FakePlatform
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from test_http_transport import Receiver

from agent.config import AgentConfig, HttpConfig
from agent.service import Agent
from agent.transport import HttpTransport, Transport
from collector.simulate import SimConfig, Simulation
from energy_common.schema import encode_report, parse_report


class Keep(Transport):
    """Hands nothing over: the test posts the spooled reports itself."""

    def pump(self, spool) -> bool:
        return False


def agent_at(tmp_path, p: FakePlatform) -> Agent:
    cfg = AgentConfig(state_dir=str(tmp_path / "state"), sample_interval_s=15)
    a = Agent(cfg, platform=p, transport=Keep())
    a.startup()
    return a


def drain(agent: Agent, c) -> list[str]:
    results = []
    for seq in agent.spool.seqs():
        code, doc = post(url(c), agent.spool.read(seq))
        assert code == 200, doc
        results.append(doc["result"])
        agent.spool.remove(seq)
    return results


def run_for(agent: Agent, p: FakePlatform, reports: int) -> None:
    for _ in range(reports):
        p.run(300)
        agent.step()
        agent.report()


def test_corrupt_state_starts_a_new_incarnation_and_nothing_is_answered_duplicate(tmp_path):
    p = FakePlatform()
    with running(make_config(tmp_path / "c")) as c:
        a = agent_at(tmp_path, p)
        run_for(a, p, 3)
        first = [json.loads(a.spool.read(s)) for s in a.spool.seqs()]
        assert drain(a, c) == ["accepted"] * 3
        (tmp_path / "state/state.json").write_text("{ not json")  # a disk hiccup
        b = agent_at(tmp_path, p)
        run_for(b, p, 3)
        second = [json.loads(b.spool.read(s)) for s in b.spool.seqs()]
        assert next(r["seq"] for r in second) == 0  # the sequence restarted…
        assert second[0]["agent_id"] == first[0]["agent_id"]  # …for the same agent
        assert second[0]["incarnation"] != first[0]["incarnation"]
        assert drain(b, c) == ["accepted"] * 3  # none mistaken for a replay
        # the ledger holds both incarnations' time under the one host
        (hosts,) = c.ledger.execute("SELECT COUNT(*) FROM hosts")[0]
        assert hosts == 1
        (n,) = c.ledger.execute("SELECT COUNT(*) FROM processed")[0]
        assert n == 6


def test_a_restart_with_its_state_keeps_the_incarnation(tmp_path):
    p = FakePlatform()
    a = agent_at(tmp_path, p)
    run_for(a, p, 1)
    inc = json.loads(a.spool.read(a.spool.seqs()[0]))["incarnation"]
    b = agent_at(tmp_path, p)
    run_for(b, p, 1)
    assert json.loads(b.spool.read(b.spool.seqs()[-1]))["incarnation"] == inc
    assert b.spool.seqs() == [0, 1]


def test_spool_drops_are_stored_and_exported(tmp_path):
    sim = Simulation(SimConfig(agents=3, days=1, seed=8))
    reports = [json.loads(b) for _, _, _, b in sim.reports()]
    with running(make_config(tmp_path)) as c:
        for r in reports:
            if r["agent_id"] == reports[0]["agent_id"] and r["seq"] >= 3:
                r["spool_dropped"] = 7  # this agent lost 7 reports at its spool bound
            post(url(c), json.dumps(r).encode())
        rows = c.ledger.execute("SELECT host_id, spool_dropped FROM hosts")
        assert dict(rows)[reports[0]["agent_id"]] == 7
        assert sorted(v for _, v in rows) == [0, 0, 7]
        text = scrape(url(c, "/metrics"))
        site = reports[0]["host"]["site"]
        assert metric(text, "energy_agent_spool_dropped_reports", site=site) == 7
        assert metric(text, "energy_agents_with_spool_drops", site=site) == 1
        ingest = json.loads(scrape(url(c, "/api/v1/status")))["ingest"]
        assert ingest["agents_with_spool_drops"] == 1
        assert ingest["reports_dropped_by_agents"] == 7
        assert ingest["ledger"] == "ok"
    with running(make_config(tmp_path)) as c:  # restored from the ledger after a restart
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_agent_spool_dropped_reports", site=site) == 7


@pytest.mark.parametrize("code", [401, 403])
def test_credential_failures_keep_every_report(tmp_path, code):
    r = Receiver()
    try:
        cfg = AgentConfig(state_dir=str(tmp_path / "state"), transport="http")
        p = FakePlatform()
        agent = Agent(cfg, platform=p, transport=HttpTransport(HttpConfig(url=r.url)))
        agent.startup()
        run_for(agent, p, 3)
        r.answer = code
        agent.transport.pump(agent.spool)
        assert agent.spool.seqs() == [0, 1, 2]  # nothing set aside, nothing lost
        assert not (tmp_path / "state/spool/rejected").exists()
        r.answer = 204
        agent.transport._retry_at = 0  # type: ignore[attr-defined]
        agent.transport.pump(agent.spool)
        assert [b["seq"] for b in r.bodies] == [0, 1, 2]
    finally:
        r.close()


def test_a_report_naming_another_agent_on_an_agents_topic_is_refused(tmp_path, broker):
    """Agent A publishes, on its own topic, a report carrying B's id and B's next seq: it is
    rejected (`identity`), answered to A alone, and B's genuine report is then accepted."""
    sim = Simulation(SimConfig(agents=2, days=1, seed=9))
    by = {}
    for _, aid, _seq, body in sim.reports():
        by.setdefault(aid, []).append(body)
    a_id, b_id = list(by)
    forged = json.loads(by[b_id][0])
    forged["host"]["hostname"] = "FORGED"
    mq = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "client_id": "ident"}
    with running(make_config(tmp_path, mqtt={**mq, "group": "ident"})) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        time.sleep(0.5)
        acks: dict[str, list[dict]] = {a_id: [], b_id: []}
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id="forger",
            protocol=mqtt.MQTTv5,
        )
        client.on_message = lambda cl, u, m: acks[m.topic.split("/")[-2]].extend(
            json.loads(m.payload)["acks"]
        )
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.subscribe([(f"energy/v1/agents/{x}/ack", 1) for x in (a_id, b_id)])
        time.sleep(0.3)
        props = Properties(PacketTypes.PUBLISH)
        # the forger also names B's ack topic as its response topic: ignored
        props.ResponseTopic = f"energy/v1/agents/{b_id}/ack"
        client.publish(
            f"energy/v1/agents/{a_id}/report", json.dumps(forged), qos=1, properties=props
        )
        wait_for(lambda: acks[a_id], 10, "the forger's answer")
        assert acks[a_id][0]["result"] == "rejected"
        assert acks[a_id][0]["reason"] == "identity"
        assert acks[b_id] == []  # nothing told B its report was taken
        client.publish(f"energy/v1/agents/{b_id}/report", by[b_id][0], qos=1)
        wait_for(lambda: acks[b_id], 10, "B's answer")
        assert acks[b_id][0] == {"seq": 0, "result": "accepted"}
        (name,) = c.ledger.execute("SELECT hostname FROM hosts WHERE host_id = ?", (b_id,))[0]
        assert name != "FORGED"
        client.loop_stop()
        client.disconnect()
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_report_rejections_total", reason="identity") == 1


def test_a_report_for_an_old_collector_is_still_parsed(tmp_path):
    """Reports without an incarnation (agents before this change) keep their old key."""
    sim = Simulation(SimConfig(agents=1, days=1, seed=10))
    _, aid, _seq, body = next(iter(sim.reports()))
    assert "incarnation" not in json.loads(body)
    rep = parse_report(body)
    assert rep.incarnation is None
    with running(make_config(tmp_path)) as c:
        assert post(url(c), encode_report(rep))[1]["result"] == "accepted"
        assert c.ledger.execute("SELECT entity FROM processed") == [(aid,)]


def test_an_answer_about_the_old_incarnation_never_deletes_a_new_report(tmp_path, broker):
    """After a lost state the sequence restarts: a late answer for seq 0 of the old sequence
    (queued at the broker while the agent was down) must not delete the new seq 0."""
    from agent.config import MqttConfig
    from agent.spool import Spool
    from agent.transport import MqttTransport

    sim = Simulation(SimConfig(agents=1, days=1, seed=12))
    _, aid, _, body = next(iter(sim.reports()))
    new = json.loads(body)
    new["incarnation"] = "b" * 16
    spool = Spool(tmp_path / "spool", 1 << 20, 1e9)
    spool.put(0, json.dumps(new, separators=(",", ":")).encode())
    cfg = MqttConfig(host="127.0.0.1", port=broker.port, ack_timeout_s=60)
    t = MqttTransport(cfg, aid, "test")
    t.start()
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        wait_for(lambda: t.connected, 10, "agent connected")
        time.sleep(0.3)  # its SUBACK
        ack = f"energy/v1/agents/{aid}/ack"
        old = {"seq": 0, "result": "accepted", "incarnation": "a" * 16}
        pub.publish(ack, json.dumps({"acks": [old]}), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            t.pump(spool)
            time.sleep(0.05)
        assert spool.seqs() == [0]  # the old sequence's answer was ignored
        right = {**old, "incarnation": "b" * 16}
        pub.publish(ack, json.dumps({"acks": [right]}), qos=1).wait_for_publish(5)
        wait_for(lambda: (t.pump(spool), len(spool) == 0)[1], 10, "the right answer")
    finally:
        pub.loop_stop()
        pub.disconnect()
        t.stop(clean=True)
