"""What the SNMP room shows on /metrics: devices' answers and readings (`energy_snmp_*`) and
the datacenters' live figures (`energy_dc_*`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SnmpMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.up = Gauge(
            "energy_snmp_up", "1 when the device answered the last poll.", ["device"], registry=r
        )
        self.errors = Counter(
            "energy_snmp_poll_errors", "Failed polls by reason.", ["device", "reason"], registry=r
        )
        self.profile = Gauge(
            "energy_snmp_profile",
            "1 for the profile each device was given (forced, by sysObjectID or by probing).",
            ["device", "profile"],
            registry=r,
        )
        self.rows = Gauge(
            "energy_snmp_rows",
            "Table rows the device's profile found at its last poll (0: the profile does not "
            "fit the device).",
            ["device"],
            registry=r,
        )
        self.register_events = Counter(
            "energy_snmp_register_events",
            "Energy register readings that were not a plain step: suspect (lower, waiting for "
            "the next), glitch, wrap, reset (restarted from zero), rebase (restarted at a "
            "lower stored value), gap, stale.",
            ["device", "event"],
            registry=r,
        )
        self.duration = Gauge(
            "energy_snmp_poll_duration_seconds",
            "Duration of the device's last poll.",
            ["device"],
            registry=r,
        )
        self.power = Gauge(
            "energy_snmp_power_watts",
            "Power read from the device.",
            ["device", "table", "index", "label", "role", "datacenter"],
            registry=r,
        )
        self.energy = Counter(
            "energy_snmp_energy_wh",
            "Energy accounted from the device (registers; integrated power where `estimated`). "
            "`category`: the ISO/IEC 30134-2 measurement point of IT energy (1 UPS output, "
            "2 PDU output, 3 IT input; empty for other roles).",
            ["device", "table", "role", "datacenter", "estimated", "category"],
            registry=r,
        )
        self.pue_category = Gauge(
            "energy_dc_pue_category",
            "1 for the IT measurement category a datacenter's PUE uses (the lowest present, "
            "as the PUE API): multiply IT energy by it so a UPS output and the PDUs below it "
            "are never added.",
            ["datacenter", "category"],
            registry=r,
        )
        self.co2e = Counter(
            "energy_snmp_co2e_grams",
            "Usage CO2e of the energy accounted from the device (grid factor of each hour; "
            "`basis` names it).",
            ["device", "table", "role", "datacenter", "basis"],
            registry=r,
        )
        self.status = Gauge(
            "energy_snmp_status",
            "A device reading that is neither power nor energy (profile `status`: UPS load %, "
            "battery charge %, minutes remaining…), by reading and row index (0: a scalar).",
            ["device", "reading", "index"],
            registry=r,
        )
        self.state = Gauge(
            "energy_snmp_state",
            "1 for the current state of an enumerated status reading (UPS output source "
            "normal, battery, bypass…), 0 for the others.",
            ["device", "reading", "index", "state"],
            registry=r,
        )
        self.if_up = Gauge(
            "energy_snmp_if_up",
            "1 when the interface's ifOperStatus is up.",
            ["device", "interface"],
            registry=r,
        )
        self.if_speed = Gauge(
            "energy_snmp_if_speed_bps",
            "Interface speed (ifHighSpeed, else ifSpeed), bits per second.",
            ["device", "interface"],
            registry=r,
        )
        self.if_octets = Counter(
            "energy_snmp_if_octets",
            "Octets through the interface (HC counters where the device has them), counted "
            "across device restarts and counter discontinuities without negative steps.",
            ["device", "interface", "direction"],
            registry=r,
        )
        self.if_segments = Counter(
            "energy_snmp_if_counter_discontinuities",
            "Times an interface counter started a new segment (reboot, "
            "ifCounterDiscontinuityTime change, reset, implausible step).",
            ["device"],
            registry=r,
        )
        self.unmatched = Gauge(
            "energy_snmp_outlet_mappings_unmatched",
            "Entries of the device's `outlets` mapping that match no row (typo, renamed outlet).",
            ["device"],
            registry=r,
        )
        self.rack_power = Gauge(
            "energy_dc_rack_power_watts",
            "IT power of a rack now (its devices' totals, breakdown rows excluded).",
            ["datacenter", "room", "rack"],
            registry=r,
        )
        self.pue_today = Gauge(
            "energy_dc_pue_today",
            "PUE of the local day so far, from the ledger's energies (facility / IT), absent "
            "when a side covers less than compliance.coverage_min of it; `it_category` is the "
            "ISO/IEC 30134-2 category of the IT meters (unknown: readings without one).",
            ["datacenter", "it_category"],
            registry=r,
        )
        self.coverage = Gauge(
            "energy_dc_coverage_ratio",
            "Share of the local day so far with valid readings, per datacenter and role "
            "(mean over the role's meters).",
            ["datacenter", "role"],
            registry=r,
        )
        self.cycle = Gauge(
            "energy_snmp_cycle_seconds", "Duration of the last full cycle.", registry=r
        )
        self.dc_power = Gauge(
            "energy_dc_power_watts",
            "Power of a datacenter's devices now, by role (breakdown rows excluded; `it` at "
            "the lowest measurement category present, as the PUE).",
            ["datacenter", "role"],
            registry=r,
        )
        self.it_power = Gauge(
            "energy_dc_it_power_watts",
            "IT power now per ISO/IEC 30134-2 measurement category (1 UPS output, 2 PDU "
            "output, 3 IT input): the same load seen at several points, never to be summed.",
            ["datacenter", "category"],
            registry=r,
        )
        self.dc_ratio = Gauge(
            "energy_dc_power_ratio",
            "Facility power / IT power right now: "
            "an instantaneous indicator, not the PUE of a period (that one "
            "comes from energies).",
            ["datacenter"],
            registry=r,
        )
