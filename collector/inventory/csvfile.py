"""An asset register exported as CSV (any tool: a spreadsheet, an ERP, an older inventory).

The columns are documented in docs/inventory.md; `asset_id` and `kind` (or `type`) are
required, the rest optional. A file with any bad row is refused whole, with one error per bad
row naming the file, the line and the column: nothing is imported half.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from collector.inventory.assets import (
    Asset,
    clean_mac,
    clean_serial,
    clean_uuid,
    kind_of,
    parse_date,
)
from collector.inventory.settings import ASSET_KINDS

COLUMNS = (
    "asset_id",
    "kind",
    "type",
    "name",
    "serial",
    "uuid",
    "mac",
    "model",
    "manufacturer",
    "state",
    "location",
    "buy_date",
    "delivery_date",
    "use_date",
    "warranty_end",
    "decommission_date",
    "embodied_kgco2e",
    "lifetime_years",
)
DATES = ("buy_date", "delivery_date", "use_date", "warranty_end", "decommission_date")


class InventoryFileError(ValueError):
    """A file that cannot be imported; `errors` holds one line per problem."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"{path}: nothing imported:\n  " + "\n  ".join(errors[:20]) + more)


def read_csv(path: str | Path, kinds: dict[str, str] | None = None) -> list[Asset]:
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # a spreadsheet's "CSV (Windows)"
    first = text.splitlines()[0] if text.strip() else ""
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delim)
    header = [(c or "").strip().lower() for c in reader.fieldnames or []]
    errors: list[str] = []
    unknown = [c for c in header if c and c not in COLUMNS]
    if unknown:
        errors.append(f"header: unknown column(s) {', '.join(unknown)} (see docs/inventory.md)")
    if "asset_id" not in header:
        errors.append("header: the asset_id column is required")
    if "kind" not in header and "type" not in header:
        errors.append("header: give a kind or a type column")
    if errors:
        raise InventoryFileError(str(path), errors)
    out: list[Asset] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not any(cells.values()):
            continue
        try:
            asset = _asset(cells, kinds or {})
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if asset.source_id in seen:
            errors.append(
                f"line {line}: asset_id: {asset.source_id!r} already on line "
                f"{seen[asset.source_id]}"
            )
            continue
        seen[asset.source_id] = line
        out.append(asset)
    if errors:
        raise InventoryFileError(str(path), errors)
    return out


def _number(cells: dict[str, str], col: str, low: float, high: float) -> float | None:
    s = cells.get(col, "").replace(",", ".")
    if not s:
        return None
    try:
        v = float(s)
    except ValueError:
        raise ValueError(f"{col}: {cells[col]!r} is not a number") from None
    if not low <= v <= high:
        raise ValueError(f"{col}: {v:g} is outside {low:g}..{high:g}")
    return v


def _asset(cells: dict[str, str], kinds: dict[str, str]) -> Asset:
    aid = cells.get("asset_id", "")
    if not aid:
        raise ValueError("asset_id: empty")
    kind = cells.get("kind", "").lower()
    if kind and kind not in ASSET_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(ASSET_KINDS)}")
    if not kind:
        if not cells.get("type"):
            raise ValueError("kind: empty, and no type to tell it from")
        kind = kind_of(cells["type"], "", kinds)
    dates = {c: parse_date(cells.get(c), c) for c in DATES}
    start = dates["use_date"] or dates["delivery_date"] or dates["buy_date"]
    end = dates["decommission_date"]
    if start and end and end < start:
        raise ValueError(f"decommission_date: {end} is before the asset's start of service {start}")
    macs = []
    for m in cells.get("mac", "").replace(";", " ").replace("|", " ").split():
        mac = clean_mac(m)
        if mac is None:
            raise ValueError(f"mac: {m!r} is not a MAC address")
        macs.append(mac)
    return Asset(
        source="csv",
        source_id=aid,
        kind=kind,
        name=cells.get("name", ""),
        serial=clean_serial(cells.get("serial")),
        uuid=clean_uuid(cells.get("uuid")),
        macs=tuple(macs),
        model=cells.get("model") or None,
        manufacturer=cells.get("manufacturer") or None,
        type=cells.get("type") or None,
        state=cells.get("state") or None,
        location=cells.get("location") or None,
        buy_date=dates["buy_date"],
        delivery_date=dates["delivery_date"],
        use_date=dates["use_date"],
        warranty_end=dates["warranty_end"],
        decommission_date=end,
        embodied_kgco2e=_number(cells, "embodied_kgco2e", 0, 100_000),
        lifetime_years=_number(cells, "lifetime_years", 0.5, 30),
    )
