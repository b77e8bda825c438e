"""Enrolment over HTTP: a site secret traded once for an agent's own token, bound to its id;
A cannot post as B; a revoked agent is refused and keeps its reports; the secret rotates;
an enrolled id cannot be taken over with the site secret."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from collector_helpers import ROOT, config_dict, make_config, post, running, url
from fakes import FakePlatform

from agent.config import AgentConfig, HttpConfig
from agent.service import Agent
from agent.transport import HttpTransport
from collector.simulate import SimConfig, Simulation


def enrol(c, agent_id: str, secret: str, hostname: str = "PC-1") -> tuple[int, dict]:
    req = urllib.request.Request(
        url(c, "/api/v1/enrol"),
        data=json.dumps({"agent_id": agent_id, "hostname": hostname}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def site(tmp_path):
    (tmp_path / "site-secret").write_text("s1te-2026\n")
    return make_config(tmp_path, enrolment={"secret_file": str(tmp_path / "site-secret")})


@pytest.fixture(scope="module")
def two():
    sim = Simulation(SimConfig(agents=2, days=1, seed=17))
    by: dict[str, list[bytes]] = {}
    for _, aid, _, body in sim.reports():
        by.setdefault(aid, []).append(body)
    return by


def test_a_real_agent_enrols_once_and_reports_with_its_own_token(tmp_path, site):
    (tmp_path / "installer-secret").write_text("s1te-2026\n")
    with running(site) as c:
        http = HttpConfig(url=url(c), enrolment_secret_file=str(tmp_path / "installer-secret"))
        cfg = AgentConfig(state_dir=str(tmp_path / "state"), transport="http", http=http)
        p = FakePlatform()
        agent = Agent(cfg, platform=p)
        assert isinstance(agent.transport, HttpTransport)
        agent.startup()
        for _ in range(3):
            p.run(300)
            agent.step()
            agent.report()
        agent.transport.pump(agent.spool)
        assert len(agent.spool) == 0
        creds = tmp_path / "state/credentials.json"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        token = json.loads(creds.read_text())["token"]
        (n,) = c.ledger.execute("SELECT COUNT(*) FROM processed")[0]
        assert n == 3
        ((agent_id, h),) = c.ledger.execute("SELECT agent_id, token_sha256 FROM agent_credentials")
        assert agent_id == agent.agent_id and token not in h  # only a hash is kept
        # a restart uses the saved token: no second enrolment (the site secret may be gone)
        (tmp_path / "installer-secret").unlink()
        again = Agent(cfg, platform=p)
        assert again.transport.token == token  # type: ignore[attr-defined]


def test_a_cannot_post_as_b(tmp_path, site, two):
    a_id, b_id = list(two)
    with running(site) as c:
        _, a = enrol(c, a_id, "s1te-2026")
        _, b = enrol(c, b_id, "s1te-2026")
        forged = json.loads(two[b_id][0])
        forged["host"]["hostname"] = "FORGED"
        code, doc = post(url(c), json.dumps(forged).encode(), token=a["token"])
        assert (code, doc["reason"]) == (400, "identity")
        assert post(url(c), two[b_id][0], token=b["token"]) == (200, {"result": "accepted"})
        assert post(url(c), two[a_id][0], token=a["token"]) == (200, {"result": "accepted"})
        names = dict(c.ledger.execute("SELECT host_id, hostname FROM hosts"))
        assert names[b_id] != "FORGED"
        # the site secret itself posts nothing, and no token at all posts nothing
        assert post(url(c), two[a_id][1], token="s1te-2026")[0] == 401
        assert post(url(c), two[a_id][1])[0] == 401


def test_an_enrolled_id_cannot_be_taken_over_and_reset_lets_it_enrol_again(tmp_path, site, two):
    a_id = next(iter(two))
    with running(site) as c:
        assert enrol(c, a_id, "s1te-2026")[0] == 201
        code, doc = enrol(c, a_id, "s1te-2026", "ATTACKER")
        assert code == 409 and "already enrolled" in doc["error"]
        assert enrol(c, a_id, "wrong")[0] == 401
        assert enrol(c, "NOT-A-UUID", "s1te-2026")[0] == 400
        cli(tmp_path, site_doc(tmp_path), "agents", "reset", a_id)
        code, doc = enrol(c, a_id, "s1te-2026")  # a PC restored with its old state
        assert code == 201 and doc["token"]


def site_doc(tmp_path: Path) -> Path:
    doc = config_dict(tmp_path, enrolment={"secret_file": str(tmp_path / "site-secret")})
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def cli(tmp_path: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", *args, "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_revoked_agent_is_refused_and_keeps_its_reports(tmp_path, site, two, monkeypatch):
    from collector.web import enrolment

    monkeypatch.setattr(enrolment, "CACHE_S", 0.0)  # the 30 s cache, for the test's sake
    a_id = next(iter(two))
    with running(site) as c:
        _, a = enrol(c, a_id, "s1te-2026")
        assert post(url(c), two[a_id][0], token=a["token"])[0] == 200
        listed = cli(tmp_path, site_doc(tmp_path), "agents", "list").stdout
        assert a_id in listed and "active" in listed
        cli(tmp_path, site_doc(tmp_path), "agents", "revoke", a_id)
        code, doc = post(url(c), two[a_id][1], token=a["token"])
        assert code == 403 and "revoked" in doc["error"]
        assert enrol(c, a_id, "s1te-2026")[0] == 403  # and cannot come back by itself
        # the agent's side: a 403 keeps the report spooled (retried, loudly)
        state = tmp_path / "agent-state"
        state.mkdir()
        (state / "credentials.json").write_text(json.dumps({"agent_id": a_id, "token": a["token"]}))
        (tmp_path / "unused").write_text("x\n")
        t = HttpTransport(
            HttpConfig(url=url(c), enrolment_secret_file=str(tmp_path / "unused")), state, a_id
        )
        from agent.spool import Spool

        spool = Spool(state / "spool", 1 << 20, 1e9)
        spool.put(1, two[a_id][1])
        t.pump(spool)
        assert spool.seqs() == [1]
        assert "revoked" in cli(tmp_path, site_doc(tmp_path), "agents", "list").stdout


def test_the_site_secret_rotates(tmp_path, two):
    a_id, b_id = list(two)
    (tmp_path / "new").write_text("n3w\n")
    (tmp_path / "old").write_text("0ld\n")
    both = {"secret_file": str(tmp_path / "new"), "previous_secret_file": str(tmp_path / "old")}
    with running(make_config(tmp_path, enrolment=both)) as c:
        assert enrol(c, a_id, "0ld")[0] == 201  # an installer still carrying the old one
    only_new = {"secret_file": str(tmp_path / "new")}
    with running(make_config(tmp_path, enrolment=only_new)) as c:
        assert enrol(c, b_id, "0ld")[0] == 401
        assert enrol(c, b_id, "n3w")[0] == 201


def test_enrolment_off_and_the_shared_token_still_work(tmp_path, two):
    a_id = next(iter(two))
    with running(make_config(tmp_path, http={"token": "shared"})) as c:
        assert enrol(c, a_id, "anything")[0] == 404
        assert post(url(c), two[a_id][0], token="shared")[1]["result"] == "accepted"
