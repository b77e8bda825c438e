"""The policy and wake requests over HTTP: the answer to an agent's report carries them, on
that agent's own authenticated channel only."""

from __future__ import annotations

import json
import time

import pytest
from collector_helpers import make_config, post, running, url
from fakes import FakePlatform
from policy_helpers import closed_calendar

from agent.config import AgentConfig, HttpConfig
from agent.service import Agent

pytestmark = pytest.mark.services

RULE = {"name": "all", "mode": "advise", "idle_minutes": 1}


def http_agent(tmp_path, c, **kw):
    """An in-process agent reporting to `c` over HTTP, started, its first report sent."""
    p = FakePlatform(wall=time.time() - 600)
    acfg = AgentConfig(
        state_dir=str(tmp_path / "agent"),
        transport="http",
        http=HttpConfig(url=url(c)),
        site="mairie",
        department="DSI",
        **kw,
    )
    agent = Agent(acfg, platform=p)
    agent.startup()
    agent.report()
    agent.transport.pump(agent.spool)
    return agent, p


def test_http_agent_receives_the_policy_in_the_answer_and_reports_its_version(tmp_path):
    cfg = make_config(
        tmp_path, compliance=closed_calendar(), policy={"enabled": True, "rules": [RULE]}
    )
    with running(cfg) as c:
        agent, p = http_agent(tmp_path, c, kind="desktop")
        agent.handle_control()
        held = agent.policy.policy
        assert held is not None and held.mode == "advise" and held.windows
        # kept across a restart, and reported: the next answer carries no policy
        assert json.loads((tmp_path / "agent/policy.json").read_text())["policy"]["version"]
        p.run(60)
        agent.step()
        rep = agent.report()
        assert rep.policy["version"] == held.version
        agent.transport.pump(agent.spool)
        assert not agent.transport.control


def test_wake_requests_wait_for_an_http_proxy_s_next_report(tmp_path):
    cfg = make_config(tmp_path, compliance=closed_calendar(), policy={"enabled": True})
    with running(cfg) as c:
        agent, p = http_agent(tmp_path, c)
        request = {"mac": "02:00:00:00:00:07", "subnet": "10.99.0.0/24", "job": "patch"}
        assert c.waker._ask(agent.agent_id, request)  # not an MQTT agent: kept for its report
        p.run(60)
        agent.step()
        agent.report()
        agent.transport.pump(agent.spool)
        assert list(agent.transport.control) == [{"wake": [request]}]
        assert c.waker.take_pending(agent.agent_id) == []


def test_the_answer_carries_a_policy_only_where_there_is_one_to_follow(tmp_path):
    cfg = make_config(
        tmp_path, compliance=closed_calendar(), policy={"enabled": True, "rules": [RULE]}
    )
    with running(cfg) as c:
        from test_wake import sleeping_report

        code, answer = post(
            url(c),
            sleeping_report(
                "6b77730f-65bd-4acb-b57a-6a1dfaf8cda9",
                "02:00:00:00:00:09",
                "10.1.1.9/24",
                state="idle",
            ),
        )
        assert code == 200 and answer["policy"]["rule"] == "all"
        # a server is exempt: nothing to hold, nothing sent
        body = json.loads(
            sleeping_report(
                "7b77730f-65bd-4acb-b57a-6a1dfaf8cda9",
                "02:00:00:00:00:0a",
                "10.1.1.10/24",
                kind="server",
                state="idle",
            )
        )
        code, answer = post(url(c), json.dumps(body).encode())
        assert code == 200 and "policy" not in answer
