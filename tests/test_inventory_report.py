"""The yearly report with and without an asset register: the embodied total and the fleet's
lifetimes come from the inventory when one is configured, and the report says which; the
inventory's open data validate against their Table Schemas (frictionless)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import frictionless
import pytest
from collector_helpers import make_config
from test_inventory import HAND, _csv

from collector.inventory.sync import sync
from collector.ledger import Accounted, DayRow, HostRow, Ledger
from collector.yearly.build import build

NEW_YEAR = datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Paris")).timestamp()


def _one_desktop_reporting(led: Ledger) -> None:
    """One desktop reporting an hour in 2026: the year has data (a year without any is a 404)
    and the energy table a desktop row."""
    t0 = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    host = HostRow(
        "a1",
        "agent",
        "PC-A",
        "desktop",
        None,
        None,
        "mairie",
        "DSI",
        None,
        None,
        None,
        {},
        t0,
        t0 + 3600,
        "idle",
        t0 + 3600,
    )
    day = DayRow("a1", "2026-03-02", "idle", 3600.0, 0.0, 25.0, 0.0, 0.0013, "test")
    led.commit([Accounted("agent", "a1", 1, host, (day,))], t0 + 3600)


def test_report_takes_embodied_and_lifetimes_from_the_inventory(tmp_path: Path) -> None:
    csv = _csv(tmp_path, HAND)
    cfg = make_config(
        tmp_path,
        inventory={"enabled": True, "csv_files": [str(csv)], "models": {"P2422H": 150}},
    )
    led = Ledger(cfg.ledger.url)
    assert sync(cfg.inventory, led, now=NEW_YEAR - 86400).ok
    _one_desktop_reporting(led)
    led.close()
    out = tmp_path / "out"
    written = build(cfg, 2026, ("html", "json"), out, "fr", "public", now=NEW_YEAR)
    doc = json.loads(Path(written["json"]).read_text())
    assert doc["embodied_source"] == "inventory"
    # the hand computation of tests/test_inventory.py
    assert doc["indicators"]["embodied_kgco2e"] == pytest.approx(193.479, abs=1e-3)
    assert doc["inventory"]["as_of"] == "2026-12-31"
    inv_kinds = {r["kind"]: r["embodied_kgco2e"] for r in doc["inventory"]["by_kind"]}
    # the energy table's manufacturing column is the register's figure for the kind, not the
    # reporting machine's default share
    (desktop,) = [r for r in doc["energy"]["by_kind"] if r["kind"] == "desktop"]
    assert desktop["embodied_kgco2e"] == inv_kinds["desktop"] == pytest.approx(113.922, abs=1e-3)
    assert doc["inventory"]["mean_age_at_retirement_years"] == 6.1
    page = Path(written["html"]).read_text()
    assert "D'après l'inventaire" in page and "Au-delà de la durée de vie prévue" in page
    assert "PC-A" not in page and "SNA" not in page  # no asset named in the public edition
    data = out / "open-data-2026"
    rows = (data / "inventaire-par-type.csv").read_text().splitlines()
    assert rows[0].startswith("kind,in_service,")
    assert any(r.startswith("monitor,1,0,9.83,1,1") for r in rows)
    assert (data / "reformes.csv").read_text().splitlines()[1:] == ["laptop,2026-06-30,6.1"]
    report = frictionless.validate(str(data / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_report_without_inventory_says_it_uses_defaults(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    led = Ledger(cfg.ledger.url)
    _one_desktop_reporting(led)
    led.close()
    out = tmp_path / "out"
    written = build(cfg, 2026, ("html", "json"), out, "fr", "public", now=NEW_YEAR)
    doc = json.loads(Path(written["json"]).read_text())
    assert doc["embodied_source"] == "defaults" and doc["inventory"] is None
    assert "Aucun inventaire n'est configuré" in Path(written["html"]).read_text()
    assert not (out / "open-data-2026" / "inventaire-par-type.csv").exists()


def test_sample_configuration_loads() -> None:
    from collector.config import load_config

    cfg = load_config(
        str(Path(__file__).resolve().parent.parent / "collector/inventory/sample.yaml")
    )
    inv = cfg.inventory
    assert inv.enabled and inv.glpi.api == "legacy" and inv.kinds["Poste fixe"] == "desktop"
    assert inv.defaults[0].kind == "network" and inv.models["OptiPlex 7080"] == "285"
