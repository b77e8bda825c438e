"""Energy of a datacenter's meters over a period, by role, and the PUE built from energies.

Every meter source writes the same table, `meter_hours(meter, hour_start, wh, covered_s)`,
with the meter's role and datacenter in `meters`: LoRaWAN meters today; SNMP PDUs and UPSes
and manual CSV readings (monthly utility bills) plug in by writing there too. PUE per
ISO/IEC 30134-2 = facility energy / IT energy over the same period, with the coverage of each
side (share of the period the readings cover) stated beside it; the measurement category of
the IT side (1 UPS output, 2 PDU output, 3 IT input) is the caller's to state.

The rule (docs/snmp-profiles.md, "PUE and partial PUE"): the standard's ratio is of the two
energies *of the same period*, so a PUE is given only when each side's readings cover at least
`coverage_min` of the period (`compliance.coverage_min`, 90 % by default); else `value` is
None and `missing` says why (`no_it`, `no_site`, `it_coverage`, `site_coverage`). A site bill
for a month over a UPS read for one day of it is not a PUE. IT energy is taken at one
measurement point (`choose_category`); where that category's meters fall short of
`coverage_min` and IT readings without a category (bills) cover more of the period, those
are taken instead, never added to them (`fallback`, the category then not stated).
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.ledger import Ledger


@dataclass(frozen=True)
class RoleEnergy:
    wh: float
    covered_s: float
    meters: int
    span_s: float

    @property
    def coverage(self) -> float:
        """Mean share of the period covered per meter (1.0: every meter read all along)."""
        if self.meters == 0 or self.span_s <= 0:
            return 0.0
        return min(self.covered_s / (self.meters * self.span_s), 1.0)


def role_energy(
    ledger: Ledger,
    datacenter: str,
    roles: tuple[str, ...],
    start: float,
    end: float,
    room: str | None = None,
    category: int | None = None,
    without_category: bool = False,
) -> RoleEnergy:
    """Energy of the datacenter's meters of `roles` (and `room`; and ISO/IEC 30134-2
    `category`: meters measuring IT energy at one point only, never UPS output and PDUs
    that measure the same load twice; or, `without_category`, the meters of none: bills)."""
    marks = ",".join("?" * len(roles))
    where = f"m.datacenter = ? AND m.role IN ({marks})"
    args: tuple[object, ...] = (datacenter, *roles)
    if room is not None:
        where += " AND m.room = ?"
        args += (room,)
    if category is not None:
        where += " AND m.category = ?"
        args += (category,)
    elif without_category:
        where += " AND m.category IS NULL"
    row = ledger.execute(
        "SELECT COALESCE(SUM(h.wh), 0), COALESCE(SUM(h.covered_s), 0) FROM meter_hours h "
        f"JOIN meters m ON m.meter = h.meter WHERE {where} "
        "AND h.hour_start >= ? AND h.hour_start < ?",
        (*args, start, end),
    )[0]
    # outlets of these roles' devices that feed something else (an in-row cooler on an IT
    # PDU): counted under their own role, so taken out of the device's total here
    carved_where = f"m.datacenter = ? AND m.part_of IN ({marks}) AND m.role NOT IN ({marks})"
    carved_args: tuple[object, ...] = (datacenter, *roles, *roles)
    if room is not None:
        carved_where += " AND m.room = ?"
        carved_args += (room,)
    if category is not None:  # carved outlets carry the category of the total they leave
        carved_where += " AND m.category = ?"
        carved_args += (category,)
    elif without_category:
        carved_where += " AND m.category IS NULL"
    (carved,) = ledger.execute(
        "SELECT COALESCE(SUM(h.wh), 0) FROM meter_hours h JOIN meters m ON m.meter = h.meter "
        f"WHERE {carved_where} AND h.hour_start >= ? AND h.hour_start < ?",
        (*carved_args, start, end),
    )[0]
    # meters read as it happens that had started reading by the period's end: one installed
    # later does not lower the coverage of a period before it (one that stopped still does);
    # a bill (CSV readings) counts for the periods it has readings in: next month's bill not
    # come yet is no silent meter
    (n,) = ledger.execute(
        f"SELECT COUNT(*) FROM meters m WHERE {where} AND EXISTS (SELECT 1 FROM meter_hours "
        "h WHERE h.meter = m.meter AND h.hour_start < ? "
        "AND (m.profile <> 'csv' OR h.hour_start >= ?))",
        (*args, end, start),
    )[0]
    return RoleEnergy(max(float(row[0]) - float(carved), 0.0), float(row[1]), int(n), end - start)


@dataclass(frozen=True)
class Pue:
    value: float | None
    facility: RoleEnergy
    it: RoleEnergy
    category: int | None = None  # ISO/IEC 30134-2 category of the IT energy used
    categories: tuple[int, ...] = ()  # every category the datacenter's IT meters measure
    missing: str | None = None  # why no value: no_it, no_site, it_coverage, site_coverage
    fallback: bool = False  # IT from readings without a category (the chosen one fell short)
    coverage_min: float = 0.0  # the share of the period each side had to cover


MISSING = ("no_it", "no_site", "it_coverage", "site_coverage")


def it_categories(ledger: Ledger, datacenter: str, room: str | None = None) -> tuple[int, ...]:
    where, args = "datacenter = ? AND role = 'it' AND category IS NOT NULL", [datacenter]
    if room is not None:
        where += " AND room = ?"
        args.append(room)
    found = ledger.execute(f"SELECT DISTINCT category FROM meters WHERE {where}", tuple(args))
    return tuple(sorted(int(c) for (c,) in found))


def choose_category(available: tuple[int, ...], wanted: int | None) -> int | None:
    """IT energy is taken at one measurement point. By default the lowest category present
    (1, the UPS output, covers the whole IT load; PDUs or server inputs are often metered
    on some racks only); `wanted` asks for another one (it must be present)."""
    if wanted is not None:
        if wanted not in available:
            raise ValueError(
                f"no IT meter of category {wanted} here (categories: "
                + (", ".join(map(str, available)) or "none")
                + ")"
            )
        return wanted
    return available[0] if available else None


def _it_side(
    ledger: Ledger,
    datacenter: str,
    start: float,
    end: float,
    room: str | None,
    category: int | None,
    coverage_min: float,
) -> tuple[RoleEnergy, int | None, tuple[int, ...], bool]:
    """(IT energy, its category, the categories present, fallback): the chosen category's
    meters; by default, where they cover less than `coverage_min` of the period and IT
    readings without a category cover more of it, those instead (one or the other, never
    both: they may measure the same load)."""
    available = it_categories(ledger, datacenter, room)
    chosen = choose_category(available, category)
    it = role_energy(ledger, datacenter, ("it",), start, end, room, chosen)
    if category is None and chosen is not None and it.coverage < coverage_min - 1e-9:
        bare = role_energy(ledger, datacenter, ("it",), start, end, room, without_category=True)
        if bare.wh > 0 and bare.coverage > it.coverage:
            return bare, None, available, True
    return it, chosen, available, False


def _pue(
    total: RoleEnergy,
    it: RoleEnergy,
    side: tuple[int | None, tuple[int, ...], bool],
    coverage_min: float,
) -> Pue:
    category, available, fallback = side
    missing = None
    if it.wh <= 0:
        missing = "no_it"
    elif total.wh <= 0:
        missing = "no_site"
    elif it.coverage < coverage_min - 1e-9:
        missing = "it_coverage"
    elif total.coverage < coverage_min - 1e-9:
        missing = "site_coverage"
    value = None if missing else total.wh / it.wh
    return Pue(value, total, it, category, available, missing, fallback, coverage_min)


def pue(
    ledger: Ledger,
    datacenter: str,
    start: float,
    end: float,
    category: int | None = None,
    *,
    coverage_min: float,
) -> Pue:
    """Facility meters (`facility`: the site's utility meter) over IT meters (`it`) of one
    measurement category (see choose_category and _it_side), given when both sides cover at
    least `coverage_min` of the period."""
    it, chosen, available, fallback = _it_side(
        ledger, datacenter, start, end, None, category, coverage_min
    )
    facility = role_energy(ledger, datacenter, ("facility",), start, end)
    return _pue(facility, it, (chosen, available, fallback), coverage_min)


ZONE_INFRASTRUCTURE = ("cooling", "lighting")


def partial_pue(
    ledger: Ledger,
    datacenter: str,
    room: str,
    start: float,
    end: float,
    category: int | None = None,
    *,
    coverage_min: float,
) -> Pue:
    """Partial PUE of a zone (a room): (its IT + its cooling and lighting energy) over its IT
    energy, from the meters configured with that room. Site meters (`facility`) stay out, so
    nothing is counted twice; energy reaching the zone from shared plant (a site chiller
    without a meter of its own in the room) is not in it: a pPUE is never the datacenter's PUE.
    """
    it, chosen, available, fallback = _it_side(
        ledger, datacenter, start, end, room, category, coverage_min
    )
    infra = role_energy(ledger, datacenter, ZONE_INFRASTRUCTURE, start, end, room)
    # the zone's total: IT and infrastructure meters together, coverage their mean
    supply = RoleEnergy(
        it.wh + infra.wh, it.covered_s + infra.covered_s, it.meters + infra.meters, end - start
    )
    return _pue(supply, it, (chosen, available, fallback), coverage_min)
