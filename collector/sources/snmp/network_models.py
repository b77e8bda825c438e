"""Network devices without a power sensor, modelled: a switch or access point whose profile
found no PSU power (ENTITY-SENSOR / CISCO-ENTITY-SENSOR) gets one modelled row: the model's
power without PoE (the shipped table network-models.yaml, or `snmp.network_models` per
model) plus the PoE it delivers (POWER-ETHERNET-MIB, already read as the `poe` rows). Its
energy is integrated from that power and stored as estimated; the label is the model and
the basis (`<model> (<basis>)`).

Bases, in order of preference:
- `config`: the site's typical power for the model (`snmp.network_models`);
- `table`: the datasheet's typical power (`typical_w`, cited in the table);
- `table_max`: only a maximum is documented (`max_w`): an upper bound, said so;
- `poe_only`: no figure: the PoE it delivers alone, a lower bound (for an access point fed by
  PoE, nothing at all). The network line is never silently zero: the gauge and the log say so.

Counted once. A device is powered from the mains (its row `modelled`, counted under its role)
or by PoE from a switch (`poe_fed`): then its power is already inside that switch's PoE
delivered, so its row is a breakdown (role `<role>:poe_fed`, shown and recorded, never added
to a total). Access points are PoE-fed by default, switches on the mains; a model's entry or
`snmp.network_powered_by` per model, or `powered_by` per device, says otherwise (an AP on a
mains injector or adapter is `mains`: no monitored switch counts it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, Gauge

from collector.sources.snmp.client import Client, Target
from collector.sources.snmp.profiles import Profile, Row
from energy_common.configspec import ConfigError

log = logging.getLogger("energy_collector.snmp")

TABLE = Path(__file__).resolve().parent / "network-models.yaml"
ENT_MODEL_NAME = "1.3.6.1.2.1.47.1.1.1.1.13"  # ENTITY-MIB entPhysicalModelName
SENSOR_TABLES = ("psu",)  # a row of these with power: the device is measured, not modelled
KINDS = ("switch", "ap")
POWERED_BY = ("poe", "mains")
MODELLED = "modelled"  # the row (and meter `<device>:modelled:0`) of a mains-powered device
POE_FED = "poe_fed"  # the breakdown row of a device fed by PoE (inside its switch's PoE)
BASES = ("config", "table", "table_max", "poe_only")


@dataclass(frozen=True)
class Model:
    model: str
    sysobjectid: tuple[str, ...]
    entity_model: tuple[str, ...]
    typical_w: float | None
    source: str
    kind: str = "switch"
    max_w: float | None = None
    powered_by: str = "mains"


@dataclass(frozen=True)
class Match:
    """What a device is modelled as, and why."""

    model: str | None  # the model's name (the table entry's, else entPhysicalModelName)
    entry: str | None  # the shipped table entry matched, if any
    how: str  # how it was matched: "entPhysicalModelName X", "sysObjectID Y", "no entry"
    watts: float | None  # power without PoE; None: unknown
    basis: str  # one of BASES
    powered_by: str  # poe | mains
    why_powered: str  # where powered_by comes from
    source: str = ""  # the datasheet cited for the figure

    @property
    def counted(self) -> bool:
        return self.powered_by == "mains"


def _watts(m: dict[str, Any], key: str, where: str) -> float | None:
    w = m.get(key)
    if w is not None and (isinstance(w, bool) or not isinstance(w, int | float) or w <= 0):
        raise ConfigError(f"{where}.{key}: expected watts above 0 or nothing")
    return float(w) if w is not None else None


def load_table(path: Path = TABLE) -> list[Model]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    out = []
    for i, m in enumerate(doc.get("models") or []):
        where = f"{path}: models[{i}]"
        if not isinstance(m, dict) or not m.get("model"):
            raise ConfigError(f"{where}: needs `model`")
        typical, top = _watts(m, "typical_w", where), _watts(m, "max_w", where)
        if (typical is not None or top is not None) and not m.get("source"):
            raise ConfigError(f"{where}.source: a power figure needs its datasheet")
        kind = m.get("kind", "switch")
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind: {kind!r}: one of {', '.join(KINDS)}")
        powered = m.get("powered_by", "poe" if kind == "ap" else "mains")
        if powered not in POWERED_BY:
            raise ConfigError(f"{where}.powered_by: {powered!r}: one of {', '.join(POWERED_BY)}")
        match = m.get("match") or {}
        out.append(
            Model(
                str(m["model"]),
                tuple(str(x).strip(".") for x in match.get("sysobjectid") or []),
                tuple(str(x) for x in match.get("entity_model") or []),
                typical,
                str(m.get("source") or ""),
                kind,
                top,
                powered,
            )
        )
    return out


def identify(
    table: list[Model], sysobjectid: str | None, entity_models: list[str]
) -> tuple[Model | None, str]:
    """The entry and how it matched: entPhysicalModelName first (it names the variant),
    else the sysObjectID (whole arcs)."""
    names = {n.strip().upper(): n.strip() for n in entity_models if n and n.strip()}
    for m in table:
        for e in m.entity_model:
            if e.upper() in names:
                return m, f"entPhysicalModelName {names[e.upper()]}"
    oid = (sysobjectid or "").strip(".")
    for m in table:
        if any(oid == p or oid.startswith(p + ".") for p in m.sysobjectid):
            return m, f"sysObjectID {oid}"
    return None, "no entry of the table"


def modelled_row(rows: list[Row], match: Match) -> Row | None:
    """The modelled row, or None when the device is measured (a PSU row with power). A device
    without a figure delivering no PoE still gets its row, at 0 W, labelled `poe_only`: the
    ledger and the yearly report know it is there and unknown, never a silent zero."""
    if any(r.table in SENSOR_TABLES and r.power_w is not None for r in rows):
        return None
    poe = sum(r.power_w or 0.0 for r in rows if r.table == "poe")
    watts = (match.watts or 0.0) + poe
    fed = match.powered_by == "poe"
    label = f"{match.model or 'unknown model'} ({match.basis}{', PoE-fed' if fed else ''})"
    return Row(POE_FED if fed else MODELLED, "0", label, watts, None, breakdown=fed)


class NetworkModels:
    """Per device: which model, its power and basis, how it is powered; the gauge saying so."""

    def __init__(
        self,
        overrides: dict[str, str],
        registry: CollectorRegistry,
        table: list[Model] | None,
        powered_by: dict[str, str] | None = None,
    ) -> None:
        self.table = load_table() if table is None else table
        self.overrides = {k.upper(): float(v) for k, v in overrides.items()}
        self.powered_by = {k.upper(): v for k, v in (powered_by or {}).items()}
        self.matches: dict[str, Match] = {}
        self.gauge = Gauge(
            "energy_snmp_network_modelled_watts",
            "Power of a network device without a power sensor, modelled: the model's power "
            "without PoE (basis `config`, `table`, `table_max` an upper bound) plus the PoE it "
            "delivers; `poe_only` when no figure is known (a lower bound). `powered_by=poe`: "
            "fed by a switch's PoE, already inside that switch's figure: shown, never added.",
            ["device", "model", "basis", "powered_by"],
            registry=registry,
        )

    async def rows(
        self,
        device: str,
        client: Client,
        tgt: Target,
        profile: Profile,
        sysinfo: dict[str, Any],
        rows: list[Row],
        powered_by: str = "auto",
    ) -> list[Row]:
        """[the modelled row] for a network device without a PSU sensor, else []."""
        if not profile.modelled or any(
            r.table in SENSOR_TABLES and r.power_w is not None for r in rows
        ):
            return []
        if device not in self.matches:
            names = await client.walk(tgt, ENT_MODEL_NAME)
            match = self.match(
                sysinfo.get("1.3.6.1.2.1.1.2.0"), [str(v) for v in names.values()], powered_by
            )
            self.matches[device] = match
            if match.basis == "poe_only":
                log.warning(
                    "snmp: %s: no power sensor and no power figure for model %s (%s): %s "
                    "(set snmp.network_models)",
                    device,
                    match.model or "(unknown)",
                    match.how,
                    "counting the PoE it delivers only"
                    if match.counted
                    else "fed by PoE, inside its switch's figure",
                )
            else:
                log.info(
                    "snmp: %s: modelled as %s (%s), %.1f W + PoE (%s), powered by %s (%s)",
                    device,
                    match.model,
                    match.how,
                    match.watts,
                    match.basis,
                    match.powered_by,
                    match.why_powered,
                )
        match = self.matches[device]
        row = modelled_row(rows, match)
        # said on /metrics even at 0 W (no figure, no PoE drawn): never a silent zero
        self.gauge.labels(device, match.model or "", match.basis, match.powered_by).set(
            row.power_w or 0.0 if row else 0.0
        )
        return [row] if row is not None else []

    def match(self, sysobjectid: Any, entity_models: list[str], powered_by: str = "auto") -> Match:
        """The configuration first, then the table; powered_by: the device's setting, else
        the model's in the configuration, else the table entry's (APs PoE, switches mains)."""
        found, how = identify(
            self.table, sysobjectid if isinstance(sysobjectid, str) else None, entity_models
        )
        named = [n.strip() for n in entity_models if n.strip()]
        names = [n for n in ([found.model] if found else []) + named]
        model: str | None = found.model if found else (named[0] if named else None)
        watts: float | None = None
        basis, source = "poe_only", ""
        for name in named + ([found.model] if found else []):
            if name.upper() in self.overrides:
                model, watts, basis = name, self.overrides[name.upper()], "config"
                source = "snmp.network_models"
                break
        else:
            if found is not None and found.typical_w is not None:
                watts, basis, source = found.typical_w, "table", found.source
            elif found is not None and found.max_w is not None:
                watts, basis, source = found.max_w, "table_max", found.source
        if powered_by in POWERED_BY:
            powered, why = powered_by, "snmp.devices[].powered_by"
        else:
            conf = next(
                (self.powered_by[n.upper()] for n in names if n.upper() in self.powered_by), None
            )
            if conf is not None:
                powered, why = conf, "snmp.network_powered_by"
            elif found is not None:
                powered, why = found.powered_by, f"the table ({found.kind})"
            else:
                powered, why = "mains", "default for a device of unknown model"
        return Match(model, found.model if found else None, how, watts, basis, powered, why, source)


def override_plan(network_models: dict[str, str], powered_by: dict[str, str]) -> list[str]:
    """`check-config`: each configured network model, the shipped entry it replaces (or
    that none does: it applies to devices whose entPhysicalModelName is that name)."""
    table = {m.model.upper(): m for m in load_table()}
    by_entity = {e.upper(): m for m in table.values() for e in m.entity_model}
    lines = []
    for name in sorted({*network_models, *powered_by}):
        entry = table.get(name.upper()) or by_entity.get(name.upper())
        if entry is None:
            was = "no shipped entry: applies to devices whose entPhysicalModelName is it"
        else:
            fig = (
                f"{entry.typical_w:g} W typical"
                if entry.typical_w is not None
                else f"{entry.max_w:g} W max"
                if entry.max_w is not None
                else "no figure"
            )
            was = f"replaces shipped entry {entry.model} ({fig}, {entry.kind}, {entry.powered_by})"
        what = []
        if name in network_models:
            what.append(f"{float(network_models[name]):g} W + PoE (basis config)")
        if name in powered_by:
            what.append(f"powered by {powered_by[name]}")
        lines.append(f"snmp network model {name}: {', '.join(what)}; {was}")
    return lines
