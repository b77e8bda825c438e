"""A real Linux agent (`energy-agent run`) receives a sleep policy from a real collector over
MQTT, warns in the user's session, honours a postponement and a backup holding sleep, then
asks logind to suspend. Only the final OS calls are fakes: `systemctl` (which would suspend
this machine) and `systemd-inhibit --list` (which cannot list a real backup here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml
from collector_helpers import metric, running, scrape, url, wait_for
from policy_helpers import (
    agent_settings,
    calls,
    events,
    fake_os_calls,
    path_with,
    policy_config,
    wait_file,
)
from services import stop_process

from agent import notice
from agent.platform._linux import LinuxPlatform, parse_wake_on

pytestmark = pytest.mark.services

RULE = {
    "name": "dsi",
    "departments": ["DSI"],
    "mode": "active",
    "idle_minutes": 0.1,  # 6 s (no user session here: the machine is idle)
    "warn_minutes": 0.05,  # 3 s
    "postpone_minutes": 0.15,  # 9 s
    "honour_blockers": ["backup*"],
}


def agent_yaml(tmp, port):
    doc = agent_settings(
        str(tmp / "agent"), "127.0.0.1", port, policy={"notice_dir": str(tmp / "notice")}
    )
    path = tmp / "agent.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_linux_agent_warns_postpones_holds_for_a_backup_then_suspends(tmp_path, broker):
    bin_dir = tmp_path / "bin"
    systemctl = fake_os_calls(bin_dir)
    cfg = policy_config(tmp_path, broker.port, RULE)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "-c", str(agent_yaml(tmp_path, broker.port))],
            env=path_with(bin_dir),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "agent.log", "wb"),
        )
        try:
            board = tmp_path / "notice"
            # the policy arrives with the first answer, then the warning after 6 s idle
            first = wait_file(board / notice.WARNING_FILE, 30, "the first warning")
            assert first["action"] == "sleep" and first["postpone"] and first["not_tonight"]
            assert first["deadline"] > time.time()
            # the user's helper answers "postpone" (the same code the helper runs)
            notice.write_answer(board, notice.read_warning(board), "postpone")
            wait_for(lambda: not (board / notice.WARNING_FILE).exists(), 10, "withdrawn")
            # a backup starts during the postponement: when it ends the agent warns again,
            # looks at the blockers before acting, and holds
            (bin_dir / "backup-running").touch()
            held_from = time.time()
            wait_for(lambda: events(c.ledger).get("blocked", 0) >= 1, 40, "held by the backup")
            assert calls(systemctl) == []  # never suspended while postponed or held
            assert time.time() - held_from >= 3  # not before the postponement ran out
            # the backup ends: warned again, then suspended through logind
            (bin_dir / "backup-running").unlink()
            wait_for(lambda: calls(systemctl), 40, "systemctl suspend")
            assert calls(systemctl)[0] == "--no-ask-password --check-inhibitors=yes suspend"
            wait_for(lambda: events(c.ledger).get("acted", 0) >= 1, 20, "the action reported")
        finally:
            stop_process(agent, 15, 10)
        got = events(c.ledger)
        assert got["postponed"] == 1
        assert got["warned"] >= 2 and got["blocked"] >= 1 and got["acted"] >= 1
        (mode, action) = c.ledger.execute("SELECT mode, action FROM policy_actions")[0]
        assert (mode, action) == ("active", "sleep")
        # the morning report says it, counts only, once the off-hours period it acted in is
        # over (a running period is never reported: docs/compliance.md)
        period = c.compliance.calendar_for("mairie", "DSI").period_at(time.time())
        assert period is not None
        rep = c.morning_report(at=period.end + 60)
        assert rep["policy"]["events"]["active"]["acted"] >= 1
        from collector.compliance.report import to_text

        text = to_text(rep, "fr")
        assert "Mise en veille automatique" in text and "reports d'une heure 1" in text
        # the machine's wake facts (interfaces) reached the ledger
        (wake,) = c.ledger.execute("SELECT wake FROM hosts")[0]
        assert json.loads(wake)["interfaces"]
    log = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in log, log


def test_agent_with_policy_disabled_never_acts(tmp_path, broker):
    bin_dir = tmp_path / "bin"
    systemctl = fake_os_calls(bin_dir)
    rule = {**RULE, "warn_minutes": 0}
    cfg = policy_config(tmp_path, broker.port, rule)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        path = agent_yaml(tmp_path, broker.port)
        doc = yaml.safe_load(path.read_text())
        doc["policy"]["enabled"] = False
        path.write_text(yaml.safe_dump(doc))
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "-c", str(path)],
            env=path_with(bin_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(
                lambda: c.ledger.execute("SELECT COUNT(*) FROM processed")[0][0] >= 5,
                30,
                "reports",
            )
            time.sleep(8)  # beyond idle (6 s) with no warning
        finally:
            stop_process(agent, 15, 10)
        assert calls(systemctl) == []
        assert events(c.ledger) == {}


def test_systemctl_refusal_comes_back_as_the_reason(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(
        '#!/bin/sh\necho \'Operation inhibited by "backup-tool" (PID 4410 "rsync", user '
        'root), reason is "Nightly backup in progress".\' >&2\nexit 1\n'
    )
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    why = LinuxPlatform().power_action("sleep")
    assert why is not None and why.startswith("systemctl suspend: Operation inhibited")
    assert LinuxPlatform().power_action("reboot") == "unknown action 'reboot'"


def test_ethtool_wake_on_is_the_setting_not_the_support_line():
    out = "Settings for eth0:\n\tSupports Wake-on: pumbg\n\tWake-on: g\n\tLink detected: yes\n"
    assert parse_wake_on(out) == "g"
    assert parse_wake_on("Settings for lo:\n\tLink detected: yes\n") is None


def test_unreadable_blockers_hold_a_policy_that_honours_blockers(tmp_path, broker):
    """`systemd-inhibit --list` fails (no system bus): every report says the blockers could
    not be read, the window counts as `blocked`, and the agent never suspends."""
    bin_dir = tmp_path / "bin"
    systemctl = fake_os_calls(bin_dir)
    (bin_dir / "systemd-inhibit").write_text(
        "#!/bin/sh\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n"
    )
    rule = {**RULE, "warn_minutes": 0, "honour_blockers": ["*"]}
    cfg = policy_config(tmp_path, broker.port, rule)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "-c", str(agent_yaml(tmp_path, broker.port))],
            env=path_with(bin_dir),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "agent.log", "wb"),
        )
        try:
            wait_for(lambda: events(c.ledger).get("blocked", 0) >= 1, 40, "held: unreadable")
            time.sleep(8)  # past idle (6 s), no warning time: a blind policy would have acted
            text = scrape(url(c, "/metrics"))
        finally:
            stop_process(agent, 15, 10)
        assert calls(systemctl) == []
        assert events(c.ledger).get("acted", 0) == 0
        assert metric(text, "energy_agent_unreadable_probes_total", probe="sleep_blockers") >= 1
    log = (tmp_path / "agent.log").read_text()
    assert log.count("could not be read") == 1, log


# The agent's own loop on this machine, with one fake: the clock source. Real suspend cannot
# happen here (../shared/STACK-NOTES.md), so the PC lives SLEEP_H hours in the past until the
# policy suspends it, and that suspend lasts SLEEP_H hours on the clocks the timeline reads:
# CLOCK_BOOTTIME and the wall clock jump, CLOCK_MONOTONIC does not (as on a real resume).
WAKE_DRIVER = r"""
import logging, sys
from agent.config import load_config
from agent.platform import Clocks
from agent.platform._linux import LinuxPlatform
from agent.service import Agent

