"""What the yearly total is made of: its kWh by basis (measured, modelled, attributed, billed)
and by carbon factor, and the meters' energy by site, so that every breakdown of the report
adds up to the total or says what it leaves out.

The total counts (collector/yearly/figures.py): the agents of counted kinds (workstations
always; servers and VMs only when no datacenter has IT meters), each month the datacenters'
site meters (else their IT meters), network meters outside any datacenter, and LoRaWAN
gateways (when `yearly.lorawan_in_total`). Bases:
- *measured*: agents' own readings (battery, RAPL, EMI) and meters read as it happens (SNMP,
  LoRaWAN);
- *modelled*: agents' power profiles, LoRaWAN gateways' configured power while online, network
  gear without a power sensor (its model's power plus the PoE it delivers: SNMP meters of
  field `modelled`, collector/sources/snmp/network_models.py);
- *attributed*: VMs' share of their host's power;
- *billed*: imported readings (bills), a period's energy spread evenly over its hours.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from collector.ledger import Ledger
from collector.model.carbon import CarbonModel

BASES = ("measured", "modelled", "attributed", "billed")

# (datacenter or '', role, month, site, origin, carbon basis) → [Wh, kgCO2e]; origin: measured,
# modelled or billed (a basis of BASES)
MeterParts = dict[tuple[str, str, str, str, str, str], list[float]]
# the SQL giving a meter's origin (meters m): bills imported from CSV, modelled network gear
ORIGIN_SQL = (
    "CASE WHEN m.profile = 'csv' THEN 'billed' "
    "WHEN m.field = 'modelled' THEN 'modelled' ELSE 'measured' END"
)


def meter_parts(
    ledger: Ledger, start: float, until: float, tz: str, carbon: CarbonModel
) -> MeterParts:
    """Every meter hour of [start, until) that a total can count, split as above."""
    z = ZoneInfo(tz)
    out: MeterParts = defaultdict(lambda: [0.0, 0.0])
    for dc, role, site, origin, hour, wh in ledger.execute(
        "SELECT COALESCE(m.datacenter, ''), m.role, COALESCE(m.site, ''), "
        f"{ORIGIN_SQL}, h.hour_start, h.wh FROM meter_hours h "
        "JOIN meters m ON m.meter = h.meter WHERE h.hour_start >= ? AND h.hour_start < ? "
        "AND m.role IN ('facility', 'it', 'network')",
        (start, until),
    ):
        month = datetime.fromtimestamp(hour, z).strftime("%Y-%m")
        kg, cbasis = carbon.kg(wh / 1000.0, hour, hour + 3600)
        cell = out[(dc, role, month, site or dc, str(origin), cbasis)]
        cell[0] += wh
        cell[1] += kg
    return out


def counted_meters(parts: MeterParts) -> MeterParts:
    """The meter parts the total counts: per month, the datacenters' site meters if any read
    that month, else their IT meters; network meters outside any datacenter."""
    months_with_site = {m for (dc, role, m, *_), _v in parts.items() if dc and role == "facility"}
    out: MeterParts = {}
    for key, v in parts.items():
        dc, role, month = key[0], key[1], key[2]
        site_side = dc and role == "facility"
        it_side = dc and role == "it" and month not in months_with_site
        outside = not dc and role == "network"
        if site_side or it_side or outside:
            out[key] = v
    return out


def split(
    agents: dict[str, float],
    meters: MeterParts,
    lorawan_kwh: float,
) -> dict[str, Any]:
    """The total's kWh by basis and their shares. `agents`: counted agents' kWh by
    measured / modelled / attributed; `meters`: the counted meter parts."""
    kwh = {b: agents.get(b, 0.0) for b in BASES}
    for (_, _, _, _, origin, _), (wh, _) in meters.items():
        kwh[origin] += wh / 1000.0
    kwh["modelled"] += lorawan_kwh
    total = sum(kwh.values())
    return {
        "kwh": {b: round(v, 3) for b, v in kwh.items()},
        "shares": {b: (round(v / total, 4) if total else None) for b, v in kwh.items()},
    }


def by_carbon_basis(
    agents: dict[str, float], meters: MeterParts, lorawan: tuple[float, str]
) -> list[dict[str, Any]]:
    """kWh of the total by the carbon factor that turned it into CO2e (adds up to the total)."""
    acc: dict[str, float] = defaultdict(float)
    for b, kwh in agents.items():
        acc[b] += kwh
    for (_, _, _, _, _, cbasis), (wh, _) in meters.items():
        acc[cbasis] += wh / 1000.0
    if lorawan[0]:
        acc[lorawan[1]] += lorawan[0]
    return [{"basis": b, "kwh": round(v, 3)} for b, v in sorted(acc.items())]


def by_site(meters: MeterParts) -> dict[str, list[float]]:
    """The counted meters' kWh and kgCO2e by the meters' site (a datacenter without a site is
    its own)."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (_, _, _, site, _, _), (wh, kg) in meters.items():
        out[site][0] += wh / 1000.0
        out[site][1] += kg
    return dict(out)


