"""The README's first command, `bash scripts/run.sh`, as a newcomer meets it: the collector
answers, this machine's agent reports to it, the first run's simulated fleet starts arriving,
and a Ctrl-C stops everything the script started (it once left the collector running when the
Ctrl-C came during the first run's simulation: `set -e` ended the stop on a child's status).

The script runs in a copy of the checkout's scripts and configurations (its `run/` state is the
copy's), sharing the checkout's installed `.venv`, Windows runtime and npm packages, so its
set-up step finds everything in place. It needs 127.0.0.1:8750, the port of the embedded
default."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PORT = 8750


def _copy(tmp: Path) -> Path:
    # the copy's set-up must find the shared .venv installed for this pyproject.toml: else it
    # would install the project again, from the copy, into the checkout's .venv
    sha = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    assert (ROOT / ".venv" / f".installed-{sha}").exists(), "run scripts/setup.sh first"
    work = tmp / "checkout"
    work.mkdir()
    for d in ("scripts", "configs"):
        shutil.copytree(ROOT / d, work / d)
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    (work / "tests").mkdir()
    for src, dst in ((".venv", ".venv"), ("build", "build"), ("tests/js", "tests/js")):
        (work / dst).symlink_to(ROOT / src)
    return work


def _get(path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5) as r:
        return json.load(r)


def _ours(work: Path) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cwd"]):
        cwd = p.info.get("cwd") or ""
        if cwd.startswith(str(work)):
            out.append(p)
    return out


def _port_free() -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", PORT)) != 0


def test_run_sh_serves_then_a_ctrl_c_stops_all_it_started(tmp_path: Path) -> None:
    assert _port_free(), f"127.0.0.1:{PORT} is taken: stop the running collector first"
    work = _copy(tmp_path)
    log = open(tmp_path / "run.log", "wb")
    # its own process group, as a terminal gives a foreground job: the Ctrl-C goes to all of it
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        status: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            try:
                status = _get("/api/v1/status")
            except OSError:
                status = {}
            if status.get("hosts_reporting_today", 0) >= 1 and (work / "run/simulate.log").exists():
                break
            time.sleep(0.5)
        assert status.get("hosts_reporting_today", 0) >= 1, status
        assert status["ingest"]["ledger"] == "ok"
        started = _ours(work)
        names = {" ".join(p.cmdline()[1:3]) for p in started if p.is_running()}
        assert any("energy-collector run" in n for n in names), names
        assert any("energy-agent run" in n for n in names), names
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0
        _, alive = psutil.wait_procs(started, timeout=30)
        assert not alive, [p.cmdline() for p in alive]
        assert not _ours(work) and _port_free()
        assert "collector: stopping" in (tmp_path / "run.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for p in _ours(work):
            p.kill()
