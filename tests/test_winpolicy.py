"""Windows settings from the registry: the MSI's properties and Group Policy on top of the
YAML (agent/winpolicy.py), and the ADMX/ADML templates that write the policies."""

from __future__ import annotations

import logging
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import winpolicy
from agent.config import AgentConfig, load_config
from agent.winpolicy import INSTALL_KEY, POLICY_KEY, installer_values, policy_overlay

ROOT = Path(__file__).resolve().parent.parent
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def test_templates_are_generated_from_the_script(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/windows/make_admx.py"), str(tmp_path)], check=True
    )
    for rel in ("EnergyAgent.admx", "en-US/EnergyAgent.adml", "fr-FR/EnergyAgent.adml"):
        assert (tmp_path / rel).read_text() == (ROOT / "configs/windows" / rel).read_text(), rel


def test_every_policy_sets_a_real_option_and_every_string_is_translated():
    admx = ET.parse(ROOT / "configs/windows/EnergyAgent.admx").getroot()
    text = (ROOT / "configs/windows/EnergyAgent.admx").read_text()
    policies = admx.findall(".//p:policy", NS)
    assert len(policies) >= 12
    for pol in policies:
        assert pol.get("key") == POLICY_KEY and pol.get("class") == "Machine"
        names = [pol.get("valueName")] + [e.get("valueName") for e in pol.iter() if e is not pol]
        names = [n for n in names if n]
        lists = pol.findall(".//p:list", NS)
        if lists:
            assert lists[0].get("key") == POLICY_KEY + "\\Tags"
            continue
        (name,) = names
        tp = winpolicy._field_type(AgentConfig, name)
        assert tp is not None, f"{pol.get('name')}: {name} is no option"
        if pol.find("p:enabledValue", NS) is not None:
            assert tp is bool, name
    import re

    wanted_strings = set(re.findall(r"\$\(string\.([^)]+)\)", text))
    wanted_pres = set(re.findall(r"\$\(presentation\.([^)]+)\)", text))
    for lang in ("en-US", "fr-FR"):
        adml = ET.parse(ROOT / "configs/windows" / lang / "EnergyAgent.adml").getroot()
        strings = {s.get("id") for s in adml.findall(".//p:string", NS)}
        pres = {s.get("id") for s in adml.findall(".//p:presentation", NS)}
        assert wanted_strings <= strings, (lang, wanted_strings - strings)
        assert wanted_pres <= pres, (lang, wanted_pres - pres)
    fr = (ROOT / "configs/windows/fr-FR/EnergyAgent.adml").read_text(encoding="utf-8")
    assert "Direction" in fr and "Étiquettes" in fr


def test_policy_values_are_typed_from_the_options(caplog):
    with caplog.at_level(logging.WARNING):
        over = policy_overlay(
            AgentConfig,
            [
                ("site", "mairie-annexe"),
                ("mqtt.port", 8883),  # REG_DWORD
                ("mqtt.tls.enabled", 1),
                ("sleep_blockers.reasons", 0),
                ("report_interval_s", "120"),  # a REG_SZ number
                ("mqtt.hots", "typo"),  # no such option
                ("mqtt.port", "huit"),  # wrong type
                ("mqtt", "a section"),
            ],
            [("floor", "2"), ("wing", "B")],
        )
    assert over == {
        "site": "mairie-annexe",
        "mqtt": {"port": 8883, "tls": {"enabled": True}},
        "sleep_blockers": {"reasons": False},
        "report_interval_s": 120.0,
        "tags": {"floor": "2", "wing": "B"},
    }
    messages = " ".join(r.message for r in caplog.records)
    assert "mqtt.hots names no option" in messages and "'huit'" in messages
    assert "mqtt names no option" in messages


def test_installer_values_map_the_msi_properties():
    values, tags = installer_values(
        [
            ("transport", "mqtt"),
            ("mqtt.host", "broker.ville.fr"),
            ("site", ""),  # a property not given: the YAML's stays
            ("ca_file", r"C:\ProgramData\EnergyAgent\ca.pem"),
            ("enrolment.secret_file", r"C:\ProgramData\EnergyAgent\enrol.txt"),
            ("enrolment.url", "https://collecteur.ville.fr/api/v1/enrol"),
            ("tags", "floor=2; wing=B;;bad"),
        ]
    )
    assert dict(values) == {
        "transport": "mqtt",
        "mqtt.host": "broker.ville.fr",
        "mqtt.tls.ca_file": r"C:\ProgramData\EnergyAgent\ca.pem",
        "http.ca_file": r"C:\ProgramData\EnergyAgent\ca.pem",
        "mqtt.enrolment_secret_file": r"C:\ProgramData\EnergyAgent\enrol.txt",
        "mqtt.enrolment_url": "https://collecteur.ville.fr/api/v1/enrol",
    }
    assert tags == {"floor": "2", "wing": "B"}
    values, _ = installer_values([("transport", "http"), ("enrolment.secret_file", "s")])
    assert dict(values) == {"transport": "http", "http.enrolment_secret_file": "s"}


def test_yaml_then_installer_then_policy(tmp_path, monkeypatch):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(
        "site: from-yaml\ndepartment: from-yaml\nlog_level: debug\ntags: {a: yaml, b: yaml}\n"
    )
    registry = {
        INSTALL_KEY: ([("site", "from-msi"), ("department", "from-msi"), ("tags", "b=msi")], []),
        POLICY_KEY: ([("department", "from-gpo")], [("c", "gpo")]),
    }
    monkeypatch.setattr(winpolicy, "read_registry", lambda key=POLICY_KEY: registry[key])
    c = load_config(str(cfg))
    assert (c.site, c.department, c.log_level) == ("from-msi", "from-gpo", "debug")
    assert c.tags == {"a": "yaml", "b": "msi", "c": "gpo"}
    # a value the option refuses names where it came from
    registry[POLICY_KEY] = ([("mqtt.port", 70000)], [])
    with pytest.raises(Exception, match=r"Policies\\\\EnergyAgent|Policies\\EnergyAgent"):
        load_config(str(cfg))
