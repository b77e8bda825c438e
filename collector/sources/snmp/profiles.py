"""Device profiles as data (one YAML file per profile, in the spirit of snmp_exporter modules):
which tables to walk, which column is the row's label, and which columns are power (W) and
energy registers (Wh) after scaling. A profile is picked by sysObjectID prefix or a sysDescr
substring, or forced in config. Adding a vendor means adding a file (docs/snmp-profiles.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.configspec import ConfigError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Column:
    column: int
    scale: float = 1.0


@dataclass(frozen=True)
class Table:
    name: str
    oid: str
    label: int | None
    power_w: Column | None
    energy_wh: Column | None

    def columns(self) -> list[int]:
        return [
            c
            for c in (
                self.label,
                self.power_w and self.power_w.column,
                self.energy_wh and self.energy_wh.column,
            )
            if c
        ]


@dataclass(frozen=True)
class Profile:
    name: str
    mib: str
    sysobjectid: tuple[str, ...]
    sysdescr: tuple[str, ...]
    tables: tuple[Table, ...]

    def matches(self, sysobjectid: str | None, sysdescr: str | None) -> bool:
        oid = (sysobjectid or "").lstrip(".")
        return any(oid.startswith(p) for p in self.sysobjectid) or any(
            s.lower() in (sysdescr or "").lower() for s in self.sysdescr
        )


def _column(doc: Any, where: str) -> Column | None:
    if doc is None:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("column"), int):
        raise ConfigError(f"{where}: expected {{column: N, scale: X}}")
    return Column(doc["column"], float(doc.get("scale", 1.0)))


def load_profile(path: Path) -> Profile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(doc, dict) or "name" not in doc or "tables" not in doc:
        raise ConfigError(f"{path}: a profile needs `name` and `tables`")
    tables = []
    for i, t in enumerate(doc["tables"]):
        where = f"{path}: tables[{i}]"
        if not isinstance(t, dict) or "oid" not in t or "name" not in t:
            raise ConfigError(f"{where}: needs `name` and `oid`")
        tables.append(
            Table(
                t["name"],
                str(t["oid"]).lstrip("."),
                t.get("label"),
                _column(t.get("power_w"), f"{where}.power_w"),
                _column(t.get("energy_wh"), f"{where}.energy_wh"),
            )
        )
    match = doc.get("match") or {}
    return Profile(
        doc["name"],
        doc.get("mib", ""),
        tuple(str(x).lstrip(".") for x in match.get("sysobjectid", [])),
        tuple(str(x) for x in match.get("sysdescr", [])),
        tuple(tables),
    )


def load_profiles(directory: Path = PROFILE_DIR) -> dict[str, Profile]:
    return {p.name: p for p in (load_profile(f) for f in sorted(directory.glob("*.yaml")))}


@dataclass(frozen=True)
class Row:
    table: str
    index: str
    label: str | None
    power_w: float | None
    energy_wh: float | None


def _number(v: Any) -> float | None:
    """Device readings: -1, negative, or non-numeric mean "unavailable", never zero."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if v >= 0 else None


def rows(table: Table, walked: dict[str, Any]) -> list[Row]:
    """Rows of one walked table: {index: {column: value}} → scaled readings."""
    by_index: dict[str, dict[int, Any]] = {}
    prefix = table.oid + "."
    for oid, value in walked.items():
        if not oid.startswith(prefix):
            continue
        col, _, index = oid[len(prefix) :].partition(".")
        if col.isdigit() and index:
            by_index.setdefault(index, {})[int(col)] = value
    out = []
    for index in sorted(by_index, key=lambda x: [int(p) for p in x.split(".")]):
        cells = by_index[index]
        power = energy = None
        if table.power_w is not None:
            v = _number(cells.get(table.power_w.column))
            power = None if v is None else v * table.power_w.scale
        if table.energy_wh is not None:
            v = _number(cells.get(table.energy_wh.column))
            energy = None if v is None else v * table.energy_wh.scale
        label = cells.get(table.label) if table.label else None
        out.append(
            Row(table.name, index, str(label) if label not in (None, "") else None, power, energy)
        )
    return out
