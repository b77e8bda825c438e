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

from collector.sources.snmp.validity import judge
from energy_common.configspec import ConfigError

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


@dataclass(frozen=True)
class Column:
    column: int
    scale: float = 1.0
    # sensor tables (Raritan PDU2-MIB): rows are <entity>.<sensorType>; this picks one type
    sensor_type: int | None = None
    # per-row scaling read every poll: value / 10^digits, digits at <digits_oid>.<row index>
    digits_oid: str | None = None
    # ENTITY-SENSOR-MIB style: only rows whose <type_column> is <type_equals> (watts = 6),
    # scaled by the row's SensorDataScale (<scale_column>: units = 9, each step 10^3) and
    # precision (<precision_column>: decimal digits)
    type_column: int | None = None
    type_equals: int | str | None = None  # str: an OID-valued column (Liebert's point id)
    scale_column: int | None = None
    precision_column: int | None = None
    # a register's raw range (2^32 for Unsigned32/Counter32): a decrease near it is a wrap
    wrap: float | None = None
    # raw values the MIB (or the card's documentation) gives for "not available", and the
    # object's range: either is no reading, counted (validity.py), never energy
    missing: tuple[float, ...] = ()
    valid: tuple[float, float] | None = None
    # a column of another table (or a scalar group) sharing the row's index: APC's UPS
    # power is upsAdvOutput's, its energy register upsHighPrecOutput's
    oid: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    oid: str
    label: int | None
    power_w: Column | None
    energy_wh: Column | None

    label_oid: str | None = None  # a label column in another table, same entity index
    # tables in one group describe the same thing (ENTITY-SENSOR and its Cisco twin): only
    # the first that yields readings is used, so nothing is counted twice
    group: str | None = None
    # readings shown on /metrics but not accounted as energy (PoE: part of the PSU input)
    account: bool = True
    # a breakdown of the device's total (PDU outlets under the PDU input, UPS input beside its
    # output): accounted per row, but never added into the device's role (no double count)
    breakdown: bool = False

    def walk_roots(self) -> list[str]:
        """Subtrees to walk: only the columns used (each a GETBULK walk of its own), and
        the columns of other tables labels or scales come from. Fewer varbinds than the
        whole table: less time on the wire and in BER decoding."""
        cols: list[int] = []
        if self.label:
            cols.append(self.label)
        for c in (self.power_w, self.energy_wh):
            if c is not None:
                cols += [
                    x
                    for x in (
                        c.column if c.oid is None else None,
                        c.type_column,
                        c.scale_column,
                        c.precision_column,
                    )
                    if x
                ]
        roots = [f"{self.oid}.{c}" for c in dict.fromkeys(cols)]
        for extra in (
            self.label_oid,
            self.power_w and self.power_w.digits_oid,
            self.energy_wh and self.energy_wh.digits_oid,
            self.power_w and self.power_w.oid,
            self.energy_wh and self.energy_wh.oid,
        ):
            if extra and extra not in roots:
                roots.append(extra)
        return roots


@dataclass(frozen=True)
class Status:
    """A reading that is neither power nor energy (UPS load, battery charge, output source),
    shown on /metrics and in the TSDB: a scalar (`oid` ends in .0, one GET) or a column
    (`column: true`, walked: one reading per row). `states` names an enumeration's values."""

    name: str
    oid: str
    column: bool = False
    scale: float = 1.0
    states: tuple[tuple[int, str], ...] = ()
    missing: tuple[float, ...] = ()  # the MIB's or card's "not available" fillers


