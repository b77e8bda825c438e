"""Agent configuration: defaults without a file, clear errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, load_config
from agent.docs import render

ROOT = Path(__file__).parent.parent


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "agent.yaml"
    p.write_text(text)
    return str(p)


def test_defaults_work_without_a_file():
    cfg = load_config(None)
    assert cfg.transport == "stdout"
    assert cfg.report_interval_s == 300
    assert cfg.idle_threshold_s == 300
    assert cfg.mqtt.port == 1883 and cfg.mqtt.tls.enabled is False


def test_full_example_config_loads():
    cfg = load_config(str(ROOT / "configs/agent.example.yaml"))
    assert cfg.transport == "mqtt"
    assert cfg.mqtt.tls.enabled is True


def test_empty_file_means_defaults(tmp_path):
    assert load_config(write(tmp_path, "")).transport == "stdout"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("mqtt:\n  port: abc\n", "mqtt.port: expected an integer, got a string 'abc'"),
        ("mqtt:\n  port: 70000\n", "mqtt.port: 70000 is above the maximum 65535"),
        (
            "transport: carrier-pigeon\n",
            "transport: 'carrier-pigeon' is not one of stdout, mqtt, http",
        ),
        (
            "idle_treshold_s: 60\n",
            "idle_treshold_s: unknown option (did you mean 'idle_threshold_s'?)",
        ),
        ("mqtt:\n  tls:\n    enabled: yes-please\n", "mqtt.tls.enabled: expected true or false"),
        ("tags: [a, b]\n", "tags: expected a mapping, got a list"),
        ("mqtt: 5\n", "mqtt: expected a mapping, got an integer"),
        ("- just\n- a list\n", "top level: expected a mapping, got a list"),
        (
            "idle_threshold_s: 20\nidle_poll_interval_s: 30\n",
            "idle_poll_interval_s: must be shorter than idle_threshold_s",
        ),
        ("kind: toaster\n", "kind: 'toaster' is not one of auto, desktop"),
        ("http:\n  url: collector:8750/api\n", "http.url: 'collector:8750/api' must start"),
        ("http:\n  url: ftp://collector/x\n", "http.url: 'ftp://collector/x' must start"),
        ("http:\n  url: 'http:///x'\n", "http.url: 'http:///x' has no host"),
        ("mqtt:\n  host: ''\n", "mqtt.host: empty"),
        (
            "mqtt:\n  enrolment_secret_file: /x\n",
            "mqtt.enrolment_url: needed with mqtt.enrolment_secret_file",
        ),
    ],
)
def test_invalid_config_names_file_key_and_problem(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: ")
    assert expected in str(exc.value)


def test_yaml_syntax_error_gives_line(tmp_path):
    path = write(tmp_path, "site: a\nmqtt:\n  host: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "nope.yaml"))


def test_config_reference_doc_is_current():
    assert (ROOT / "docs/agent-config.md").read_text() == render(), (
        "run: python -m agent.docs > docs/agent-config.md"
    )


def test_collector_config_reference_doc_is_current():
    from collector.docs import render as render_collector

    assert (ROOT / "docs/collector-config.md").read_text() == render_collector(), (
        "run: python -m collector.docs > docs/collector-config.md"
    )
