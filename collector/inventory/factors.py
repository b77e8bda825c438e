"""Manufacturing footprint and expected lifetime per kind, each with its source.

Kinds that agents report (desktop, laptop, thin client, workstation, server) take the power
profiles' figures (collector/model/power-profiles.yaml: ADEME Base Empreinte / NegaOctet via
Boavizta), so the report's defaults are one truth whether an inventory is configured or not.
Screens, network gear and peripherals run no agent; their defaults are below:

- monitor: 324 kgCO2e, the median manufacturing footprint (gwp_total × gwp_manufacturing_ratio)
  of the 94 monitors of 21 to 24.5 inches in Boavizta's environmental-footprint-data
  (boavizta-data-us.csv, commit 61323eb of 2023-02-23: manufacturers' product carbon
  footprints), over 6 years, the dataset's median monitor lifetime. Replace it with the
  Base Empreinte item or the PCF of the city's models (`inventory.models`, `inventory.defaults`).
- network: an access switch (24–48 ports); lifetime 8 years, as network gear is usually
  written off; footprint an order of magnitude (NegaOctet/ADEME give per-port figures of a
  few kg): replace with the model's PCF where the maker publishes one.
- peripheral, other: no default footprint (0): the register must give one.

The source string travels with every figure into the report and its open data.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.inventory.settings import ASSET_KINDS, InventoryConfig
from collector.model.profiles import ProfileBook

PROFILE_SOURCE = (
    "collector/model/power-profiles.yaml (ADEME Base Empreinte / NegaOctet via Boavizta)"
)
SHIPPED: dict[str, tuple[float, float, str]] = {
    "monitor": (
        324.0,
        6.0,
        "Boavizta environmental-footprint-data (boavizta-data-us.csv, 2023-02-23): median "
        "manufacturing footprint of 94 monitors of 21-24.5 inches (manufacturers' PCFs), "
        "median lifetime",
    ),
    "network": (
        300.0,
        8.0,
        "order of magnitude for an access switch (NegaOctet/ADEME per-port figures); "
        "replace with the model's PCF",
    ),
    "peripheral": (0.0, 5.0, "no default: give the model's footprint"),
    "other": (0.0, 5.0, "no default: give the model's footprint"),
}


@dataclass(frozen=True)
class Factor:
    kgco2e: float
    lifetime_years: float
    source: str


def kind_factors(cfg: InventoryConfig, book: ProfileBook) -> dict[str, Factor]:
    out: dict[str, Factor] = {}
    for kind in ASSET_KINDS:
        if kind in SHIPPED:
            kg, life, src = SHIPPED[kind]
            out[kind] = Factor(kg, life, src)
        else:
            p = book.profile_for(kind, None, {})
            out[kind] = Factor(p.embodied_kgco2e, p.lifetime_years, PROFILE_SOURCE)
    for d in cfg.defaults:
        out[d.kind] = Factor(d.kgco2e, d.lifetime_years, d.source or "inventory.defaults")
    return out


def model_factors(cfg: InventoryConfig) -> dict[str, float]:
    return {k.strip().lower(): float(v) for k, v in cfg.models.items()}
