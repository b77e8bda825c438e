"""`energy-agent` as ops use it: once, check-config, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from energy_common.schema import parse_report


def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_once_prints_a_valid_report_of_this_machine(tmp_path):
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"state_dir: {tmp_path / 'state'}\nsite: mairie\n")
    done = run("once", "-c", str(cfg), "--seconds", "0.5")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    r = parse_report(json.dumps(doc), now=time.time())
    assert r.host.site == "mairie"
    assert r.segments[0].state in ("active", "idle")
    assert not (tmp_path / "state").exists(), "once must not create state"


def test_check_config_ok_and_errors(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("transport: mqtt\nmqtt: {host: broker.example.org}\n")
    done = run("check-config", "-c", str(good))
    assert done.returncode == 0 and "OK" in done.stdout
    assert "state_dir: /" in done.stdout and "None" not in done.stdout  # the resolved path
    (tmp_path / "blank").write_text("\n")
    blank = tmp_path / "blank.yaml"
    blank.write_text(f"transport: http\nhttp:\n  enrolment_secret_file: {tmp_path / 'blank'}\n")
    done = run("check-config", "-c", str(blank))
    assert done.returncode == 2 and "first line is empty" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("mqtt:\n  prot: 8883\n")
    done = run("check-config", "-c", str(bad))
    assert done.returncode == 2
    assert f"{bad}: mqtt.prot: unknown option (did you mean 'port'?)" in done.stderr


def test_run_with_invalid_config_exits_with_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("report_interval_s: -5\n")
    done = run("run", "-c", str(bad))
    assert done.returncode == 2
    assert "report_interval_s: -5 is below the minimum" in done.stderr


def test_simulator_paces_on_a_compressed_clock():
    from collector.simulate import paced

    items = [(100.0 + i * 60, "a", i, b"") for i in range(3)]
    t0 = time.monotonic()
    assert [x[2] for x in paced(iter(items), speed=600, start=100.0)] == [0, 1, 2]
    assert 0.18 <= time.monotonic() - t0 < 1.0  # 120 simulated s at 600x = 0.2 s
