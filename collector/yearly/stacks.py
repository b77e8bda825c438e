"""The year's energy split by what it comes from, month by month, for the stacked chart:
PCs, virtual machines and servers (when their agents' figures are in the total), the
datacenters' IT and overhead, the network outside them, LoRaWAN. The parts add up to each
month's total of the figures document (a test checks it): the chart draws the total."""

from __future__ import annotations

from typing import Any

ENDPOINTS = ("desktop", "laptop", "thin_client", "workstation")
AGENTS_IN_DATACENTERS = ("vm", "server")


def monthly_parts(doc: dict[str, Any], lorawan_in_total: bool = True) -> list[dict[str, Any]]:
    """[{"key": "pcs", "values": [kWh per month], "total": kWh}, …], parts with no energy
    left out."""
    months = doc["energy"]["by_month"]
    in_total = {r["kind"]: r["in_total"] for r in doc["energy"]["by_kind"]}

    def part(kinds: tuple[str, ...]) -> list[float]:
        return [sum(r.get(k) or 0.0 for k in kinds if in_total.get(k)) for r in months]

    parts = [
        ("pcs", part(ENDPOINTS)),
        ("vms", part(AGENTS_IN_DATACENTERS)),
        ("datacenter_it", [r.get("datacenter_it") or 0.0 for r in months]),
        ("datacenter_overhead", [r.get("datacenter_overhead") or 0.0 for r in months]),
        ("network", [r.get("network") or 0.0 for r in months]),
    ]
    if lorawan_in_total:
        parts.append(("lorawan", [r.get("lorawan") or 0.0 for r in months]))
    return [
        {"key": k, "values": [round(v, 3) for v in vs], "total": round(sum(vs), 3)}
        for k, vs in parts
        if any(vs)
    ]
