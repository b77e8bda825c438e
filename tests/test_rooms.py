"""Each capability room of the collector carries a README of what it reads and emits and, when
it has settings, a sample configuration that the collector loads as it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from collector.config import CollectorConfig
from energy_common.configspec import load

ROOT = Path(__file__).resolve().parent.parent / "collector"
ROOMS = [
    "sources/agents",
    "sources/snmp",
    "sources/lorawan",
    "meters",
    "compliance",
    "policy",
    "datacenter",
    "inventory",
    "web",
    "yearly",
]


@pytest.mark.parametrize("room", ROOMS)
def test_room_has_a_readme_saying_what_it_reads_and_emits(room):
    text = (ROOT / room / "README.md").read_text()
    assert text.startswith(f"# collector/{room}")
    assert "**Reads**" in text
    assert "**Emits**" in text or "**Gives**" in text


SAMPLES = sorted(ROOT.glob("**/sample.yaml"))


def test_every_room_with_settings_has_a_sample():
    assert {p.parent.relative_to(ROOT).as_posix() for p in SAMPLES} >= {
        "sources/agents",
        "sources/snmp",
        "sources/lorawan",
        "compliance",
        "policy",
        "inventory",
        "web",
        "yearly",
    }


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.parent.name)
def test_sample_configuration_loads(path):
    doc = yaml.safe_load(path.read_text())
    # secrets named in samples are files on the target machine: loading checks keys and values
    cfg = load(CollectorConfig, doc, str(path))
    for section in doc:
        assert getattr(cfg, section) is not None


# the layers, lowest first: a room imports only from its own layer or those below it
SPINE = ("collector/meters",)


@pytest.mark.parametrize("room", SPINE)
def test_the_meter_spine_imports_no_source(room):
    """The meter spine is shared by the sources (SNMP, LoRaWAN, CSV readings): it never
    imports one of them (an import going back up the layers)."""
    up = []
    for path in sorted((ROOT.parent / room).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            up += [f"{path.name}: {n}" for n in names if n.startswith("collector.sources")]
    assert up == []
