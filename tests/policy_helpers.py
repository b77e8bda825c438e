"""Helpers for the sleep-policy tests: a collector whose calendar makes now off-hours, fake
final OS calls (`systemctl`, `systemd-inhibit`) on PATH, and reading what happened."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from collector_helpers import make_config

from collector.config import CollectorConfig

INHIBIT_HEADER = (
    "WHO                          UID  USER  PID  COMM            WHAT        "
    "WHY                        MODE\n"
)
INHIBIT_BACKUP = (
    "backup-tool                  0    root  4410 rsync           sleep:idle  "
    "Nightly backup in progress block\n"
)


def closed_calendar(grace_s: float = 0.0) -> dict[str, Any]:
    """A calendar whose closure covers yesterday to tomorrow: now is off-hours."""
    today = date.today()
    return {
        "enabled": True,
        "calendars": [
            {
                "name": "default",
                "grace_s": grace_s,
                "closures": [
                    {
                        "start": (today - timedelta(days=1)).isoformat(),
                        "end": (today + timedelta(days=1)).isoformat(),
                    }
                ],
            }
        ],
    }


def policy_config(
    tmp: Path, broker_port: int, rule: dict[str, Any], **policy: Any
) -> CollectorConfig:
    return make_config(
        tmp,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker_port,
            "client_id": f"policy-{tmp.name}",
            "group": f"policy-{tmp.name}",
        },
        compliance=closed_calendar(),
        policy={"enabled": True, "rules": [rule], **policy},
    )


def agent_settings(state_dir: str, host: str, port: int, **extra: Any) -> dict[str, Any]:
    """A fast agent for the policy tests: one sample a second, a report every 2 s, the
    policy checked every second, MQTT to `host:port`."""
    doc: dict[str, Any] = {
        "state_dir": state_dir,
        "transport": "mqtt",
        "mqtt": {"host": host, "port": port, "ack_timeout_s": 5},
        "site": "mairie",
        "department": "DSI",
        "kind": "desktop",
        "sample_interval_s": 1,
        "report_interval_s": 2,
        "min_report_interval_s": 0,
        "heartbeat_interval_s": 5,
        "idle_poll_interval_s": 1,
        "log_level": "debug",
    }
    policy = {"check_interval_s": 1, **extra.pop("policy", {})}
    return {**doc, "policy": policy, **extra}


def fake_os_calls(bin_dir: Path) -> Path:
    """`systemctl` that records its arguments and succeeds; `systemd-inhibit --list` that
    lists a backup holding sleep while `<bin_dir>/backup-running` exists."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / "systemctl.calls"
    scripts = {
        "systemctl": f'#!/bin/sh\necho "$@" >> "{calls}"\nexit 0\n',
        "systemd-inhibit": (
            "#!/bin/sh\n"
            f"printf '%s' '{INHIBIT_HEADER}'\n"
            f"if [ -f \"{bin_dir}/backup-running\" ]; then printf '%s' '{INHIBIT_BACKUP}'; fi\n"
            "echo\necho 'inhibitors listed.'\n"
        ),
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return calls


def path_with(bin_dir: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def events(ledger: Any, host_id: str | None = None) -> dict[str, int]:
    sql = "SELECT event, SUM(n) FROM policy_events"
    args: tuple[Any, ...] = ()
    if host_id:
        sql += " WHERE host_id = ?"
        args = (host_id,)
    return {e: int(n) for e, n in ledger.execute(sql + " GROUP BY event", args)}


def wait_file(path: Path, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({path})")
