"""One sync of every configured source into the ledger: GLPI (only what changed since its
watermark), the agents' files and the CSVs (each read whole: a snapshot of its source). A
source that fails keeps what the ledger had and says why; the others still sync."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from collector.inventory import store
from collector.inventory.agentfiles import files_in, read_agent_file
from collector.inventory.assets import Asset
from collector.inventory.csvfile import InventoryFileError, read_csv
from collector.inventory.glpi import Changes, GlpiError, LegacyClient
from collector.inventory.glpi_v2 import V2Client
from collector.inventory.settings import InventoryConfig
from collector.ledger import Ledger
from energy_common.configspec import read_secret

log = logging.getLogger("energy_collector.inventory")


@dataclass
class SourceResult:
    source: str
    ok: bool
    assets_read: int = 0
    removed: int = 0
    requests: int = 0
    full: bool = False
    error: str | None = None


@dataclass
class SyncResult:
    sources: list[SourceResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sources)

    def to_json(self) -> list[dict[str, Any]]:
        return [s.__dict__ for s in self.sources]


def glpi_client(cfg: InventoryConfig) -> LegacyClient | V2Client:
    g = cfg.glpi
    if g.api == "legacy":
        return LegacyClient(
            g.url,
            read_secret(None, g.app_token_file, "inventory.glpi.app_token_file")
            if g.app_token_file
            else None,
            read_secret(None, g.user_token_file, "inventory.glpi.user_token_file") or "",
            g.page_size,
            g.timeout_s,
            g.ca_file,
        )
    return V2Client(
        g.url,
        g.client_id,
        read_secret(None, g.client_secret_file, "inventory.glpi.client_secret_file") or "",
        g.username,
        read_secret(None, g.password_file, "inventory.glpi.password_file") or "",
        g.page_size,
        g.timeout_s,
        g.ca_file,
    )


def merge_glpi(ch: Changes, stored: dict[str, Asset]) -> list[Asset]:
    """Changed assets with their infocom dates and MACs. An asset read again keeps the dates
    and MACs the ledger has unless they were read too; an unchanged asset whose infocom or
    ports changed is taken from the ledger and updated."""
    kept = ("buy_date", "delivery_date", "use_date", "warranty_end", "decommission_date", "macs")
    out: dict[str, Asset] = {}
    for sid, a in ch.assets.items():
        old = stored.get(sid)
        out[sid] = a.with_(**{f: getattr(old, f) for f in kept}) if old and not ch.full else a
    for sid in set(ch.infocoms) | set(ch.macs):
        if sid not in out and sid in stored:
            out[sid] = stored[sid]
    for sid, a in list(out.items()):
        changes: dict[str, Any] = {}
        if sid in ch.infocoms:
            changes.update(ch.infocoms[sid])
        if sid in ch.macs:
            changes["macs"] = tuple(sorted(ch.macs[sid] | (set(a.macs) if not ch.full else set())))
        if changes:
            out[sid] = a.with_(**changes)
    return list(out.values())


def sync_glpi(cfg: InventoryConfig, ledger: Ledger, now: float, full: bool) -> SourceResult:
    g = cfg.glpi
    since = "" if full else store.watermark(ledger, "glpi")
    try:
        client = glpi_client(cfg)
        ch = client.changes(list(g.itemtypes), since, dict(cfg.kinds), g.embodied_field)
    except (GlpiError, ValueError) as exc:
        log.warning("inventory: GLPI sync failed, the ledger keeps what it had: %s", exc)
        return SourceResult("glpi", False, error=str(exc))
    stored = {s.asset.source_id: s.asset for s in store.load(ledger, "glpi")}
    # rows at the watermark itself are read again (GLPI's clock has whole seconds): only
    # what differs from the ledger is a change
    assets = [a for a in merge_glpi(ch, stored) if stored.get(a.source_id) != a]
    present = {f"glpi:{it}/{i}" for it, ids in ch.present.items() for i in ids}
    present -= {a.key for a in assets if a.deleted}
    removed = store.save(
        ledger,
        "glpi",
        assets,
        now,
        present,
        ch.watermark,
        {"api": g.api, "requests": ch.requests, "changed": len(assets), "full": ch.full},
    )
    log.info(
        "inventory: GLPI (%s API) %d asset(s) changed since %s, %d removed, %d requests",
        g.api,
        len(assets),
        since or "the beginning",
        removed,
        ch.requests,
    )
    return SourceResult("glpi", True, len(assets), removed, ch.requests, ch.full)


def sync_files(cfg: InventoryConfig, ledger: Ledger, now: float) -> list[SourceResult]:
    out = []
    for source, paths, reader in (
        ("agent-file", [str(p) for p in files_in(list(cfg.agent_files))], read_agent_file),
        ("csv", list(cfg.csv_files), read_csv),
    ):
        if not paths:
            continue
        assets: list[Asset] = []
        try:
            for p in paths:
                assets.extend(reader(p, dict(cfg.kinds)))
        except InventoryFileError as exc:
            log.warning("inventory: %s", exc)
            out.append(SourceResult(source, False, error=str(exc)))
            continue
        unique = {a.key: a for a in assets}
        removed = store.save(
            ledger, source, list(unique.values()), now, set(unique), "", {"files": len(paths)}
        )
        out.append(SourceResult(source, True, len(unique), removed))
    return out


def sync(
    cfg: InventoryConfig, ledger: Ledger, now: float | None = None, full: bool = False
) -> SyncResult:
    now = time.time() if now is None else now
    res = SyncResult()
    if cfg.glpi.url:
        res.sources.append(sync_glpi(cfg, ledger, now, full))
    res.sources.extend(sync_files(cfg, ledger, now))
    return res