SLEEP_S = float(sys.argv[2])

class Machine(LinuxPlatform):
    behind, slept = SLEEP_S, 0.0

    def clocks(self):
        c = super().clocks()
        return Clocks(c.wall - self.behind, c.running, c.since_boot + self.slept)

    def boot_time(self):
        return super().boot_time() - SLEEP_S

    def power_action(self, action):
        error = super().power_action(action)  # the fake systemctl records the call
        if error is None and self.behind:
            self.slept, self.behind = self.behind, 0.0  # asleep until now, woken now
        return error

logging.basicConfig(level="INFO")
Agent(load_config(sys.argv[1]), platform=Machine()).run()
"""


def test_a_pc_woken_in_the_night_gets_idle_minutes_before_it_is_slept_again(tmp_path, broker):
    """Suspended by the policy, woken hours later (for patching): the timeline measures the
    suspend, and the policy counts idle time from the wake: 6 s idle then 3 s of warning
    before the second suspend, not a warning at once."""
    sleep_s = 3 * 3600.0
    bin_dir = tmp_path / "bin"
    systemctl = fake_os_calls(bin_dir)
    cfg = policy_config(tmp_path, broker.port, RULE)
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "collector connected")
        agent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WAKE_DRIVER,
                str(agent_yaml(tmp_path, broker.port)),
                str(sleep_s),
            ],
            env=path_with(bin_dir),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "agent.log", "wb"),
        )
        try:
            wait_for(lambda: calls(systemctl), 40, "the first suspend")
            woke = time.monotonic()
            wait_for(lambda: len(calls(systemctl)) >= 2, 40, "the second suspend")
            awake_for = time.monotonic() - woke
            wait_for(lambda: events(c.ledger).get("acted", 0) >= 2, 20, "both reported")
        finally:
            stop_process(agent, 15, 10)
        # idle_minutes (6 s) and warn_minutes (3 s) from the wake; the engine's count from
        # its action made it warn at the first check after the wake (about 3-4 s)
        assert awake_for >= 8.0, awake_for
        assert events(c.ledger)["warned"] >= 2
        suspended = c.ledger.execute(
            "SELECT SUM(seconds) FROM host_days WHERE state = 'suspended'"
        )[0][0]
        assert abs(suspended - sleep_s) < 5, suspended  # the suspend the timeline measured
    log = (tmp_path / "agent.log").read_text()
    assert "woke after" in log and "Traceback" not in log, log
