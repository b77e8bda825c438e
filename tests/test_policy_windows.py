"""The Windows agent under the Windows runtime (Wine, the official Windows CPython) follows a
sleep policy from a real collector over MQTT: warns, honours a postponement and a power
request from a backup, then puts the PC to sleep.

Real under Wine: the agent and its MQTT transport, the clocks, the registry, the
SeShutdownPrivilege adjustment (advapi32), CallNtPowerInformation. Fakes, because they
cannot happen here: `powercfg /requests` (Wine has no power requests to list) reads a
recorded output the test switches, and SetSuspendState records the call instead of
suspending (Wine's own is a stub; a separate test calls it for real)."""

from __future__ import annotations

import pytest
from collector_helpers import running, wait_for
from policy_helpers import agent_settings, events, policy_config, wait_file
from wine import winpath

from agent import notice

pytestmark = pytest.mark.services

RULE = {
    "name": "dsi",
    "departments": ["DSI"],
    "mode": "active",
    "idle_minutes": 0.1,
    "warn_minutes": 0.05,
    "postpone_minutes": 0.15,
    "honour_blockers": ["backup*"],
}

POWERCFG = """DISPLAY:
None.

SYSTEM:
None.

AWAYMODE:
None.

EXECUTION:
{execution}
PERFBOOST:
None.

ACTIVELOCKSCREEN:
None.
"""
BACKUP = (
    "[PROCESS] \\Device\\HarddiskVolume3\\Program Files\\Backup\\backupsvc.exe\nNightly backup\n"
)

DRIVER = r'''
import sys, threading, time
from pathlib import Path
from agent.config import load_config
from agent.platform._windows import WinApi, WindowsPlatform
from agent.service import Agent

requests, calls, stop = (Path(p) for p in sys.argv[2:5])

class FinalCalls(WinApi):
    """Real Windows calls, but for the two Wine cannot make happen."""
    def run(self, cmd, timeout=15.0):
        if cmd[:2] == ["powercfg", "/requests"]:
            return requests.read_text(encoding="utf-8")
        return super().run(cmd, timeout)
    def set_suspend_state(self, hibernate):
        with calls.open("a", encoding="utf-8") as f:
            f.write(f"SetSuspendState hibernate={hibernate}\n")
        return None

agent = Agent(load_config(sys.argv[1]), platform=WindowsPlatform(api=FinalCalls()))
def watch():
    while not stop.exists():
        time.sleep(0.2)
    agent.stop()
threading.Thread(target=watch, daemon=True).start()
agent.run(handle_signals=False)
print("stopped cleanly")
'''


def test_windows_agent_follows_the_policy_under_wine(tmp_path, broker, wine_prefix, win_python):
    import yaml

    requests = tmp_path / "requests.txt"
    requests.write_text(POWERCFG.format(execution="None.\n"), encoding="utf-8")
    calls, stop = tmp_path / "calls.txt", tmp_path / "stop"
    board = tmp_path / "notice"
    cfg_path = tmp_path / "agent.yaml"
    cfg_path.write_text(
        yaml.safe_dump(
            agent_settings(
                winpath(tmp_path / "state"),
                "127.0.0.1",
                broker.port,
                policy={"notice_dir": winpath(board), "lang": "fr"},
            )
        )
    )
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    cfg = policy_config(tmp_path, broker.port, RULE)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        proc = wine_prefix.popen(
            [
                str(win_python),
                winpath(driver),
                winpath(cfg_path),
                winpath(requests),
                winpath(calls),
                winpath(stop),
            ]
        )
        try:
            first = wait_file(board / notice.WARNING_FILE, 90, "the warning under Wine")
            assert first["action"] == "sleep" and first["lang"] == "fr"
            notice.write_answer(board, notice.read_warning(board), "postpone")
            wait_for(lambda: not (board / notice.WARNING_FILE).exists(), 15, "withdrawn")
            requests.write_text(POWERCFG.format(execution=BACKUP), encoding="utf-8")
            wait_for(lambda: events(c.ledger).get("blocked", 0) >= 1, 60, "held by backupsvc")
            assert not calls.exists()
            requests.write_text(POWERCFG.format(execution="None.\n"), encoding="utf-8")
            wait_for(calls.exists, 60, "SetSuspendState")
            assert calls.read_text().splitlines()[0] == "SetSuspendState hibernate=False"
            wait_for(lambda: events(c.ledger).get("acted", 0) >= 1, 30, "the action reported")
        finally:
            stop.touch()
            try:
                out, _ = proc.communicate(timeout=60)
            except Exception:
                proc.kill()
                out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        assert "stopped cleanly" in text, text[-3000:]
        assert "Traceback" not in text, text[-3000:]
        # the privilege adjustment ran for real under Wine: no refusal was reported
        got = events(c.ledger)
        assert got.get("failed", 0) == 0 and got["postponed"] == 1 and got["warned"] >= 2
        (wake,) = c.ledger.execute("SELECT wake FROM hosts")[0]
        assert '"hibernate":' in wake and '"interfaces":' in wake


def test_windows_power_calls_are_real_under_wine(wine_prefix, win_python, tmp_path):
    """The ctypes bindings against Wine's own DLLs: privilege, capabilities, SetSuspendState
    (a stub in Wine that returns TRUE: nothing suspends)."""
    script = tmp_path / "calls.py"
    script.write_text(
        "from agent.platform._windows import WinApi, WindowsPlatform\n"
        "api = WinApi()\n"
        "print('privilege', api.enable_shutdown_privilege())\n"
        "caps = api.power_capabilities()\n"
        "print('capabilities', caps is not None and len(caps))\n"
        "print('facts', sorted(WindowsPlatform(api=api).wake_facts()))\n"
        "print('action', WindowsPlatform(api=api).power_action('sleep'))\n"
        "print('unknown', WindowsPlatform(api=api).power_action('reboot'))\n"
    )
    done = wine_prefix.run([str(win_python), winpath(script)], timeout=120)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["privilege"] == "None", done.stdout
    assert lines["capabilities"] == "76"
    assert "'hibernate'" in lines["facts"] and "'interfaces'" in lines["facts"]
    assert lines["action"] == "None"
    assert lines["unknown"] == "unknown action 'reboot'"
