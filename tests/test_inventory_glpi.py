"""GLPI read through both APIs, against the tests' GLPI API server (tests/glpi_server.py):
paginated, incremental on date_mod, read-only, with GLPI's own errors."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import inventory_fleet
import pytest
from glpi_server import GlpiServer

from collector.inventory import store
from collector.inventory.settings import GlpiConfig, InventoryConfig
from collector.inventory.sync import sync
from collector.ledger import Ledger


def _config(
    tmp_path: Path, server: GlpiServer, api: str = "legacy", **kw: object
) -> InventoryConfig:
    (tmp_path / "app").write_text(server.app_token + "\n")
    (tmp_path / "user").write_text(server.user_token + "\n")
    (tmp_path / "secret").write_text(server.oauth[1] + "\n")
    (tmp_path / "pw").write_text(server.oauth[3] + "\n")
    g = GlpiConfig(
        url=server.url,
        api=api,
        app_token_file=str(tmp_path / "app"),
        user_token_file=str(tmp_path / "user"),
        client_id=server.oauth[0],
        client_secret_file=str(tmp_path / "secret"),
        username=server.oauth[2],
        password_file=str(tmp_path / "pw"),
        page_size=50,
        **kw,  # type: ignore[arg-type]
    )
    return InventoryConfig(enabled=True, glpi=g)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:{tmp_path / 'ledger.db'}")


def _by(ledger: Ledger) -> dict[str, store.Stored]:
    return {s.asset.source_id: s for s in store.load(ledger, "glpi")}


def test_legacy_full_sync_reads_every_asset_with_its_infocom_page_by_page(
    tmp_path: Path, ledger: Ledger
) -> None:
    with GlpiServer(inventory_fleet.build()) as glpi:
        res = sync(_config(tmp_path, glpi), ledger, now=1_800_000_000.0)
        assert res.ok, res.to_json()
        assets = _by(ledger)
        kinds = Counter(s.asset.kind for s in assets.values())
        assert kinds == {
            "desktop": 200,
            "laptop": 60,
            "thin_client": 20,
            "server": 20,
            "monitor": 250,
            "network": 40,
            "peripheral": 10,
        }
        pc7 = assets["Computer/7"].asset
        assert (pc7.serial, pc7.model, pc7.state) == ("SN00007", "OptiPlex 7080", "Stock")
        assert pc7.use_date == inventory_fleet.computer_use_date(7)
        assert pc7.warranty_end == date(pc7.use_date.year + 3, 3, 1)  # 36 months
        assert pc7.macs == (inventory_fleet.computer_mac(7),)
        assert pc7.uuid == inventory_fleet.computer_uuid(7)
        assert assets["Computer/25"].asset.decommission_date == date(2026, 6, 30)
        assert assets["Monitor/3"].asset.kind == "monitor"
        # 300 computers in pages of 50: 6 listing pages and 6 pages of ids
        assert glpi.calls("/apirest.php/Computer/") == 12
        assert glpi.calls("/apirest.php/initSession") == 1
        assert glpi.calls("/apirest.php/killSession") == 1
        assert glpi.writes == 0
        assert all(p.split("?")[0] != "/apirest.php/Computer/7" for _, p in glpi.log)


def test_legacy_second_sync_reads_only_what_changed(tmp_path: Path, ledger: Ledger) -> None:
    data = inventory_fleet.build()
    with GlpiServer(data) as glpi:
        cfg = _config(tmp_path, glpi)
        sync(cfg, ledger, now=1_800_000_000.0)
        first = store.watermark(ledger, "glpi")
        assert first == max(
            *(v["date_mod"] for items in data.items.values() for v in items.values()),
            *(r["date_mod"] for r in data.infocoms),
        )
        glpi.log.clear()
        res = sync(cfg, ledger, now=1_800_003_600.0)
        # nothing changed: only the rows at the watermark itself come back (date_mod ≥ it)
        assert res.sources[0].assets_read == 0
        assert glpi.calls("/apirest.php/Computer/") == 1 + 6  # one listing page, the ids
        # a PC retired in GLPI (its state), another's Infocom given a decommission date
        data.items["Computer"][5]["state"] = "Réformé"
        data.items["Computer"][5]["date_mod"] = "2026-12-01 10:00:00"
        info6 = next(r for r in data.infocoms if r["itemtype"] == "Computer" and r["items_id"] == 6)
        info6["decommission_date"] = "2026-11-30"
        info6["date_mod"] = "2026-12-01 11:00:00"
        del data.items["Monitor"][4]  # purged
        data.items["Monitor"][5]["is_deleted"] = 1  # in the trash
        res = sync(cfg, ledger, now=1_800_007_200.0)
        assert res.ok
        assets = _by(ledger)
        assert assets["Computer/5"].asset.state == "Réformé"
        assert assets["Computer/6"].asset.decommission_date == date(2026, 11, 30)
        assert assets["Computer/6"].asset.serial == "SN00006"  # kept from the first sync
        assert assets["Monitor/4"].removed_at == 1_800_007_200.0
        assert assets["Monitor/5"].removed_at == 1_800_007_200.0
        assert assets["Monitor/6"].removed_at is None
        assert store.watermark(ledger, "glpi") == "2026-12-01 11:00:00"
        assert glpi.writes == 0


def test_legacy_server_ignoring_the_sort_is_read_in_full(tmp_path: Path, ledger: Ledger) -> None:
    data = inventory_fleet.build()
    with GlpiServer(data) as glpi:
        cfg = _config(tmp_path, glpi)
        sync(cfg, ledger, now=1_800_000_000.0)
        glpi.honour_sort = False
        data.items["Computer"][290]["state"] = "Stock"
        data.items["Computer"][290]["date_mod"] = "2026-12-01 10:00:00"
        res = sync(cfg, ledger, now=1_800_003_600.0)
        assert res.sources[0].full
        assert _by(ledger)["Computer/290"].asset.state == "Stock"


def test_legacy_expired_session_is_opened_again(tmp_path: Path, ledger: Ledger) -> None:
    data = inventory_fleet.build()
    with GlpiServer(data) as glpi:
        cfg = _config(tmp_path, glpi)
        client_calls = 0

        original = glpi.legacy

        def expire_once(h, path, q):  # type: ignore[no-untyped-def]
            nonlocal client_calls
            client_calls += 1
            if client_calls == 3:
                glpi.expire_sessions()  # GLPI's session timed out mid-sync
            return original(h, path, q)

        glpi.legacy = expire_once  # type: ignore[method-assign]
        res = sync(cfg, ledger, now=1_800_000_000.0)
        assert res.ok
        assert glpi.calls("/apirest.php/initSession") == 2
        assert len(store.load(ledger, "glpi")) == 600


def test_legacy_refused_token_is_named_and_the_ledger_keeps_what_it_had(
    tmp_path: Path, ledger: Ledger
) -> None:
    with GlpiServer(inventory_fleet.build()) as glpi:
        cfg = _config(tmp_path, glpi)
        sync(cfg, ledger, now=1_800_000_000.0)
        (tmp_path / "user").write_text("wrong-token\n")
        res = sync(cfg, ledger, now=1_800_003_600.0)
        assert not res.ok
        assert "ERROR_GLPI_LOGIN_USER_TOKEN" in (res.sources[0].error or "")
        assert len(store.load(ledger, "glpi")) == 600
        assert all(
            s.removed_at is None
            for s in store.load(ledger, "glpi")
            if s.asset.source_id == "Monitor/1"
        )
        (tmp_path / "app").write_text("wrong-app\n")
        (tmp_path / "user").write_text(glpi.user_token + "\n")
        res = sync(cfg, ledger, now=1_800_003_700.0)
        assert "ERROR_APP_TOKEN_PARAMETERS_MISSING" in (res.sources[0].error or "")


def test_v2_api_reads_the_same_assets_and_dates_as_the_legacy_api(
    tmp_path: Path, ledger: Ledger
) -> None:
    data = inventory_fleet.build()
    with GlpiServer(data) as glpi:
        res = sync(_config(tmp_path, glpi, api="v2"), ledger, now=1_800_000_000.0)
        assert res.ok, res.to_json()
        v2 = _by(ledger)
        legacy_ledger = Ledger(f"sqlite:{tmp_path / 'legacy.db'}")
        sync(_config(tmp_path, glpi), legacy_ledger, now=1_800_000_000.0)
        legacy = _by(legacy_ledger)
        assert set(v2) == set(legacy)
        for sid, s in legacy.items():
            a, b = s.asset, v2[sid].asset
            fields = ("kind", "serial", "uuid", "model", "state", "use_date", "decommission_date")
            assert [getattr(a, f) for f in (*fields, "macs")] == [
                getattr(b, f) for f in (*fields, "macs")
            ], sid
        assert glpi.calls("/api.php/token") == 1
        assert v2["Computer/7"].asset.macs == (inventory_fleet.computer_mac(7),)
        # incremental: only what changed since the watermark comes back
        data.items["NetworkEquipment"][3]["state"] = "Réformé"
        data.items["NetworkEquipment"][3]["date_mod"] = "2026-12-02 08:00:00"
        glpi.log.clear()
        res = sync(_config(tmp_path, glpi, api="v2"), ledger, now=1_800_003_600.0)
        assert res.sources[0].assets_read == 1
        assert _by(ledger)["NetworkEquipment/3"].asset.state == "Réformé"
        assert glpi.writes == 0


def test_v2_refused_credentials_are_named(tmp_path: Path, ledger: Ledger) -> None:
    with GlpiServer(inventory_fleet.build()) as glpi:
        cfg = _config(tmp_path, glpi, api="v2")
        (tmp_path / "pw").write_text("wrong\n")
        res = sync(cfg, ledger, now=1_800_000_000.0)
        assert "invalid_grant" in (res.sources[0].error or "")
        assert store.load(ledger) == []
