"""The wheel carries everything the code reads beside itself, and runs from where it is
installed, not from a checkout: a collector installed with pip finds its power profiles, SNMP
profiles, network models, LoRaWAN device library, templates and catalogs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "collector", "energy_common")


def _tracked_data_files() -> set[str]:
    out = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return {p for p in out if not p.endswith(".py")}


def test_the_wheel_holds_every_data_file_and_runs_from_its_install(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("energy_monitoring-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_tracked_data_files() - names)
    assert not missing, f"not in the wheel: {missing}"

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    # the installed copy first on the path, run from a folder holding no checkout
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = """
import collector, collector.config as c
from collector.model.profiles import ProfileBook
from collector.sources.snmp.profiles import load_profiles
from collector.sources.snmp.network_models import load_table
from collector.sources.lorawan.library import load_library
from collector.render.env import translations
assert collector.__file__.startswith(SITE), collector.__file__
cfg = c.load_config(None)
book = ProfileBook.load(cfg.profiles_path())
assert book.defaults["desktop"].idle_w > 0
assert len(load_profiles()) >= 15 and load_table()
assert len(load_library().models) >= 15
assert translations("fr").gettext("Energy and carbon") == "Énergie et carbone"
print("ok")
"""
    res = subprocess.run(
        [sys.executable, "-c", probe.replace("SITE", repr(str(site)))],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
