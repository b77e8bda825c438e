"""The MSI as ops push it: built here with wixl, read back with msiinfo, installed silently
under Wine with properties, upgraded, removed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from collector_helpers import make_config, running, wait_for
from services import free_port
from wine import ROOT, winpath

pytestmark = pytest.mark.services

VERSION_KEY = r"HKLM\Software\EnergyAgent"


@pytest.fixture(scope="module")
def msis(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("msi")
    built = {}
    for version in ("0.1.0", "0.1.1"):
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "build-msi.sh"), version],
            check=True,
            env={**os.environ, "OUT_DIR": str(out)},
            capture_output=True,
        )
        built[version] = out / f"energy-agent-{version}-x64.msi"
    return built


def msi_table(msi: Path, table: str) -> list[list[str]]:
    text = subprocess.run(
        ["msiinfo", "export", str(msi), table], check=True, capture_output=True, text=True
    ).stdout
    return [line.split("\t") for line in text.splitlines()[3:]]


def test_the_msi_declares_the_service_the_properties_and_the_upgrade_code(msis):
    msi = msis["0.1.0"]
    (service,) = msi_table(msi, "ServiceInstall")
    assert service[1] == "EnergyAgent" and service[10] == "-m agent service"
    assert service[3] == "16" and service[4] == "2"  # own process, automatic start
    assert service[8] == "[SERVICE_ACCOUNT]"
    props = dict(row[:2] for row in msi_table(msi, "Property"))
    assert props["SERVICE_ACCOUNT"] == "NT AUTHORITY\\LocalService"
    assert props["ALLUSERS"] == "1"  # per machine
    assert props["UpgradeCode"] == "{05428127-558e-417e-9f48-8bbfe210f224}"
    assert props["ProductVersion"] == "0.1.0"
    upgrade = msi_table(msi, "Upgrade")
    assert {r[0].lower() for r in upgrade} == {"{05428127-558e-417e-9f48-8bbfe210f224}"}
    registry = {(r[2], r[3]): r[4] for r in msi_table(msi, "Registry")}
    for name, prop in (("site", "SITE"), ("department", "DEPARTMENT"), ("http.url", "HTTP_URL")):
        assert registry[("Software\\EnergyAgent\\Install", name)] == f"[{prop}]"
    run = registry[("Software\\Microsoft\\Windows\\CurrentVersion\\Run", "EnergyAgentIdleHelper")]
    assert "pythonw.exe" in run and "idle-helper" in run  # no console window at logon
    summary = subprocess.run(["msiinfo", "suminfo", str(msi)], capture_output=True, text=True)
    assert "x64" in summary.stdout
    assert msi.stat().st_size < 20 * 1024 * 1024


def sc_state(wine_prefix) -> str:
    out = wine_prefix.run(["sc", "query", "EnergyAgent"]).stdout
    return next((w for w in ("RUNNING", "STOPPED", "PENDING") if w in out), "ABSENT")


def test_silent_install_upgrade_and_uninstall_under_wine(wine_prefix, msis, tmp_path):
    port = free_port()
    program_data = wine_prefix.drive_c() / "ProgramData" / "EnergyAgent"
    installed = wine_prefix.drive_c() / "Program Files" / "EnergyAgent" / "python"
    with running(make_config(tmp_path, http={"port": port})) as c:
        done = wine_prefix.run(
            [
                "msiexec",
                "/i",
                winpath(msis["0.1.0"]),
                "/qn",
                "TRANSPORT=http",
                f"HTTP_URL=http://127.0.0.1:{port}/api/v1/reports",
                "SITE=ecole-jaures",
                "DEPARTMENT=Education",
                "TAGS=floor=2;wing=B",
            ],
            timeout=300,
        )
        assert done.returncode == 0, done.stdout
        assert (installed / "python.exe").exists()
        assert (installed / "Lib" / "site-packages" / "agent" / "winservice.py").exists()
        wait_for(lambda: sc_state(wine_prefix) == "RUNNING", 60, "service started by the MSI")

        def hosts() -> list[tuple]:
            return c.ledger.execute("SELECT host_id, site, department FROM hosts")

        wait_for(lambda: hosts(), 90, "a report from the installed service")
        ((_, site, department),) = hosts()
        assert (site, department) == ("ecole-jaures", "Education")
        agent_id = (program_data / "agent_id").read_text().strip()
        first = c.ledger.execute("SELECT MAX(seq) FROM processed")[0][0]

        # a newer build, no properties given: the previous ones are kept, and the agent id,
        # its sequence and spool in ProgramData
        done = wine_prefix.run(["msiexec", "/i", winpath(msis["0.1.1"]), "/qn"], timeout=300)
        assert done.returncode == 0, done.stdout
        version = wine_prefix.run(["reg", "query", VERSION_KEY, "/v", "Version"]).stdout
        assert "0.1.1" in version
        wait_for(lambda: sc_state(wine_prefix) == "RUNNING", 60, "service running after upgrade")
        wait_for(
            lambda: c.ledger.execute("SELECT MAX(seq) FROM processed")[0][0] > first,
            90,
            "a report from the upgraded service",
        )
        assert (program_data / "agent_id").read_text().strip() == agent_id
        ids = {r[0] for r in c.ledger.execute("SELECT DISTINCT entity FROM processed")}
        assert len(ids) == 1  # one agent, one sequence (no new incarnation)
        assert c.ledger.execute("SELECT site, department FROM hosts")[0] == (
            "ecole-jaures",
            "Education",
        )
        state = json.loads((program_data / "state.json").read_text())
        assert state["next_seq"] > first

    done = wine_prefix.run(["msiexec", "/x", winpath(msis["0.1.1"]), "/qn"], timeout=300)
    assert done.returncode == 0, done.stdout
    wait_for(lambda: sc_state(wine_prefix) == "ABSENT", 60, "service removed")
    time.sleep(1)
    left = sorted(p.name for p in installed.rglob("*") if p.is_file())
    # Every file is removed but, under Wine, images the service process had mapped
    # (python.exe, python313.dll, .pyd): Wine's msiexec deletes files the moment the service
    # says STOPPED, while its process is still exiting, and Wine refuses to delete a mapped
    # image. Windows Installer moves such files aside and deletes them at the next boot.
    # docs/windows.md lists this among what Wine cannot show.
    assert all(Path(f).suffix in (".exe", ".pyd", ".dll") for f in left), left
    # what it leaves, as docs/windows.md says: the agent id, state, spool and logs
    assert (program_data / "agent_id").exists()
