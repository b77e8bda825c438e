"""Alerting configuration checked with the real tools: promtool (rule syntax and unit tests)
and amtool (Alertmanager config and routing)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from services import require_binary

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "configs/prometheus/energy-rules.yml"
AM = ROOT / "configs/alertmanager/alertmanager.yml"


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_rules_are_valid():
    done = run(require_binary("promtool"), "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    import yaml

    n = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert n >= 9 and f"SUCCESS: {n} rules found" in done.stdout


def test_rules_fire_and_resolve_in_promtool_unit_tests():
    done = run(
        require_binary("promtool"),
        "test",
        "rules",
        str(ROOT / "configs/prometheus/tests/energy-rules_test.yml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_follows_conventions():
    import yaml

    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("info", "warning", "critical")
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
            anchor = rule["annotations"]["runbook_url"].split("#")[1]
            assert f'<a id="{anchor}"></a>' in (ROOT / "docs/runbooks.md").read_text()


def test_alertmanager_config_is_valid():
    done = run(require_binary("amtool"), "check-config", str(AM))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "labels,receiver",
    [
        (
            [
                "alertname=MachinesLeftOnOvernight",
                "site=mairie",
                "department=DSI",
                "severity=warning",
            ],
            "dsi-mail",
        ),
        (["alertname=CollectorDown", "severity=critical"], "dsi-oncall"),
        (["alertname=AgentsSilent", "severity=info", "site=mairie"], "dsi-mattermost"),
    ],
)
def test_alerts_route_to_the_right_receiver(labels, receiver):
    done = run(require_binary("amtool"), "config", "routes", "test", f"--config.file={AM}", *labels)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receiver


def test_night_alerts_wait_for_working_mornings_in_paris():
    import yaml

    cfg = yaml.safe_load(AM.read_text())
    route = next(
        r for r in cfg["route"]["routes"] if 'alertname="MachinesLeftOnOvernight"' in r["matchers"]
    )
    assert route["active_time_intervals"] == ["working-mornings"]
    (interval,) = [t for t in cfg["time_intervals"] if t["name"] == "working-mornings"]
    assert interval["time_intervals"][0]["location"] == "Europe/Paris"
