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

    def shutdown_was_clean(self, boot_time: float) -> bool | None:
        """Whether the shutdown before `boot_time` was clean, from the OS's records.

        None: the OS does not say; the agent's own stop marker decides.
        """
        return None