@dataclass(frozen=True)
class Profile:
    name: str
    mib: str
    sysobjectid: tuple[str, ...]
    sysdescr: tuple[str, ...]
    tables: tuple[Table, ...]
    # also walk IF-MIB (status, speed, traffic of every port: collector/sources/snmp/interfaces)
    interfaces: bool = False
    # standard-MIB subtrees whose presence makes this profile fit a device no sysObjectID or
    # sysDescr claims (a UPS of any vendor speaking UPS-MIB); tried in one GETBULK
    probe: tuple[str, ...] = ()
    status: tuple[Status, ...] = ()
    # network gear: without a PSU power row, model the device (network_models.py)
    modelled: bool = False

    def score(self, sysobjectid: str | None, sysdescr: str | None) -> int:
        """How well the profile fits: the longest matching sysObjectID prefix wins; a
        sysDescr match counts less than any prefix. 0: no match. Prefixes match whole arcs:
        1.3.6.1.4.1.1718.4 covers 1.3.6.1.4.1.1718.4.x, not 1.3.6.1.4.1.1718.40."""
        oid = (sysobjectid or "").lstrip(".")
        prefixes = (p.strip(".") for p in self.sysobjectid)
        best = max(  # by arcs, not characters: .318.1.3.4.9 beats .318.1.3.4 however written
            (p.count(".") + 1001 for p in prefixes if oid == p or oid.startswith(p + ".")),
            default=0,
        )
        if not best and any(d.lower() in (sysdescr or "").lower() for d in self.sysdescr):
            best = 1
        return best

    def probe_score(self, found: set[str]) -> int:
        """After no profile claimed the device: how well its standard-MIB probes fit (the
        number of arcs of the most specific probe present), 0 if none is present."""
        return max((len(p.split(".")) for p in self.probe if p in found), default=0)


