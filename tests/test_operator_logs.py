"""What an operator reads in the first hour: each part says at start what it does and where,
a clean stop is not a warning, and the scheduler does not log every run."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

from collector_helpers import ROOT, make_config, running, wait_for
from services import free_port
from test_lorawan import LORA


def test_collector_parts_say_what_they_do_and_stop_quietly(tmp_path, broker, caplog):
    dead_pdu = {
        "name": "pdu-x",
        "host": "127.0.0.1",
        "port": free_port(),
        "timeout_s": 1,
        "retries": 0,
        "community": "x",
        "datacenter": "dc1",
    }
    cfg = make_config(
        tmp_path,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "group": "logs",
            "client_id": "logs-agents",
        },
        lorawan={
            **LORA,
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "group": "logs-l",
                "client_id": "logs-lora",
            },
        },
        snmp={"enabled": True, "interval_s": 3600, "devices": [dead_pdu]},
    )
    with caplog.at_level(logging.DEBUG):
        with running(cfg) as c:
            wait_for(lambda: c.mqtt.connected and c.lora_mqtt.connected, 10, "connected")
        messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    text = "\n".join(m for _, _, m in messages)
    assert f"mqtt: connected to 127.0.0.1:{broker.port}" in text
    assert "lorawan mqtt: connected to" in text and "subscribing to" in text
    assert "snmp: polling 1 device(s) every" in text and "pdu-x@127.0.0.1" in text
    stops = [(lvl, m) for _, lvl, m in messages if "disconnected" in m]
    assert stops and all(lvl == logging.INFO for lvl, _ in stops), stops  # our own stop
    # APScheduler's "Running job…" / "executed successfully" lines (about 2,900 a day) are off
    assert not [
        m for n, lvl, m in messages if n.startswith("apscheduler") and lvl < logging.WARNING
    ]
    assert logging.getLogger("apscheduler.executors.default").getEffectiveLevel() >= logging.WARNING
    # devices listed with SNMP off: said, not silently ignored
    caplog.clear()
    off = make_config(tmp_path / "off", snmp={"devices": [dead_pdu]})
    with caplog.at_level(logging.WARNING), running(off):
        pass
    assert "1 device(s) configured but snmp.enabled is false" in caplog.text


def test_the_agent_says_what_it_is_and_where_it_reports(tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(f"state_dir: {tmp_path / 'state'}\ntransport: stdout\nsample_interval_s: 1\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "-c", str(cfg)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert f"configuration: {cfg}" in err
    agent_id = (tmp_path / "state" / "agent_id").read_text().strip()
    start = next(line for line in err.splitlines() if "energy-agent" in line and " on " in line)
    assert agent_id in start and "reports to standard output" in start
    assert f"state in {tmp_path / 'state'}" in start
    stop = next(line for line in err.splitlines() if "stopped cleanly" in line)
    assert " INFO " in stop and "Traceback" not in err  # a clean stop is not a warning


def test_the_install_steps_in_the_docs_work(tmp_path):
    """Nothing is published on PyPI: the docs build a wheel from the checkout (deploy.md) or
    the MSI (windows.md), and never tell a newcomer to `pip install energy-monitoring`."""
    import re
    import zipfile

    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"pip install energy-monitoring\b", text), doc.name
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("energy_monitoring-*-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "agent/cli.py" in names and "collector/cli.py" in names
    assert "agent/winservice.py" in names  # the Windows service ships in the same package
