"""Settings of the yearly REEN report: objectives, datacenters' yearly inputs, open data."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt


@dataclass
class DatacenterYearConfig:
    datacenter: str = opt("", "Datacenter name (as in snmp.devices[].datacenter).")
    year: int = opt(2026, "Reporting year.", minimum=2000)
    water_m3: float | None = opt(None, "Water used on site that year (m³), for WUE.", minimum=0)
    reused_energy_kwh: float | None = opt(
        None, "Energy reused outside the datacenter (kWh), for ERF.", minimum=0
    )
    renewable_energy_kwh: float | None = opt(
        None, "Renewable energy consumed (kWh), for REF.", minimum=0
    )


OBJECTIVE_INDICATORS = (
    "total_kwh",
    "endpoint_kwh",
    "usage_kgco2e",
    "embodied_kgco2e",
    "wasted_kwh",
    "compliance_rate",
    "pue",
    "measured_share",
)


NUMECOEVAL_TYPES = {
    "desktop": "Desktop",
    "laptop": "Laptop",
    "thin_client": "Thin client",
    "workstation": "Desktop",
    "server": "Server",
}


@dataclass
class ObjectiveConfig:
    indicator: str = opt(
        "total_kwh",
        "What is measured: total or workstation kWh, usage or embodied kgCO2e, off-hours "
        "wasted kWh, the compliance rate (0..1), a PUE, the share of energy measured (0..1).",
        choices=OBJECTIVE_INDICATORS,
    )
    label: str = opt("", "Wording of the objective in the report (default: the indicator).")
    baseline_year: int | None = opt(
        None, "Year the change is measured against (read from the ledger).", minimum=2000
    )
    baseline_value: float | None = opt(
        None,
        "The baseline figure itself, when the ledger does not hold that year (an audit "
        "before the collector ran); wins over the ledger.",
    )
    change: float | None = opt(
        None, "Target as a relative change against the baseline: -0.10 for −10 %."
    )
    target: float | None = opt(None, "Target as a value (a rate 0..1, a PUE); wins over `change`.")
    datacenter: str | None = opt(None, "For `pue`: one datacenter (default: all of them).")

    def validate(self) -> None:
        if self.target is None and self.change is None:
            raise ValueError("target: give `target` or `change`")
        if self.change is not None and self.baseline_year is None and self.baseline_value is None:
            raise ValueError("change: needs `baseline_year` or `baseline_value`")


@dataclass
class YearlyConfig:
    organisation: str = opt(
        "",
        "The city's name as it signs (the report's cover, the accessibility statement, the open "
        "data's title). Unset, the cover says the name is not given yet.",
    )
    language: str = opt(
        "fr", "Default language of the report and the web view.", choices=("fr", "en")
    )
    objectives: list[ObjectiveConfig] = opt([], "Objectives of the sobriety strategy.")
    recurring_offender_periods: int = opt(
        24,
        "Off-hours periods left on in a year that make a machine a recurring offender "
        "(counted; named in the internal edition only).",
        minimum=1,
    )
    min_group_hosts: int = opt(
        3,
        "Public edition and open data: sites and departments with fewer machines are "
        "merged into one 'others' group, so no figure describes one person's PC.",
        minimum=1,
    )
    lorawan_in_total: bool = opt(True, "Add the LoRaWAN gateways' energy to the total.")
    public_url: str = opt(
        "",
        "The address where the folder written by `energy-collector report --out` is published "
        "(https://…/reen/2026): the report's links to its open data and accessibility "
        "statement are made absolute with it, so they work in the PDF too.",
    )
    numecoeval_types: dict[str, str] = opt(
        dict(NUMECOEVAL_TYPES),
        "Device kind → NumEcoEval equipment `type` (align with your instance's referential "
        "ref_TypeEquipement).",
    )
