"""Settings that change while the agent runs (agent/reload.py), and a service with no
destination: it keeps its reports in the spool, says so once, and sends them when the
settings name a destination."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

import pytest
import yaml
from collector_helpers import make_config, running, wait_for
from fakes import FakePlatform
from services import free_port, stop_process

from agent.config import AgentConfig, HttpConfig
from agent.service import Agent
from agent.transport import HttpTransport, NoDestination


def test_a_service_with_no_destination_keeps_reports_and_says_so_once(tmp_path, capsys, caplog):
    cfg = AgentConfig(state_dir=str(tmp_path), reload_interval_s=5)  # transport: stdout
    settings = [cfg]
    p = FakePlatform()
    with caplog.at_level("INFO"):
        agent = Agent(cfg, platform=p, reload=lambda: settings[-1], console=False)
        assert isinstance(agent.transport, NoDestination)
        agent.startup()
        for _ in range(4):  # reports, and the same settings read again: nothing new said
            p.run(30)
            agent.step()
            agent.report()
            agent.transport.pump(agent.spool)
            assert agent.reloader is not None
            assert agent.reloader.check(agent.cfg, p.running) is None
    assert capsys.readouterr().out == ""  # a service never writes reports to stdout
    assert len(agent.spool) == 4
    said = [r.getMessage() for r in caplog.records if "no destination" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("no destination configured"), said
    # Group Policy names a collector: a new transport, the spool still whole for it
    settings.append(
        dataclasses.replace(cfg, transport="http", http=HttpConfig(url="http://127.0.0.1:9/r"))
    )
    p.run(30)
    new = agent.reloader.check(agent.cfg, p.running)
    assert new is not None and new.transport == "http"
    with caplog.at_level("INFO"):
        agent.take_settings(new)
    assert isinstance(agent.transport, HttpTransport) and len(agent.spool) == 4
    assert any("settings changed (http.url, transport)" in r.getMessage() for r in caplog.records)


def test_a_settings_file_that_does_not_load_leaves_the_running_ones(tmp_path, caplog):
    from agent.config import load_config

    path = tmp_path / "agent.yaml"
    path.write_text("site: mairie\nreload_interval_s: 1\n")
    cfg = load_config(str(path))
    agent = Agent(cfg, platform=FakePlatform(), reload=lambda: load_config(str(path)))
    assert agent.reloader is not None
    path.write_text("site: [not, a, name]\n")
    with caplog.at_level("WARNING"):
        assert agent.reloader.check(cfg, 10.0) is None
        assert agent.reloader.check(cfg, 20.0) is None
    assert sum("not taken up" in r.getMessage() for r in caplog.records) == 1
    path.write_text("site: ecole\nreload_interval_s: 1\n")
    new = agent.reloader.check(cfg, 30.0)
    assert new is not None and new.site == "ecole"


@pytest.mark.services
def test_a_running_agent_takes_up_a_new_destination_and_sends_its_spool(tmp_path):
    """`energy-agent run` reporting to a collector that is not there; the settings file is
    replaced (as a Group Policy file item does) with the real collector and another site:
    taken up without a restart, every spooled report delivered, none lost or twice."""
    port = free_port()
    state = tmp_path / "state"
    doc = {
        "state_dir": str(state),
        "transport": "http",
        "http": {"url": f"http://127.0.0.1:{free_port()}/api/v1/reports", "timeout_s": 1},
        "site": "nowhere",
        "sample_interval_s": 1,
        "report_interval_s": 1,
        "min_report_interval_s": 0,
        "reload_interval_s": 1,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(doc))
    agent = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "-c", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "agent.log", "wb"),
    )
    try:
        spool = state / "spool"
        wait_for(lambda: spool.is_dir() and len(list(spool.iterdir())) >= 3, 30, "spooled")
        with running(make_config(tmp_path / "collector", http={"port": port})) as c:
            doc["http"]["url"] = f"http://127.0.0.1:{port}/api/v1/reports"
            doc["site"] = "ecole-jaures"
            tmp = path.with_suffix(".new")
            tmp.write_text(yaml.safe_dump(doc))
            tmp.replace(path)
            changed_at = time.monotonic()
            wait_for(lambda: c.ledger.execute("SELECT COUNT(*) FROM hosts")[0][0], 30, "host")
            taken_up_s = time.monotonic() - changed_at
            stop_process(agent, 15, 10)
            wait_for(lambda: not list(spool.iterdir()), 10, "the spool drained")
            seqs = sorted(r[0] for r in c.ledger.execute("SELECT seq FROM processed"))
            assert seqs == list(range(len(seqs))) and len(seqs) >= 4, seqs
            assert c.ledger.execute("SELECT site FROM hosts")[0][0] == "ecole-jaures"
    finally:
        stop_process(agent, 15, 10)
    assert taken_up_s < 10, taken_up_s
    log = (tmp_path / "agent.log").read_text()
    assert "settings changed (http.url, site): taken up" in log, log
    assert "Traceback" not in log, log
