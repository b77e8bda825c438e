"""Network devices without a power sensor, modelled: a switch or access point whose profile
found no PSU power (ENTITY-SENSOR / CISCO-ENTITY-SENSOR) gets one `modelled` row: the
model's typical power without PoE (the shipped table network-models.yaml, or
`snmp.network_models` per model) plus the PoE it delivers (POWER-ETHERNET-MIB, already read
as the `poe` rows). Its energy is integrated from that power and stored as estimated; the
meter is `<device>:modelled:0`, its label the model and basis. A model whose typical power
is unknown still counts its PoE (`basis="poe_only"`, a lower bound) and says so: the network
line is never silently zero.
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


@dataclass(frozen=True)
class Model:
    model: str
    sysobjectid: tuple[str, ...]
    entity_model: tuple[str, ...]
    typical_w: float | None
    source: str


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
        w = m.get("typical_w")
        if w is not None and (not isinstance(w, int | float) or w <= 0):
            raise ConfigError(f"{where}.typical_w: expected watts above 0 or nothing")
        if w is not None and not m.get("source"):
            raise ConfigError(f"{where}.source: a typical power needs its datasheet")
        match = m.get("match") or {}
        out.append(
            Model(
                str(m["model"]),
                tuple(str(x).strip(".") for x in match.get("sysobjectid") or []),
                tuple(str(x) for x in match.get("entity_model") or []),
                float(w) if w is not None else None,
                str(m.get("source") or ""),
            )
        )
    return out


def identify(table: list[Model], sysobjectid: str | None, entity_models: list[str]) -> Model | None:
    """The entPhysicalModelName match first (it names the variant), else the sysObjectID."""
    names = {n.strip().upper() for n in entity_models if n and n.strip()}
    for m in table:
        if any(e.upper() in names for e in m.entity_model):
            return m
    oid = (sysobjectid or "").strip(".")
    for m in table:
        if any(oid == p or oid.startswith(p + ".") for p in m.sysobjectid):
            return m
    return None


def modelled_row(
    rows: list[Row], model: str | None, typical_w: float | None, basis: str
) -> Row | None:
    """The modelled row, or None when the device is measured (a PSU row with power)."""
    if any(r.table in SENSOR_TABLES and r.power_w is not None for r in rows):
        return None
    poe = sum(r.power_w or 0.0 for r in rows if r.table == "poe")
    watts = (typical_w or 0.0) + poe
    label = f"{model or 'unknown model'} ({basis})"
    return Row("modelled", "0", label, watts, None) if watts > 0 or typical_w else None


class NetworkModels:
    """Per device: which model, its typical power and basis; the gauge saying so."""

    def __init__(
        self, overrides: dict[str, str], registry: CollectorRegistry, table: list[Model] | None
    ) -> None:
        self.table = load_table() if table is None else table
        self.overrides = {k.upper(): float(v) for k, v in overrides.items()}
        self.models: dict[str, tuple[str | None, float | None, str]] = {}
        self.gauge = Gauge(
            "energy_snmp_network_modelled_watts",
            "Power of a network device without a power sensor, modelled: the model's typical "
            "power (basis `table` or `config`) plus the PoE it delivers; `poe_only` when the "
            "model's typical power is unknown (a lower bound).",
            ["device", "model", "basis"],
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
    ) -> list[Row]:
        """[the modelled row] for a network device without a PSU sensor, else []."""
        if not profile.modelled or any(
            r.table in SENSOR_TABLES and r.power_w is not None for r in rows
        ):
            return []
        if device not in self.models:
            names = await client.walk(tgt, ENT_MODEL_NAME)
            self.models[device] = self.typical(
                sysinfo.get("1.3.6.1.2.1.1.2.0"), [str(v) for v in names.values()]
            )
            model, watts, basis = self.models[device]
            if basis == "poe_only":
                log.warning(
                    "snmp: %s: no power sensor and no typical power for model %s: counting "
                    "the PoE it delivers only (set snmp.network_models)",
                    device,
                    model or "(unknown)",
                )
            else:
                log.info("snmp: %s: modelled as %s, %.1f W + PoE (%s)", device, model, watts, basis)
        model, watts, basis = self.models[device]
        row = modelled_row(rows, model, watts, basis)
        # said on /metrics even at 0 W (no model, no PoE drawn): never a silent zero
        self.gauge.labels(device, model or "", basis).set(row.power_w or 0 if row else 0)
        return [row] if row is not None else []

    def typical(
        self, sysobjectid: Any, entity_models: list[str]
    ) -> tuple[str | None, float | None, str]:
        """(model, typical W or None, basis): the configuration first, then the table."""
        for name in entity_models:
            if name.strip().upper() in self.overrides:
                return name.strip(), self.overrides[name.strip().upper()], "config"
        found = identify(
            self.table, sysobjectid if isinstance(sysobjectid, str) else None, entity_models
        )
        if found is not None and found.model.upper() in self.overrides:
            return found.model, self.overrides[found.model.upper()], "config"
        if found is not None and found.typical_w is not None:
            return found.model, found.typical_w, "table"
        named = [n.strip() for n in entity_models if n.strip()]
        unknown: str | None = found.model if found else (named[0] if named else None)
        return unknown, None, "poe_only"
