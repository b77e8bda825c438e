"""Types and the base class every platform module implements (as psutil's _common does)."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field

import psutil

log = logging.getLogger("energy_agent.platform")


@dataclass(frozen=True, slots=True)
class Clocks:
    """One reading of the three clocks, taken together.

    `running` stops while the machine is suspended (Linux CLOCK_MONOTONIC, Windows unbiased
    interrupt time); `since_boot` keeps counting (CLOCK_BOOTTIME, interrupt time). Their
    difference grows by exactly the time spent suspended.
    """

    wall: float
    running: float
    since_boot: float

    @property
    def suspended_total(self) -> float:
        return self.since_boot - self.running


@dataclass(frozen=True, slots=True)
class CpuTimes:
    busy: float
    total: float


@dataclass(frozen=True, slots=True)
class RaplDomain:
    name: str
    energy_uj: int
    max_energy_range_uj: int


@dataclass(frozen=True, slots=True)
class HostFacts:
    hostname: str
    detected_kind: str  # laptop, vm or desktop
    model: str | None = None
    os: str | None = None
    manufactured: str | None = None
    cpus: int | None = None
    memory_bytes: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # what matches the machine to the asset register (docs/inventory.md): firmware serial and
    # SMBIOS UUID where readable, MACs of the physical interfaces
    serial: str | None = None
    smbios_uuid: str | None = None
    macs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SleepBlocker:
    app: str
    what: str
    reason: str | None = None


class Platform:
    """What the agent needs from the operating system. One subclass per OS."""

    name = "generic"

    def clocks(self) -> Clocks:
        raise NotImplementedError

    def boot_time(self) -> float:
        return float(psutil.boot_time())

    def cpu_times(self) -> CpuTimes:
        t = psutil.cpu_times()
        total = sum(t)
        # iowait is time the CPU had nothing to run: idle for power purposes.
        idle = t.idle + getattr(t, "iowait", 0.0)
        return CpuTimes(busy=max(total - idle, 0.0), total=total)

    def last_input(self, now: Clocks, idle_threshold_s: float) -> float | None:
        """Wall time of the last user input in any interactive session; None if there is none.

        A platform that only learns that a session *became idle* (logind's IdleHint) returns
        that moment minus the threshold, so the timeline turns idle exactly then.
        """
        return None

    def sleep_blockers(self, with_reasons: bool) -> list[SleepBlocker] | None:
        """What keeps the machine awake now; None when that cannot be read (not: none)."""
        return []

    def host_facts(self) -> HostFacts:
        return HostFacts(
            hostname=socket.gethostname(),
            detected_kind="desktop",
            cpus=os.cpu_count(),
            memory_bytes=psutil.virtual_memory().total,
        )

    def rapl(self) -> list[RaplDomain]:
        return []

    def battery_discharge_watts(self) -> float | None:
        return None

    def suspend_intervals(self, since: float, until: float) -> list[tuple[float, float]]:
        """Exact (sleep, wake) wall times from the OS's own records, where it keeps them.

        Used on Windows Modern Standby, where the interrupt-time bias does not move.
        """
        return []

    def power_action(self, action: str) -> str | None:
        """Put the machine to `sleep`, `hibernate` it or `shutdown` (power off), honouring
        what the OS itself holds it with (logind inhibitors, Windows power requests).
        None when the OS took the request; else why not, in one line."""
        return f"{action}: not supported on {self.name}"

    def wake_facts(self) -> dict[str, object]:
        """Whether this machine can be woken over the network, and its LAN addresses
        (the report's `wake`): interfaces with MAC, IPv4/prefix and wake flags where
        readable; Fast Startup and Modern Standby on Windows. Nothing about users."""
        return {"interfaces": lan_interfaces()}

    def shutdown_was_clean(self, boot_time: float) -> bool | None:
        """Whether the shutdown before `boot_time` was clean, from the OS's records.

        None: the OS does not say; the agent's own stop marker decides.
        """
        return None


MAX_INTERFACES = 8


def lan_interfaces() -> list[dict[str, object]]:
    """Interfaces with a hardware address and an IPv4 address (loopback and link-local
    left out): what a wake proxy on the same subnet needs to wake this machine."""
    import ipaddress

    out: list[dict[str, object]] = []
    try:
        addrs = psutil.net_if_addrs()
    except OSError:
        return out
    for name, items in sorted(addrs.items()):
        mac = next(
            (
                a.address.replace("-", ":").lower()
                for a in items
                if a.family == psutil.AF_LINK and len(a.address.replace("-", ":")) == 17
            ),
            None,
        )
        if not mac or mac == "00:00:00:00:00:00":
            continue
        for a in items:
            if a.family != socket.AF_INET or not a.netmask:
                continue
            try:
                iface = ipaddress.IPv4Interface(f"{a.address}/{a.netmask}")
            except ValueError:
                continue
            if iface.ip.is_loopback or iface.ip.is_link_local:
                continue
            out.append({"name": name[:64], "mac": mac, "ipv4": iface.with_prefixlen})
            break
        if len(out) >= MAX_INTERFACES:
            break
    return out


# what firmware writes when there is no serial or UUID: not an identity
_NO_SERIAL = {
    "",
    "0",
    "none",
    "default string",
    "to be filled by o.e.m.",
    "system serial number",
    "not specified",
    "not applicable",
    "0123456789",
}
_NO_UUID = {"00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"}


def clean_serial(value: str | None) -> str | None:
    s = (value or "").strip()
    return None if s.lower() in _NO_SERIAL or len(s) > 128 else s


def clean_uuid(value: str | None) -> str | None:
    s = (value or "").strip().lower()
    parts = s.split("-")
    ok = [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdef" for c in s.replace("-", "")
    )
    return s if ok and s not in _NO_UUID else None
