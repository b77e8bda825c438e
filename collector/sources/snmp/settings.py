"""Settings of the SNMP room: polling, devices (targets, credentials, roles, outlets)."""

from __future__ import annotations

from dataclasses import dataclass

from collector.sources.snmp.profiles import load_profiles
from energy_common.configspec import opt

OUTLET_ROLES = ("cooling", "lighting", "network", "building", "other")


@dataclass
class SnmpDeviceConfig:
    name: str = opt("", "Device name (meters are named `<name>:<table>:<index>`).")
    host: str = opt("", "Address.")
    port: int = opt(161, "UDP port.", minimum=1, maximum=65535)
    version: str = opt("2c", "SNMP version.", choices=("2c", "3"))
    community: str = opt("public", "v2c community (prefer community_file).", secret=True)
    community_file: str | None = opt(None, "File holding the v2c community.")
    user: str | None = opt(None, "v3 user (USM).")
    auth_protocol: str = opt(
        "SHA", "v3 authentication.", choices=("SHA", "SHA224", "SHA256", "SHA384", "SHA512", "MD5")
    )
    auth_key: str | None = opt(None, "v3 authentication key (prefer auth_key_file).", secret=True)
    auth_key_file: str | None = opt(None, "File holding the v3 authentication key.")
    priv_protocol: str = opt("AES", "v3 privacy.", choices=("AES", "AES192", "AES256", "DES"))
    priv_key: str | None = opt(None, "v3 privacy key (prefer priv_key_file).", secret=True)
    priv_key_file: str | None = opt(None, "File holding the v3 privacy key.")
    context: str = opt("", "v3 context name.")
    profile: str | None = opt(None, "Force a profile (default: by sysObjectID / sysDescr).")
    site: str = opt("", "Site.")
    datacenter: str | None = opt(None, "Datacenter.")
    room: str | None = opt(None, "Room.")
    rack: str | None = opt(None, "Rack.")
    role: str = opt(
        "it",
        "What its energy is.",
        choices=("it", "facility", "cooling", "lighting", "network", "building", "other"),
    )
    category: int = opt(
        2,
        "ISO/IEC 30134-2 IT measurement category (1 UPS output, 2 PDU "
        "output, 3 IT equipment input).",
        minimum=1,
        maximum=3,
    )
    outlets: dict[str, str] = opt(
        {},
        "Outlet → the physical server it feeds (a `model.hypervisors[].name`), so its VMs "
        "are attributed measured power. Keys: the outlet's label as the PDU names it, or "
        "`<table>:<index>` (`outlet:7`). A server on two PDUs is mapped on both.",
    )
    outlet_roles: dict[str, str] = opt(
        {},
        "Outlet → what it feeds when that is not the device's role (an in-row cooler or the "
        "lighting on an IT PDU): its energy is carved out of the device's total and counted "
        "under that role. Keys as in `outlets`; roles: " + ", ".join(OUTLET_ROLES) + ".",
    )
    interval_s: float | None = opt(
        None,
        "Poll period of this device (default: `snmp.interval_s`); the poller wakes at the "
        "shortest period configured.",
        minimum=1,
    )
    timeout_s: float = opt(2.0, "Per-request timeout.", minimum=0.1)
    retries: int = opt(1, "Retries per request.", minimum=0, maximum=10)
    max_repetitions: int = opt(
        25,
        "GETBULK max-repetitions ceiling (each table asks for the rows it had last poll + 1).",
        minimum=1,
        maximum=200,
    )
    stack: str = opt(
        "native",
        "v2c through the built-in codec (`native`) or through pysnmp (`pysnmp`), for a device "
        "the native one trips on; v3 always uses pysnmp.",
        choices=("native", "pysnmp"),
    )
    powered_by: str = opt(
        "auto",
        "How a network device is powered: `poe` when a switch's PoE feeds it (its power, "
        "modelled or read from its own sensor, is already inside that switch's PoE "
        "delivered: every row it gives is shown and recorded, never added), `mains` when it "
        "has its own supply, adapter or injector (counted). `auto`: `snmp.network_powered_by` "
        "for its model, else the model table's (access points `poe`, switches `mains`).",
        choices=("auto", "poe", "mains"),
    )


@dataclass
class SnmpConfig:
    enabled: bool = opt(False, "Poll SNMP devices.")
    interval_s: float = opt(60.0, "Poll period.", minimum=1)
    concurrency: int = opt(50, "Devices polled at once.", minimum=1)
    backoff_max_s: float = opt(900.0, "Longest wait before retrying a dead device.", minimum=1)
    max_power_w: float = opt(
        200_000.0,
        "The most one meter can draw: register steps and imported readings (bills) implying "
        "more are refused; a power reading above it is no reading.",
        minimum=1,
    )
    network_models: dict[str, str] = opt(
        {},
        "Typical power (W, without PoE) of network models that have no power sensor, by model "
        "(entPhysicalModelName, e.g. `WS-C2960X-48FPD-L`, or the shipped table's name): "
        "overrides collector/sources/snmp/network-models.yaml. The PoE the device delivers "
        "is added; the result is labelled modelled.",
    )
    network_powered_by: dict[str, str] = opt(
        {},
        "How network models without a power sensor are powered, by model (names as in "
        "`network_models`): `poe` (fed by a switch's PoE: already counted there, shown only) "
        "or `mains` (counted). Overrides the table's default (access points `poe`, switches "
        "`mains`); `snmp.devices[].powered_by` overrides this per device.",
    )
    devices: list[SnmpDeviceConfig] = opt([], "Devices.")

    def validate(self) -> None:
        known_profiles: set[str] | None = None
        device_names: set[str] = set()
        for i, d in enumerate(self.devices):
            if d.name in device_names:
                raise ValueError(f"devices[{i}].name: {d.name!r} is used twice")
            device_names.add(d.name)
            if d.profile:
                if known_profiles is None:
                    known_profiles = set(load_profiles())
                if d.profile not in known_profiles:
                    raise ValueError(
                        f"devices[{i}].profile: no profile named {d.profile!r} "
                        f"(known: {', '.join(sorted(known_profiles))})"
                    )
            for key, role in d.outlet_roles.items():
                if role not in OUTLET_ROLES:
                    raise ValueError(
                        f"devices[{i}].outlet_roles.{key}: {role!r}: use one of "
                        + ", ".join(OUTLET_ROLES)
                    )
        for model, watts in self.network_models.items():
            try:
                ok = 0 < float(watts) < 100_000
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"network_models.{model}: {watts!r}: expected watts (a number above 0)"
                )
        for model, how in self.network_powered_by.items():
            if how not in ("poe", "mains"):
                raise ValueError(f"network_powered_by.{model}: {how!r}: use poe or mains")
