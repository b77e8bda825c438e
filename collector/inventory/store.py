"""The register in the ledger: `inventory_assets` (one row per asset of each source, kept
after it leaves the register, with when it left) and `inventory_sources` (each source's last
sync and GLPI's watermark). Every write goes through the ledger's transaction API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from collector.inventory.assets import Asset
from collector.ledger import Ledger

COLS = (
    "asset_key",
    "source",
    "source_id",
    "kind",
    "name",
    "serial",
    "uuid",
    "macs",
    "model",
    "manufacturer",
    "type",
    "state",
    "location",
    "buy_date",
    "delivery_date",
    "use_date",
    "warranty_end",
    "decommission_date",
    "embodied_kgco2e",
    "lifetime_years",
    "date_mod",
    "deleted",
    "extra",
    "seen_at",
    "removed_at",
)
DATE_COLS = ("buy_date", "delivery_date", "use_date", "warranty_end", "decommission_date")


@dataclass(frozen=True)
class Stored:
    asset: Asset
    seen_at: float
    removed_at: float | None  # when it left the register (purged, trashed, dropped)


def _row(a: Asset, now: float) -> tuple[Any, ...]:
    return (
        a.key,
        a.source,
        a.source_id,
        a.kind,
        a.name,
        a.serial,
        a.uuid,
        json.dumps(list(a.macs)),
        a.model,
        a.manufacturer,
        a.type,
        a.state,
        a.location,
        *(getattr(a, c).isoformat() if getattr(a, c) else None for c in DATE_COLS),
        a.embodied_kgco2e,
        a.lifetime_years,
        a.date_mod,
        1 if a.deleted else 0,
        json.dumps(a.extra, sort_keys=True),
        now,
        now if a.deleted else None,
    )


UPSERT = (
    f"INSERT INTO inventory_assets ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))}) "
    "ON CONFLICT (asset_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLS if c not in ("asset_key",))
)


def save(
    ledger: Ledger,
    source: str,
    assets: list[Asset],
    now: float,
    present: set[str] | None,
    watermark: str = "",
    detail: dict[str, Any] | None = None,
) -> int:
    """Upsert `assets` of `source`; with `present` (the keys still in that source), mark the
    others removed (once: their first removal time is kept). Returns the rows removed now."""
    with ledger.transaction() as tx:
        tx.executemany(UPSERT, [_row(a, now) for a in assets])
        removed = 0
        if present is not None:
            for (key,) in tx.execute(
                "SELECT asset_key FROM inventory_assets WHERE source = ? AND removed_at IS NULL",
                (source,),
            ):
                if key not in present:
                    tx.execute(
                        "UPDATE inventory_assets SET removed_at = ? WHERE asset_key = ?",
                        (now, key),
                    )
                    removed += 1
        tx.execute(
            "INSERT INTO inventory_sources (source, watermark, synced_at, detail) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "watermark = excluded.watermark, synced_at = excluded.synced_at, "
            "detail = excluded.detail",
            (source, watermark, now, json.dumps(detail or {}, sort_keys=True)),
        )
    return removed


def watermark(ledger: Ledger, source: str) -> str:
    rows = ledger.execute("SELECT watermark FROM inventory_sources WHERE source = ?", (source,))
    return str(rows[0][0]) if rows else ""


def sources(ledger: Ledger) -> list[dict[str, Any]]:
    return [
        {"source": s, "watermark": w, "synced_at": float(t), **json.loads(d or "{}")}
        for s, w, t, d in ledger.execute(
            "SELECT source, watermark, synced_at, detail FROM inventory_sources ORDER BY source"
        )
    ]


def _date(v: Any) -> date | None:
    return date.fromisoformat(str(v)[:10]) if v else None


def load(ledger: Ledger, source: str | None = None) -> list[Stored]:
    sql = f"SELECT {', '.join(COLS)} FROM inventory_assets"
    params: tuple[Any, ...] = ()
    if source is not None:
        sql += " WHERE source = ?"
        params = (source,)
    out = []
    for r in ledger.execute(sql + " ORDER BY asset_key", params):
        d = dict(zip(COLS, r, strict=True))
        out.append(
            Stored(
                Asset(
                    source=d["source"],
                    source_id=d["source_id"],
                    kind=d["kind"],
                    name=d["name"],
                    serial=d["serial"],
                    uuid=d["uuid"],
                    macs=tuple(json.loads(d["macs"] or "[]")),
                    model=d["model"],
                    manufacturer=d["manufacturer"],
                    type=d["type"],
                    state=d["state"],
                    location=d["location"],
                    **{c: _date(d[c]) for c in DATE_COLS},
                    embodied_kgco2e=d["embodied_kgco2e"],
                    lifetime_years=d["lifetime_years"],
                    date_mod=d["date_mod"],
                    deleted=bool(d["deleted"]),
                    extra=json.loads(d["extra"] or "{}"),
                ),
                float(d["seen_at"]),
                None if d["removed_at"] is None else float(d["removed_at"]),
            )
        )
    return out
