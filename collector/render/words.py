"""Words the templates look up by a key of the figures (a kind of device, an objective's
indicator): English message ids marked for extraction, translated by the catalogs."""

from __future__ import annotations

from collections.abc import Callable


def N_(message: str) -> str:  # gettext's marker, known to the extractor
    return message


KIND = {
    "desktop": N_("desktop PCs"),
    "laptop": N_("laptops"),
    "thin_client": N_("thin clients"),
    "workstation": N_("workstations"),
    "vm": N_("virtual machines"),
    "server": N_("servers"),
    "datacenter_it": N_("datacenters: IT"),
    "datacenter_facility": N_("datacenters: whole site"),
    "datacenter_overhead": N_("datacenters: non-IT"),
    "network": N_("network (outside datacenters)"),
    "lorawan": N_("LoRaWAN network"),
    "monitor": N_("screens"),
    "network_gear": N_("network gear"),
    "peripheral": N_("peripherals"),
    "other": N_("other equipment"),
}

ORIGIN = {
    "pcs": N_("PCs"),
    "vms": N_("virtual machines and servers"),
    "datacenter_it": N_("datacenters: IT"),
    "datacenter_overhead": N_("datacenters: cooling and power"),
    "network": N_("network"),
    "lorawan": N_("LoRaWAN network"),
}

# what a site's energy is counted from (the report's "by site", figures' `counted_from`)
COUNTED_FROM = {
    "agents": N_("machines with an agent"),
    "datacenter_measured": N_("datacenter meters"),
    "datacenter_billed": N_("datacenter energy bills"),
    "datacenter_modelled": N_("datacenter equipment, modelled"),
    "network_measured": N_("network meters"),
    "network_billed": N_("network energy bills"),
    "network_modelled": N_("network gear, modelled from its model"),
}

INDICATOR = {
    "total_kwh": N_("Total energy (kWh)"),
    "endpoint_kwh": N_("Workstation energy (kWh)"),
    "usage_kgco2e": N_("Usage emissions (kg CO₂e)"),
    "embodied_kgco2e": N_("Amortised manufacturing emissions (kg CO₂e)"),
    "wasted_kwh": N_("Energy wasted off-hours (kWh)"),
    "compliance_rate": N_("Off-hours sleep rate"),
    "pue": N_("PUE"),
    "measured_share": N_("Share of energy measured"),
}

# what a sleep blocker holds, as the agents report it: Windows `powercfg /requests` section and
# requester kind ("display:process"), or systemd-inhibit's WHAT list ("sleep:idle")
BLOCKER = {
    "display": N_("keeps the screen on"),
    "system": N_("keeps the computer awake"),
    "execution": N_("keeps a program running"),
    "process": N_("by a program"),
    "service": N_("by a service"),
    "driver": N_("by a driver"),
    "sleep": N_("prevents sleep"),
    "idle": N_("prevents idle sleep"),
    "shutdown": N_("prevents shutdown"),
    "handle-lid-switch": N_("handles the lid switch"),
}
WINDOWS_ITSELF = N_("by Windows itself")


def blocker(what: str, gettext: Callable[[str], str]) -> str:
    """'display:process' → 'keeps the screen on, by a program' in the reader's language;
    a word no agent documented is kept as it came."""
    parts = []
    for i, token in enumerate(what.split(":")):
        word = WINDOWS_ITSELF if token == "system" and i > 0 else BLOCKER.get(token)
        parts.append(gettext(word) if word else token)
    return ", ".join(parts)
