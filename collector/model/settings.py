"""Settings of the energy model (power profiles, hypervisors and their VMs) and of the carbon
intensity."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt


@dataclass
class HypervisorConfig:
    name: str = opt("", "Physical host name as VMs map to it.")
    cpus: int = opt(1, "Logical CPUs of the physical host.", minimum=1)
    idle_w: float = opt(150.0, "Idle power of the host (W).", minimum=0)
    max_w: float = opt(400.0, "Power at full CPU (W).", minimum=0)


@dataclass
class ModelConfig:
    profiles_file: str | None = opt(
        None,
        "Power profiles YAML (default: collector/model/power-profiles.yaml shipped with the code).",
    )
    vm_hosts: dict[str, str] = opt({}, "VM hostname → physical host name (a hypervisor below).")
    hypervisors: list[HypervisorConfig] = opt([], "Physical hosts VMs are attributed from.")


@dataclass
class CarbonConfig:
    static_kg_per_kwh: float = opt(
        0.052, "Grid factor (kgCO2e/kWh) when no hourly value applies.", minimum=0, maximum=2
    )
    static_basis: str = opt(
        "ademe-base-empreinte-v23:electricite-mix-moyen-consommation",
        "Label stored beside every figure that used the static factor.",
    )
    hourly_file: str | None = opt(
        None,
        "RTE éCO2mix export (`taux_co2`); reloaded when "
        "it changes. Scope: direct emissions of French production.",
    )
