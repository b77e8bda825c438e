"""Fakes of what cannot run here: suspend, reboots, Windows APIs, RAPL and batteries."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.platform import Clocks, CpuTimes, HostFacts, Platform, RaplDomain, SleepBlocker
from agent.platform._windows import WinApi


class FakePlatform(Platform):
    """A machine whose clocks the test moves: `run(s)` passes running time, `suspend(s)`
    passes time asleep (wall and since-boot advance, running does not)."""

    name = "fake"

    def __init__(
        self,
        wall: float = 1_790_000_000.0,
        boot_ago: float = 600.0,
        util: float = 0.1,
        cpus: int = 4,
    ) -> None:
        self.wall = wall
        self.running = boot_ago
        self.since_boot = boot_ago
        self.boot = wall - boot_ago
        self.util = util
        self.cpus = cpus
        self.busy = 0.0
        self.total = 0.0
        self.input_at: float | None = None  # None: no interactive session
        self.blockers: list[SleepBlocker] | None = []  # None: cannot be read
        self.rapl_domains: list[RaplDomain] = []
        self.battery_w: float | None = None
        self.clean_from_os: bool | None = None
        self.sleeps: list[tuple[float, float]] = []
        self.kind = "desktop"

    # the test's controls
    def run(self, seconds: float, util: float | None = None) -> None:
        u = self.util if util is None else util
        self.wall += seconds
        self.running += seconds
        self.since_boot += seconds
        self.total += seconds * self.cpus
        self.busy += seconds * self.cpus * u

    def suspend(self, seconds: float) -> None:
        self.wall += seconds
        self.since_boot += seconds

    def reboot(self, off_seconds: float, up_seconds: float = 30.0) -> None:
        self.wall += off_seconds
        self.boot = self.wall
        self.running = self.since_boot = 0.0
        self.busy = self.total = 0.0
        self.run(up_seconds)

    # the Platform interface
    def clocks(self) -> Clocks:
        return Clocks(self.wall, self.running, self.since_boot)

    def boot_time(self) -> float:
        return self.boot

    def cpu_times(self) -> CpuTimes:
        return CpuTimes(self.busy, self.total)

    def last_input(self, now: Clocks, idle_threshold_s: float) -> float | None:
        return self.input_at

    def sleep_blockers(self, with_reasons: bool) -> list[SleepBlocker] | None:
        return None if self.blockers is None else list(self.blockers)

    def host_facts(self) -> HostFacts:
        return HostFacts(
            hostname="PC-TEST-0001",
            detected_kind=self.kind,
            model="Fake 1",
            os="FakeOS 1",
            manufactured="2021-03",
            cpus=self.cpus,
            memory_bytes=8 << 30,
        )

    def rapl(self) -> list[RaplDomain]:
        return list(self.rapl_domains)

    def battery_discharge_watts(self) -> float | None:
        return self.battery_w

    def suspend_intervals(self, since: float, until: float) -> list[tuple[float, float]]:
        return [(s, w) for s, w in self.sleeps if w > since and s < until]

    def shutdown_was_clean(self, boot_time: float) -> bool | None:
        return self.clean_from_os


@dataclass
class FakeWinApi(WinApi):
    """Answers the Windows calls from fields the test sets."""

    interrupt: int = 0
    unbiased: int = 0
    idle_ms: int = 0
    session: int = 2
    version: tuple[int, int, int] | None = None
    reg: dict[tuple[str, str], str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # substring of command -> stdout
    calls: list[list[str]] = field(default_factory=list)
    smbios: bytes | None = None  # GetSystemFirmwareTable('RSMB')

    def __post_init__(self) -> None:
        WinApi.__init__(self)

    def interrupt_times(self) -> tuple[int, int]:
        return self.interrupt, self.unbiased

    def idle_ms_this_session(self) -> int:
        return self.idle_ms

    def session_id(self) -> int:
        return self.session

    def windows_version(self) -> tuple[int, int, int] | None:
        return self.version

    def registry(self, key: str, name: str) -> str | None:
        return self.reg.get((key, name))

    def smbios_table(self) -> bytes | None:
        return self.smbios

    def run(self, cmd: list[str], timeout: float = 15.0) -> str | None:
        self.calls.append(cmd)
        line = " ".join(cmd)
        return next((v for k, v in self.outputs.items() if k in line), None)
