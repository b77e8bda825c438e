"""One asset of the register, whatever it came from (GLPI, an agent's file, a CSV), and the
small normalisations every reader shares: kinds, dates, serials, MAC addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date

from collector.inventory.settings import DEFAULT_KINDS, DEFAULT_RETIRED_STATES

# serials that firmware and virtualisation fill in when there is none: never a match
JUNK_SERIALS = {
    "",
    "0",
    "none",
    "null",
    "n/a",
    "na",
    "default string",
    "to be filled by o.e.m.",
    "system serial number",
    "not specified",
    "not applicable",
    "0123456789",
    "chassis serial number",
}
JUNK_UUIDS = {"", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}
_MAC = re.compile(r"^([0-9a-f]{2})([:-]?[0-9a-f]{2}){5}$")


@dataclass(frozen=True)
class Asset:
    """What the register says of one device. Dates are the register's (GLPI's Infocom)."""

    source: str  # glpi, agent-file, csv: the reader
    source_id: str  # its id there (GLPI "Computer/12", a file name, a CSV asset_id)
    kind: str  # one of settings.ASSET_KINDS
    name: str = ""
    serial: str | None = None
    uuid: str | None = None
    macs: tuple[str, ...] = ()
    model: str | None = None
    manufacturer: str | None = None
    type: str | None = None  # the register's own type name
    state: str | None = None
    location: str | None = None
    buy_date: date | None = None
    delivery_date: date | None = None
    use_date: date | None = None
    warranty_end: date | None = None
    decommission_date: date | None = None
    embodied_kgco2e: float | None = None  # the register's own value for this asset or model
    lifetime_years: float | None = None  # the register's expected lifetime
    date_mod: str | None = None  # the register's last change (incremental syncs)
    deleted: bool = False  # in GLPI's trash
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"

    def in_service_from(self) -> date | None:
        """The start of its life: use date, else delivery, else purchase (GLPI's order)."""
        return self.use_date or self.delivery_date or self.buy_date

    def with_(self, **changes: object) -> Asset:
        return replace(self, **changes)  # type: ignore[arg-type]


def kind_of(type_name: str | None, itemtype: str, own: dict[str, str]) -> str:
    """The kind of a register entry: the city's type names first, then GLPI's usual ones,
    then what its item type says (a monitor is a monitor, a switch is network gear)."""
    t = (type_name or "").strip().lower()
    for table in ({k.lower(): v for k, v in own.items()}, DEFAULT_KINDS):
        if t and t in table:
            return table[t]
    return {
        "Monitor": "monitor",
        "NetworkEquipment": "network",
        "Peripheral": "peripheral",
        "Computer": "desktop",
    }.get(itemtype, "other")


def is_retired(state: str | None, own: list[str]) -> bool:
    s = (state or "").strip().lower()
    return bool(s) and s in {*DEFAULT_RETIRED_STATES, *(x.lower() for x in own)}


def clean_serial(value: object) -> str | None:
    s = str(value or "").strip()
    return None if s.lower() in JUNK_SERIALS else s.upper()


def clean_uuid(value: object) -> str | None:
    s = str(value or "").strip().lower()
    return None if s in JUNK_UUIDS else s


def clean_mac(value: object) -> str | None:
    """aa:bb:cc:dd:ee:ff, or None for what is no real interface (all zeros, broadcast)."""
    s = str(value or "").strip().lower()
    if not _MAC.match(s):
        return None
    hexes = re.sub(r"[:-]", "", s)
    if hexes in ("000000000000", "ffffffffffff"):
        return None
    return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))


def register_kg(row: dict[str, object], field_name: str) -> float | None:
    """The register's own footprint for an asset (a GLPI field or plugin field), if any:
    a non-negative number, else nothing (a text or a negative value is not a footprint)."""
    v = row.get(field_name) if field_name else None
    try:
        kg = float(v) if v not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return kg if kg is None or kg >= 0 else None


def parse_date(value: object, what: str) -> date | None:
    """YYYY-MM-DD (GLPI also writes 'YYYY-MM-DD HH:MM:SS'); empty or GLPI's 0000-00-00 is
    none. Anything else is an error naming `what`."""
    s = str(value or "").strip()
    if not s or s.startswith("0000-00-00") or s.upper() in ("NULL", "NONE"):
        return None
    try:
        return date.fromisoformat(s[:10])
    except ValueError:
        raise ValueError(f"{what}: {s!r} is not a date (YYYY-MM-DD)") from None


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {d}")