def _column(doc: Any, where: str) -> Column | None:
    if doc is None:
        return None
    if not isinstance(doc, dict) or not (
        isinstance(doc.get("column"), int) or isinstance(doc.get("oid"), str)
    ):
        raise ConfigError(f"{where}: expected {{column: N, scale: X}} or {{oid: O, scale: X}}")
    digits = doc.get("digits_oid")
    wrap = doc.get("wrap")
    missing = doc.get("missing") or []
    valid = doc.get("valid")
    if not isinstance(missing, list) or not all(isinstance(x, int | float) for x in missing):
        raise ConfigError(f"{where}.missing: expected a list of numbers")
    if valid is not None and (
        not isinstance(valid, list)
        or len(valid) != 2
        or not all(isinstance(x, int | float) for x in valid)
    ):
        raise ConfigError(f"{where}.valid: expected [lowest, highest]")
    other = doc.get("oid")
    return Column(
        int(doc.get("column") or 0),
        float(doc.get("scale", 1.0)),
        doc.get("sensor_type"),
        str(digits).lstrip(".") if digits else None,
        doc.get("type_column"),
        te.strip(".") if isinstance(te := doc.get("type_equals"), str) else te,
        doc.get("scale_column"),
        doc.get("precision_column"),
        float(wrap) if wrap else None,
        tuple(float(x) for x in missing),
        (float(valid[0]), float(valid[1])) if valid is not None else None,
        str(other).strip(".") if other else None,
    )


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
        label_oid = t.get("label_oid")
        tables.append(
            Table(
                t["name"],
                str(t["oid"]).lstrip("."),
                t.get("label"),
                _column(t.get("power_w"), f"{where}.power_w"),
                _column(t.get("energy_wh"), f"{where}.energy_wh"),
                str(label_oid).lstrip(".") if label_oid else None,
                t.get("group"),
                bool(t.get("account", True)),
                bool(t.get("breakdown", False)),
            )
        )
    status = []
    for i, st in enumerate(doc.get("status") or []):
        where = f"{path}: status[{i}]"
        if not isinstance(st, dict) or "name" not in st or "oid" not in st:
            raise ConfigError(f"{where}: needs `name` and `oid`")
        states = st.get("states") or {}
        if not isinstance(states, dict) or not all(isinstance(k, int) for k in states):
            raise ConfigError(f"{where}.states: expected {{number: name}}")
        status.append(
            Status(
                str(st["name"]),
                str(st["oid"]).strip("."),
                bool(st.get("column", False)),
                float(st.get("scale", 1.0)),
                tuple(sorted((int(k), str(v)) for k, v in states.items())),
                tuple(float(x) for x in st.get("missing") or []),
            )
        )
    match = doc.get("match") or {}
    return Profile(
        doc["name"],
        doc.get("mib", ""),
        tuple(str(x).lstrip(".") for x in match.get("sysobjectid", [])),
        tuple(str(x) for x in match.get("sysdescr", [])),
        tuple(tables),
        bool(doc.get("interfaces", False)),
        tuple(str(x).strip(".") for x in match.get("probe", [])),
        tuple(status),
        bool(doc.get("modelled_power", False)),
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
    account: bool = True
    breakdown: bool = False
    energy_wrap_wh: float | None = None  # the register's range in Wh, when it wraps
    # (field, reason, raw value) of values read but not readings (validity.py)
    rejected: tuple[tuple[str, str, Any], ...] = ()


def _number(v: Any) -> float | None:
    """Device readings: -1, negative, or non-numeric mean "unavailable", never zero."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if v >= 0 else None


def _value(
    col: Column | None, cells: dict[str, dict[int, Any]], entity: str, walked: dict[str, Any]
) -> tuple[float | None, tuple[str, Any] | None]:
    """The scaled reading, or None with (reason, raw value) when a value was there but is
    not a reading (a filler, out of range)."""
    if col is None:
        return None, None
    index = entity if col.sensor_type is None else f"{entity}.{col.sensor_type}"
    row = cells.get(index, {})
    if col.type_column is not None and row.get(col.type_column) != col.type_equals:
        return None, None
    raw = walked.get(f"{col.oid}.{index}") if col.oid else row.get(col.column)
    v, reason = judge(raw, col.missing, col.valid)
    if v is None:
        return None, (reason, raw) if reason else None
    if col.scale_column is not None:
        scale = row.get(col.scale_column)
        if not isinstance(scale, int) or not 1 <= scale <= 17:
            return None, None
        v = v * 10.0 ** ((scale - 9) * 3)
    if col.precision_column is not None:
        precision = row.get(col.precision_column)
        if not isinstance(precision, int) or not -8 <= precision <= 9:
            return None, None
        v = v / 10.0**precision
    if col.digits_oid:
        digits = walked.get(f"{col.digits_oid}.{index}")
        if not isinstance(digits, int) or digits < 0 or digits > 9:
            return None, None  # no scale this poll: no reading rather than a wrong one
        v = v / 10**digits
    return v * col.scale, None


def rows(table: Table, walked: dict[str, Any]) -> list[Row]:
    """Rows of one walked table (plus its label and scale tables) → scaled readings."""
    by_index: dict[str, dict[int, Any]] = {}
    prefix = table.oid + "."
    for oid, value in walked.items():
        if not oid.startswith(prefix):
            continue
        col, _, index = oid[len(prefix) :].partition(".")
        if col.isdigit() and index:
            by_index.setdefault(index, {})[int(col)] = value
    sensor = any(
        c is not None and c.sensor_type is not None for c in (table.power_w, table.energy_wh)
    )
    typed = any(
        c is not None and c.type_column is not None for c in (table.power_w, table.energy_wh)
    )
    for other in (table.power_w, table.energy_wh):
        if other is not None and other.oid:  # rows that only the other table's column has
            base = other.oid + "."
            for oid in walked:
                if oid.startswith(base):
                    by_index.setdefault(oid[len(base) :], {})
    entities = {i.rpartition(".")[0] if sensor else i for i in by_index}
    out = []
    for entity in sorted(entities, key=lambda x: [int(p) for p in x.split(".") if p.isdigit()]):
        if table.label_oid:
            label = walked.get(f"{table.label_oid}.{entity}")
        else:
            label = by_index.get(entity, {}).get(table.label) if table.label else None
        power, bad_power = _value(table.power_w, by_index, entity, walked)
        energy, bad_energy = _value(table.energy_wh, by_index, entity, walked)
        rejected = tuple(
            (field, *bad)
            for field, bad in (("power_w", bad_power), ("energy_wh", bad_energy))
            if bad is not None
        )
        if typed and power is None and energy is None and not rejected:
            continue  # a sensor of another type (temperature, fan…)
        wrap = table.energy_wh.wrap if table.energy_wh is not None else None
        out.append(
            Row(
                table.name,
                entity,
                str(label) if label not in (None, "") else None,
                power,
                energy,
                table.account,
                table.breakdown,
                wrap * table.energy_wh.scale if wrap and table.energy_wh else None,
                rejected,
            )
        )
    return out


def status_readings(
    specs: tuple[Status, ...], got: dict[str, Any]
) -> list[tuple[Status, str, float]]:
    """(spec, row index or "0", value) for every status reading present and numeric."""
    out = []
    for spec in specs:
        if spec.column:
            prefix = spec.oid + "."
            items = [(o[len(prefix) :], v) for o, v in got.items() if o.startswith(prefix)]
        else:
            items = [("0", got.get(spec.oid))]
        for index, v in items:
            n = _number(v)
            if n is not None and n not in spec.missing:
                out.append((spec, index, n * spec.scale))
    return out
