"""`energy-collector` as ops use it: check-config, status, errors naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from collector_helpers import make_config, post, running, url

from collector.config import load_config
from collector.simulate import SimConfig, Simulation
from energy_common.configspec import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "collector.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_example_and_dev_configs_are_valid():
    for name in ("collector.example.yaml", "collector.dev.yaml", "collector.snmpsim.yaml"):
        load_config(str(ROOT / "configs" / name))
    done = cli("check-config", "-c", str(ROOT / "configs/collector.dev.yaml"))
    assert done.returncode == 0 and "OK" in done.stdout


@pytest.mark.parametrize(
    "text,expected",
    [
        ("mqtt:\n  enabeld: true\n", "mqtt.enabeld: unknown option (did you mean 'enabled'?)"),
        ("ledger:\n  url: mysql://x\n", "ledger.url: use sqlite:PATH or postgresql://"),
        ("model:\n  vm_hosts: {vm1: esx9}\n", "model.vm_hosts.vm1: 'esx9' is not in"),
        (
            "model:\n  hypervisors:\n    - {name: esx1, cpus: 0}\n",
            "model.hypervisors[0].cpus: 0 is below the minimum 1",
        ),
        ("http:\n  tls_cert: /x.pem\n", "http.tls_key: tls_cert and tls_key go together"),
        (
            "snmp:\n  devices:\n    - {name: ups, host: 10.0.0.1, community: x, profile: nosuch}\n",
            "snmp.devices[0].profile: no profile named 'nosuch'",
        ),
        (
            "snmp:\n  devices:\n    - {name: a, host: 10.0.0.1, community: x}\n"
            "    - {name: a, host: 10.0.0.2, community: x}\n",
            "snmp.devices[1].name: 'a' is used twice",
        ),
        ("http:\n  listen: 0.0.0.0\n", "http.listen: 0.0.0.0 is reachable beyond this machine"),
        ("mqtt:\n  enabled: true\n  host: ''\n", "mqtt.host: empty"),
        ("tsdb:\n  enabled: true\n  url: ''\n", "tsdb.url: '' must start with http"),
        ("tsdb:\n  enabled: true\n  url: vm:8428\n", "tsdb.url: 'vm:8428' must start"),
    ],
)
def test_invalid_collector_config_names_the_key(tmp_path, text, expected):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(str(p))
    assert expected in str(exc.value) and str(p) in str(exc.value)
    done = cli("check-config", "-c", str(p))
    assert done.returncode == 2 and expected in done.stderr


def test_status_shows_the_fleet_of_a_running_collector(tmp_path):
    sim = Simulation(SimConfig(agents=3, days=1, seed=4))
    cfg = make_config(tmp_path)
    with running(cfg) as c:
        for _, _, _, body in sim.reports():
            post(url(c), body)
        cfg_file = tmp_path / "c.yaml"
        cfg_file.write_text(f"http: {{port: {c.http.port}}}\n")
        done = cli("status", "-c", str(cfg_file))
    assert done.returncode == 0, done.stderr
    assert "Fleet now (3 hosts)" in done.stdout
    assert "kWh" in done.stdout


def test_status_without_collector_says_so(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("http: {port: 9}\n")
    done = cli("status", "-c", str(p))
    assert done.returncode == 1 and "no collector answering" in done.stderr


def test_shipped_production_configs_take_every_secret_from_a_file():
    """Passwords, tokens, communities and SNMPv3 keys in a config file end up in backups and
    tickets: the production examples name files (or the environment) instead."""
    import yaml

    secret_keys = {"password", "token", "read_token", "community", "auth_key", "priv_key"}

    def walk(node, where):
        if isinstance(node, dict):
            for k, v in node.items():
                assert k not in secret_keys, f"{where}.{k}: inline secret"
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    for name in ("collector.example.yaml", "agent.example.yaml"):
        walk(yaml.safe_load((ROOT / "configs" / name).read_text()), name)


def test_check_config_reads_every_secret(tmp_path):
    (tmp_path / "blank").write_text("\n")
    p = tmp_path / "c.yaml"
    p.write_text(f"http:\n  read_token_file: {tmp_path / 'blank'}\n")
    done = cli("check-config", "-c", str(p))
    assert done.returncode == 2
    assert "http.read_token_file" in done.stderr and "first line is empty" in done.stderr
    p.write_text(f"enrolment:\n  secret_file: {tmp_path / 'missing'}\n")
    done = cli("check-config", "-c", str(p))
    assert done.returncode == 2 and "enrolment.secret_file: cannot read" in done.stderr
