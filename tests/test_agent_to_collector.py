"""The agent and the collector together, as deployed: HTTPS with a bearer token, and MQTT
through a broker; the collector's /metrics and status show the agent's machine."""

from __future__ import annotations

import time

from collector_helpers import make_config, metric, running, scrape, url, wait_for
from fakes import FakePlatform
from services import make_tls

from agent.config import AgentConfig, HttpConfig, MqttConfig
from agent.service import Agent


def drive(agent: Agent, platform: FakePlatform, minutes: int) -> None:
    agent.startup()
    agent.report()
    for _ in range(minutes * 4):
        platform.run(15)
        if agent.step():
            agent.report()
    agent.transport.pump(agent.spool)


def test_agent_over_https_with_token(tmp_path):
    certs = make_tls(tmp_path / "tls")
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    cfg = make_config(
        tmp_path,
        http={
            "token_file": str(token),
            "tls_cert": str(certs["cert"]),
            "tls_key": str(certs["key"]),
        },
    )
    with running(cfg) as c:
        p = FakePlatform(wall=time.time() - 3600)
        http = HttpConfig(
            url=f"https://localhost:{c.http.port}/api/v1/reports",
            token_file=str(token),
            ca_file=str(certs["ca"]),
        )
        acfg = AgentConfig(
            state_dir=str(tmp_path / "agent"),
            transport="http",
            http=http,
            site="mairie",
            department="DSI",
        )
        agent = Agent(acfg, platform=p)
        drive(agent, p, 30)
        assert len(agent.spool) == 0
        n = c.ledger.execute("SELECT COUNT(*) FROM processed")[0][0]
        assert n == agent.state.next_seq >= 6
        (secs,) = c.ledger.execute("SELECT SUM(seconds) FROM host_days")[0]
        assert abs(secs - (p.wall - (p.wall - 600 - 30 * 60))) < 1  # boot + 30 min
        assert c.status()["hosts"] == 1


def test_agent_over_mqtt_shows_in_metrics(tmp_path, broker):
    cfg = make_config(
        tmp_path,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "client_id": "e2e",
            "group": "e2e",
        },
    )
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        p = FakePlatform(wall=time.time() - 1800)
        acfg = AgentConfig(
            state_dir=str(tmp_path / "agent"),
            transport="mqtt",
            mqtt=MqttConfig(host="127.0.0.1", port=broker.port),
            site="mediatheque",
            department="Culture",
        )
        agent = Agent(acfg, platform=p)
        agent.transport.start()
        drive(agent, p, 20)
        wait_for(
            lambda: (agent.transport.pump(agent.spool) or True) and len(agent.spool) == 0,
            20,
            "spool drained",
        )
        text = ""

        def seen() -> bool:
            nonlocal text
            text = scrape(url(c, "/metrics"))
            return metric(text, "energy_hosts", site="mediatheque") == 1

        wait_for(seen, 20, "host in /metrics")
        assert (
            metric(text, "energy_consumed_wh_total", site="mediatheque", provenance="modelled") > 0
        )
        assert c.status()["hosts"] == 1
        agent.transport.stop(clean=True)
        wait_for(lambda: c.status()["by_state"].get("off") == 1, 10, "clean stop seen as off")