def by_site_origin(meters: MeterParts) -> dict[tuple[str, str, str], list[float]]:
    """The counted meters' kWh and kgCO2e by (site, origin: `datacenter` or `network`,
    basis: measured, modelled or billed), for the open data's rows beside the agents'."""
    out: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (dc, _, _, site, how, _), (wh, kg) in meters.items():
        cell = out[(site, "datacenter" if dc else "network", how)]
        cell[0] += wh / 1000.0
        cell[1] += kg
    return dict(out)


def network_line(ledger: Ledger, start: float, until: float) -> dict[str, Any] | None:
    """The network outside any datacenter, with its basis: the kWh of [start, until) measured
    (a power sensor) and modelled (collector/sources/snmp/network_models.py); `lower_bound`
    when some modelled gear had no power figure (basis `poe_only`: its delivered PoE only);
    the PoE-fed gear's modelled kWh, shown but not counted (inside its switches' PoE). None
    when no network meter outside a datacenter had read by `until` (a year before the gear was
    polled); 0 kWh is said, never left out."""
    meters = ledger.execute(
        "SELECT m.meter, m.role, m.host, m.field FROM meters m "
        "WHERE m.datacenter IS NULL AND (m.role = 'network' OR substr(m.role, 1, 8) = 'network:') "
        "AND EXISTS (SELECT 1 FROM meter_hours h WHERE h.meter = m.meter AND h.hour_start < ?)",
        (until,),
    )
    if not meters:
        return None
    kwh = {"measured": 0.0, "modelled": 0.0, "billed": 0.0}
    poe_fed = 0.0
    for role, origin, wh in ledger.execute(
        f"SELECT m.role, {ORIGIN_SQL}, SUM(h.wh) FROM meter_hours h "
        "JOIN meters m ON m.meter = h.meter WHERE h.hour_start >= ? AND h.hour_start < ? "
        "AND m.datacenter IS NULL AND (m.role = 'network' OR substr(m.role, 1, 8) = 'network:') "
        "GROUP BY m.role, 2",
        (start, until),
    ):
        if role == "network":
            kwh[str(origin)] += (wh or 0.0) / 1000.0
        elif role.endswith(":poe_fed"):
            poe_fed += (wh or 0.0) / 1000.0
    counted = [r for r in meters if r[1] == "network"]
    poe_only = sorted(
        {str(r[0]).split(":")[0] for r in counted if str(r[2] or "").endswith("(poe_only)")}
    )
    return {
        # to the mWh: a few modelled devices over days are small beside the total
        "kwh_by_basis": {b: round(v, 6) for b, v in kwh.items()},
        "modelled_devices": len({str(r[0]).split(":")[0] for r in counted if r[3] == "modelled"}),
        # modelled gear without a power figure: its delivered PoE only, the line a lower bound
        "lower_bound": bool(poe_only),
        "poe_only_devices": len(poe_only),
        "poe_fed_kwh": round(poe_fed, 6),
        "poe_fed_devices": len(
            {str(r[0]).split(":")[0] for r in meters if str(r[1]).endswith(":poe_fed")}
        ),
    }
