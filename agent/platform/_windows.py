"""Windows: interrupt-time bias for suspend, a per-user helper for input idle, the event log.

Every OS call goes through `WinApi`, so the logic here runs on Linux in tests against a fake
`WinApi`. What was and was not exercised on real Windows is listed in docs/windows.md.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from agent.platform._common import (
    Clocks,
    HostFacts,
    Platform,
    RaplDomain,
    SleepBlocker,
    lan_interfaces,
)
from agent.platform._emi import EmiReader
from agent.platform._smbios import system_ids
from agent.windirs import agent_dir

log = logging.getLogger("energy_agent.platform")

EVT_NS = {"e": "http://schemas.microsoft.com/win/2004/08/events/event"}
BIOS_KEY = r"HARDWARE\DESCRIPTION\System\BIOS"
VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"
VIRT_MARKERS = (
    "virtual machine",
    "vmware",
    "virtualbox",
    "qemu",
    "kvm",
    "xen",
    "hyper-v",
    "parallels",
    "amazon ec2",
    "google compute engine",
    "openstack",
    "nutanix",
)
# Stale helper files are ignored: a logged-off session must not count as present.
HELPER_STALE_S = 120.0
SHUTDOWN_POWEROFF = 0x00000008
# SHTDN_REASON_FLAG_PLANNED | SHTDN_REASON_MAJOR_OTHER | SHTDN_REASON_MINOR_OTHER
SHUTDOWN_REASON = 0x80000000
# SYSTEM_POWER_CAPABILITIES (winnt.h): 0x4C bytes; the BOOLEANs read here and their offsets
POWER_CAPABILITIES_SIZE = 0x4C
CAP_S3, CAP_S4, CAP_HIBERBOOT, CAP_AOAC = 0x05, 0x06, 0x12, 0x14
POWER_KEY = r"SYSTEM\CurrentControlSet\Control\Session Manager\Power"


def default_helper_dir() -> Path:
    return Path(agent_dir()) / "sessions"


class WinApi:
    """The raw Windows calls, nothing else. Replaced by a fake in tests; `windll` too, for
    the fallbacks inside a call."""

    def __init__(self, windll: Any = None) -> None:
        self._windll = windll
        self._warned: set[str] = set()

    @property
    def windll(self) -> Any:
        return self._windll if self._windll is not None else ctypes.windll  # type: ignore[attr-defined]

    def _once(self, key: str, msg: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(msg, *args)

    def interrupt_times(self) -> tuple[int, int]:
        """(time since boot including sleep, time since boot in the working state), both in
        100 ns units. Their difference is the time spent suspended.

        Since boot including sleep: QueryInterruptTime (Windows 10+, KernelBase), else
        GetTickCount64 (Vista+, milliseconds, "includes time the system spends in sleep or
        hibernation"), which Windows 7/8 and Wine 8 have. Working state: QueryUnbiased-
        InterruptTime (Windows 7+); without it the suspended time cannot be told, and both
        values are the same (suspends then show as time the machine was on)."""
        dll = self.windll
        biased = ctypes.c_ulonglong()
        try:
            dll.kernelbase.QueryInterruptTime(ctypes.byref(biased))
            since_boot = int(biased.value)
        except (AttributeError, OSError) as exc:
            self._once(
                "QueryInterruptTime",
                "clock: QueryInterruptTime unavailable (%s); using GetTickCount64",
                exc,
            )
            get_ticks = dll.kernel32.GetTickCount64
            get_ticks.restype = ctypes.c_ulonglong
            since_boot = int(get_ticks()) * 10_000
        unbiased = ctypes.c_ulonglong()
        try:
            if not dll.kernel32.QueryUnbiasedInterruptTime(ctypes.byref(unbiased)):
                raise OSError("QueryUnbiasedInterruptTime returned FALSE")
            running = int(unbiased.value)
        except (AttributeError, OSError) as exc:
            self._once(
                "QueryUnbiasedInterruptTime",
                "clock: QueryUnbiasedInterruptTime unavailable (%s); suspend not measurable",
                exc,
            )
            running = since_boot
        return max(since_boot, running), running

    def idle_ms_this_session(self) -> int:
        """Milliseconds since the last input of *this* process's session (GetLastInputInfo)."""

        class LASTINPUTINFO(ctypes.Structure):
            _fields_ = (("cbSize", ctypes.c_uint), ("dwTime", ctypes.c_uint))

        info = LASTINPUTINFO()
        info.cbSize = ctypes.sizeof(info)
        windll = self.windll
        if not windll.user32.GetLastInputInfo(ctypes.byref(info)):
            raise OSError("GetLastInputInfo failed")
        now = windll.kernel32.GetTickCount() & 0xFFFFFFFF
        return (now - info.dwTime) & 0xFFFFFFFF  # both wrap at 2^32 ms (49.7 days)

    def windows_version(self) -> tuple[int, int, int] | None:
        """(major, minor, build) of the running Windows, from the OS rather than the
        registry (python.exe's manifest declares Windows 10 and 11, so they are not capped)."""
        get = getattr(sys, "getwindowsversion", None)
        if get is None:
            return None
        v = get()
        major, minor, build = getattr(v, "platform_version", None) or (v.major, v.minor, v.build)
        return int(major), int(minor), int(build)

    def session_id(self) -> int:
        sid = ctypes.c_ulong()
        windll: Any = ctypes.windll  # type: ignore[attr-defined]
        windll.kernel32.ProcessIdToSessionId(os.getpid(), ctypes.byref(sid))
        return int(sid.value)

    def smbios_table(self) -> bytes | None:
        """The raw SMBIOS table (RawSMBIOSData) from GetSystemFirmwareTable('RSMB'):
        Vista and later, no privilege, no WMI. None when the call fails or is missing."""
        try:
            get = self.windll.kernel32.GetSystemFirmwareTable
        except AttributeError:
            return None
        rsmb = 0x52534D42  # 'RSMB', the provider signature as a big-endian DWORD
        size = int(get(rsmb, 0, None, 0))
        if size <= 0 or size > 1 << 20:
            return None
        buf = ctypes.create_string_buffer(size)
        got = int(get(rsmb, 0, buf, size))
        return bytes(buf.raw[:got]) if 0 < got <= size else None

    def registry(self, key: str, name: str) -> str | None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key) as k:  # type: ignore[attr-defined,unused-ignore]
                value, _ = winreg.QueryValueEx(k, name)  # type: ignore[attr-defined,unused-ignore]
                return str(value)
        except OSError:
            return None

    def enable_shutdown_privilege(self) -> str | None:
        """SeShutdownPrivilege in this process's token (SetSuspendState and InitiateShutdown
        need it enabled, not only granted). None on success, else why."""
        from ctypes import wintypes  # type: ignore[attr-defined,unused-ignore]

        class LUID(ctypes.Structure):
            _fields_ = (("LowPart", wintypes.DWORD), ("HighPart", wintypes.LONG))

        class TOKEN_PRIVILEGES(ctypes.Structure):
            _fields_ = (
                ("PrivilegeCount", wintypes.DWORD),
                ("Luid", LUID),
                ("Attributes", wintypes.DWORD),
            )

        dll = self.windll
        token = wintypes.HANDLE()
        token_adjust, token_query, enabled = 0x20, 0x8, 0x2
        # handles are pointer-sized: without these, ctypes passes the pseudo-handle -1 as a
        # 32-bit int and OpenProcessToken answers ERROR_INVALID_HANDLE
        dll.kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        open_token = dll.advapi32.OpenProcessToken
        open_token.argtypes = (wintypes.HANDLE, wintypes.DWORD, ctypes.POINTER(wintypes.HANDLE))
        dll.advapi32.AdjustTokenPrivileges.argtypes = (
            wintypes.HANDLE,
            wintypes.BOOL,
            ctypes.c_void_p,
            wintypes.DWORD,
            ctypes.c_void_p,
            ctypes.c_void_p,
        )
        dll.kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
        if not open_token(
            dll.kernel32.GetCurrentProcess(), token_adjust | token_query, ctypes.byref(token)
        ):
            return f"OpenProcessToken failed ({dll.kernel32.GetLastError()})"
        try:
            tp = TOKEN_PRIVILEGES(1, LUID(), enabled)
            if not dll.advapi32.LookupPrivilegeValueW(
                None, "SeShutdownPrivilege", ctypes.byref(tp.Luid)
            ):
                return f"LookupPrivilegeValue failed ({dll.kernel32.GetLastError()})"
            dll.advapi32.AdjustTokenPrivileges(token, False, ctypes.byref(tp), 0, None, None)
            err = dll.kernel32.GetLastError()
            if err != 0:  # ERROR_NOT_ALL_ASSIGNED (1300): the account lacks the privilege
                return f"SeShutdownPrivilege not held by the service account ({err})"
            return None
        finally:
            dll.kernel32.CloseHandle(token)

    def set_suspend_state(self, hibernate: bool) -> str | None:
        """powrprof!SetSuspendState(Hibernate, ForceCritical=FALSE, DisableWakeEvent=FALSE):
        wake events (timers, wake-on-LAN) stay armed. None on success."""
        dll = self.windll
        fn = dll.powrprof.SetSuspendState
        fn.restype = ctypes.c_ubyte  # BOOLEAN
        fn.argtypes = (ctypes.c_ubyte, ctypes.c_ubyte, ctypes.c_ubyte)
        if fn(1 if hibernate else 0, 0, 0):
            return None
        return f"SetSuspendState failed ({dll.kernel32.GetLastError()})"

    def initiate_shutdown(self, message: str, grace_s: int) -> str | None:
        """advapi32!InitiateShutdownW: power off (not hybrid: a hybrid shutdown is a
        hibernation that leaves most NICs unable to wake on LAN), planned, reason
        "Other (Planned)". Returns ERROR_SUCCESS (0) on success."""
        dll = self.windll
        fn = dll.advapi32.InitiateShutdownW
        fn.restype = ctypes.c_ulong
        fn.argtypes = (
            ctypes.c_wchar_p,
            ctypes.c_wchar_p,
            ctypes.c_ulong,
            ctypes.c_ulong,
            ctypes.c_ulong,
        )
        code = fn(None, message, grace_s, SHUTDOWN_POWEROFF, SHUTDOWN_REASON)
        return None if code == 0 else f"InitiateShutdown failed ({code})"

    def power_capabilities(self) -> bytes | None:
        """CallNtPowerInformation(SystemPowerCapabilities): the raw structure, or None."""
        buf = ctypes.create_string_buffer(POWER_CAPABILITIES_SIZE)
        try:
            status = self.windll.powrprof.CallNtPowerInformation(
                4, None, 0, buf, POWER_CAPABILITIES_SIZE
            )
        except (AttributeError, OSError):
            return None
        return bytes(buf.raw) if status == 0 else None

    def run(self, cmd: list[str], timeout: float = 15.0) -> str | None:
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                timeout=timeout,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        return done.stdout.decode("utf-8", errors="replace")


def parse_event_time(text: str) -> float:
    """Event log SystemTime ('2024-09-07T13:17:14.529644800Z', up to 9 decimals) to POSIX."""
    m = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z?$", text.strip())
    if not m:
        raise ValueError(f"not an event time: {text!r}")
    base = datetime.fromisoformat(m.group(1)).replace(tzinfo=timezone.utc).timestamp()
    frac = m.group(2) or "0"
    return base + int(frac) / 10 ** len(frac)


def _events(xml_text: str) -> list[ET.Element]:
    """wevtutil prints one <Event> after another with no root element. Output that is not
    that XML (an error message in the system's language…) raises ValueError: not understood
    is not the same as no events."""
    try:
        root = ET.fromstring(f"<Events>{xml_text}</Events>")
    except ET.ParseError as exc:
        raise ValueError(f"wevtutil output is not event XML: {exc}") from None
    return root.findall("e:Event", EVT_NS)


def _event_data(event: ET.Element) -> dict[str, str]:
    return {
        d.get("Name", ""): (d.text or "") for d in event.iterfind(".//e:EventData/e:Data", EVT_NS)
    }


def _event_id_time(event: ET.Element) -> tuple[int, float]:
    eid = int(event.findtext("e:System/e:EventID", "0", EVT_NS))
    created = event.find("e:System/e:TimeCreated", EVT_NS)
    when = parse_event_time(created.get("SystemTime", "")) if created is not None else 0.0
    return eid, when


def parse_sleep_events(xml_text: str) -> list[tuple[float, float]]:
    """(sleep, wake) pairs from Power-Troubleshooter event 1 (SleepTime/WakeTime fields)."""
    out = []
    for ev in _events(xml_text):
        data = _event_data(ev)
        try:
            sleep, wake = parse_event_time(data["SleepTime"]), parse_event_time(data["WakeTime"])
        except (KeyError, ValueError):
            continue
        if wake > sleep:
            out.append((sleep, wake))
    return sorted(out)


def parse_shutdown_events(xml_text: str, boot_time: float) -> bool | None:
    """Latest of 6006 (event log stopped: clean) and 6008 (unexpected) before this boot.

    6008 is written at the next boot, so it may carry a time just after boot_time; take events
    up to a few minutes past boot and let 6008 win when both refer to the same boot.
    """
    best: tuple[float, int] | None = None
    for ev in _events(xml_text):
        eid, when = _event_id_time(ev)
        if eid not in (6006, 6008) or when > boot_time + 600:
            continue
        if eid == 6008 and when >= boot_time - 60:
            return False
        if best is None or when > best[0]:
            best = (when, eid)
    if best is None:
        return None
    return best[1] == 6006


# `powercfg /requests` prints these sections in this order, with headings in the language of
# the system ("DISPLAY:" in English, "AFFICHAGE :" in French…); the bracketed kind tags are
# not translated. Sections are told by position, never by their name.
POWER_REQUEST_SECTIONS = (
    "display",
    "system",
    "awaymode",
    "execution",
    "perfboost",
    "activelockscreen",
)
KEPT_SECTIONS = ("display", "system", "execution")  # AWAYMODE and PERFBOOST do not keep it awake
_REQUEST = re.compile(r"\[(PROCESS|DRIVER|SERVICE|SYSTEM)\]\s*(.*)")
_HEADING = re.compile(r"[^\[\]:]{2,40}\s?:")


def parse_power_requests(text: str, with_reasons: bool) -> list[SleepBlocker] | None:
    """Parse `powercfg /requests` in any display language; None when the output is not the
    shape expected (then the report says the blockers could not be read, not that there were
    none).

    Each request is a line `[PROCESS] \\Device\\…\\app.exe` (or [DRIVER]/[SERVICE]/[SYSTEM])
    optionally followed by a reason line; a section without requests holds one line ("None.",
    "Aucun."…). Only the executable's base name is kept: full paths can carry a user profile
    directory.
    """
    out: list[SleepBlocker] = []
    index = -1
    pending: SleepBlocker | None = None
    section_lines = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = _REQUEST.match(line)
        if m is None and _HEADING.fullmatch(line):
            if pending:
                out.append(pending)
                pending = None
            index += 1
            section_lines = 0
            continue
        if index < 0 or index >= len(POWER_REQUEST_SECTIONS):
            return None  # text before the first heading, or more sections than Windows has
        section = POWER_REQUEST_SECTIONS[index]
        section_lines += 1
        if m:
            if pending:
                out.append(pending)
            kind, name = m.group(1).lower(), m.group(2)
            if kind in ("process", "service"):
                name = re.split(r"[\\/]", name)[-1]
            elif kind == "driver":
                name = re.sub(r"\s*\(.*\)$", "", name)
            pending = SleepBlocker(app=name[:128] or kind, what=f"{section}:{kind}")
        elif pending and pending.reason is None:
            pending = SleepBlocker(
                app=pending.app, what=pending.what, reason=line[:200] if with_reasons else None
            )
            out.append(pending)
            pending = None
        elif section_lines > 1:
            return None  # a second line with no request to belong to: not understood
    if pending:
        out.append(pending)
    if index < 3:
        return None  # fewer than DISPLAY, SYSTEM, AWAYMODE, EXECUTION: not this command's output
    return [b for b in out if b.what.split(":")[0] in KEPT_SECTIONS]


FAMILIES = {(6, 1): "Windows 7", (6, 2): "Windows 8", (6, 3): "Windows 8.1"}


def os_name(
    version: tuple[int, int, int] | None,
    product: str | None,
    build: str | None,
    display: str | None,
) -> str:
    """ "Windows 11 Pro 23H2": the family from the version numbers the OS reports, the edition
    from the registry's ProductName. ProductName alone misleads: Windows 11 still says
    "Windows 10", and a Wine prefix says "Windows 7" while reporting 10.0.18362."""
    if version is None and build and build.isdigit():
        version = (10, 0, int(build)) if int(build) >= 10240 else None
    product = re.sub(r"^Microsoft\s+", "", (product or "").strip())
    if "Server" in product or version is None:
        name = product or "Windows"
    else:
        major, minor, number = version
        family = (
            ("Windows 11" if number >= 22000 else "Windows 10")
            if major == 10
            else FAMILIES.get((major, minor), f"Windows {major}.{minor}")
        )
        edition = re.sub(r"^Windows\s+\S+\s*", "", product) if product else ""
        name = f"{family} {edition}".strip()
    return f"{name} {display}" if display else name


SHUTDOWN_MESSAGE = "Arrêt automatique hors des heures de travail (politique de la DSI)."


class WindowsPlatform(Platform):
    name = "windows"

    def __init__(
        self,
        api: WinApi | None = None,
        helper_dir: Path | None = None,
        emi: EmiReader | None = None,
    ) -> None:
        self.api = api or WinApi()
        self.helper_dir = helper_dir or default_helper_dir()
        self.emi = emi or EmiReader()

    def rapl(self) -> list[RaplDomain]:
        """CPU package energy from the Energy Meter Interface, where the PC has one."""
        return self.emi.read()

    def clocks(self) -> Clocks:
        biased, unbiased = self.api.interrupt_times()
        return Clocks(wall=time.time(), running=unbiased / 1e7, since_boot=biased / 1e7)

    def last_input(self, now: Clocks, idle_threshold_s: float) -> float | None:
        """The service runs in session 0 and cannot see user input; each user session runs
        `energy-agent idle-helper`, which writes its last-input time to a small file."""
        latest: float | None = None
        try:
            files = list(self.helper_dir.glob("*.json"))
        except OSError:
            return None
        for f in files:
            try:
                if now.wall - f.stat().st_mtime > HELPER_STALE_S:
                    continue
                data = json.loads(f.read_text(encoding="utf-8"))
                when = float(data["last_input"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            latest = when if latest is None else max(latest, when)
        return latest

    def sleep_blockers(self, with_reasons: bool) -> list[SleepBlocker] | None:
        """None when they cannot be read: powercfg /requests needs an administrator (the
        service as LocalSystem; not LocalService), and its output must be understood."""
        out = self.api.run(["powercfg", "/requests"])
        if out is None:
            self.api._once(
                "powercfg",
                "sleep blockers: powercfg /requests failed (it needs administrator rights); "
                "reports say the blockers could not be read",
            )
            return None
        found = parse_power_requests(out, with_reasons)
        if found is None:
            self.api._once(
                "powercfg-parse",
                "sleep blockers: powercfg /requests printed what this agent does not "
                "understand (%r…); reports say the blockers could not be read",
                out[:120],
            )
        return found

    def host_facts(self) -> HostFacts:
        reg = self.api.registry
        vendor = reg(BIOS_KEY, "SystemManufacturer")
        product = reg(BIOS_KEY, "SystemProductName")
        model = " ".join(p for p in (vendor, product) if p and "to be filled" not in p.lower())
        bios_date = reg(BIOS_KEY, "BIOSReleaseDate")
        serial, uuid = self._system_ids()
        from agent.platform._linux import parse_bios_date  # same MM/DD/YYYY format

        ident = (model or "").lower()
        has_battery = psutil.sensors_battery() is not None
        kind = (
            "laptop"
            if has_battery
            else "vm"
            if any(m in ident for m in VIRT_MARKERS)
            else "desktop"
        )
        return HostFacts(
            hostname=os.environ.get("COMPUTERNAME") or __import__("socket").gethostname(),
            detected_kind=kind,
            model=model or None,
            os=os_name(
                self.api.windows_version(),
                reg(VERSION_KEY, "ProductName"),
                reg(VERSION_KEY, "CurrentBuildNumber"),
                reg(VERSION_KEY, "DisplayVersion"),
            ),
            manufactured=parse_bios_date(bios_date),
            cpus=os.cpu_count(),
            memory_bytes=psutil.virtual_memory().total,
            serial=serial,
            smbios_uuid=uuid,
            macs=tuple(dict.fromkeys(str(i["mac"]) for i in lan_interfaces()))[:16],
        )

    def _system_ids(self) -> tuple[str | None, str | None]:
        try:
            raw = self.api.smbios_table()
        except (OSError, ValueError, AttributeError) as exc:
            self.api._once("smbios", "host facts: SMBIOS table unreadable (%s)", exc)
            return None, None
        return system_ids(raw) if raw else (None, None)

    def power_action(self, action: str) -> str | None:
        """SetSuspendState for sleep and hibernate, InitiateShutdown for shutdown, after
        enabling SeShutdownPrivilege (LocalSystem holds it). Power requests (a call, a video,
        Windows Update) no longer veto SetSuspendState since Vista: the agent checks them
        itself (`powercfg /requests`) before it gets here."""
        if action not in ("sleep", "hibernate", "shutdown"):
            return f"unknown action {action!r}"
        why = self.api.enable_shutdown_privilege()
        if why is not None:
            return why
        if action == "shutdown":
            return self.api.initiate_shutdown(SHUTDOWN_MESSAGE, 0)
        return self.api.set_suspend_state(hibernate=action == "hibernate")

    def wake_facts(self) -> dict[str, object]:
        """Fast Startup (HiberbootEnabled: a "shutdown" is then a hibernation, and the NIC
        often cannot wake the PC from it), Modern Standby (S0 low-power idle: no S3, wake
        by magic packet depends on the NIC), S3 support, from the OS's power capabilities."""
        out = super().wake_facts()
        hiberboot = self.api.registry(POWER_KEY, "HiberbootEnabled")
        if hiberboot is not None and hiberboot.isdigit():
            out["fast_startup"] = hiberboot != "0"
        caps = self.api.power_capabilities()
        if caps is not None and len(caps) >= POWER_CAPABILITIES_SIZE:
            out["modern_standby"] = bool(caps[CAP_AOAC])
            out["s3"] = bool(caps[CAP_S3])
            out["hibernate"] = bool(caps[CAP_S4])
        return out

    def suspend_intervals(self, since: float, until: float) -> list[tuple[float, float]]:
        query = (
            "*[System[Provider[@Name='Microsoft-Windows-Power-Troubleshooter'] and (EventID=1)]]"
        )
        out = self.api.run(
            ["wevtutil", "qe", "System", f"/q:{query}", "/f:xml", "/c:20", "/rd:true"]
        )
        if out is None:
            self.api._once(
                "wevtutil-sleep",
                "event log: Power-Troubleshooter events unreadable; suspends are told by the "
                "interrupt-time bias alone",
            )
            return []
        try:
            pairs = parse_sleep_events(out)
        except ValueError as exc:
            self.api._once("wevtutil-sleep-xml", "event log: %s; suspends by interrupt time", exc)
            return []
        return [(s, w) for s, w in pairs if w > since and s < until]

    def shutdown_was_clean(self, boot_time: float) -> bool | None:
        query = "*[System[(EventID=6006 or EventID=6008)]]"
        out = self.api.run(
            ["wevtutil", "qe", "System", f"/q:{query}", "/f:xml", "/c:10", "/rd:true"]
        )
        if out is None:
            self.api._once(
                "wevtutil-shutdown",
                "event log: events 6006/6008 unreadable; a shutdown counts as clean when the "
                "agent itself stopped cleanly",
            )
            return None
        if not out:
            return None
        try:
            return parse_shutdown_events(out, boot_time)
        except ValueError as exc:
            self.api._once("wevtutil-shutdown-xml", "event log: %s; clean flag of the agent", exc)
            return None


def write_helper_file(directory: Path, session: int, last_input: float) -> Path:
    """What the per-user helper writes: session number and last input time, nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"session-{session}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"session": session, "last_input": round(last_input, 1)}), encoding="utf-8"
    )
    os.replace(tmp, path)
    return path


def run_idle_helper(
    directory: Path,
    interval_s: float = 15.0,
    api: WinApi | None = None,
    iterations: int | None = None,
) -> None:
    """The per-user helper loop (`energy-agent idle-helper`), started at each user logon."""
    api = api or WinApi()
    session = api.session_id()
    n = 0
    while iterations is None or n < iterations:
        try:
            idle_ms = api.idle_ms_this_session()
        except (OSError, AttributeError) as exc:
            # no file written: the service sees no fresh input time for this session, as if
            # nobody were at it (the CPU then decides active or idle)
            api._once("GetLastInputInfo", "idle helper: GetLastInputInfo failed (%s)", exc)
        else:
            try:
                write_helper_file(directory, session, time.time() - idle_ms / 1000.0)
            except OSError as exc:
                api._once("helper-write", "idle helper: cannot write in %s (%s)", directory, exc)
        n += 1
        if iterations is None or n < iterations:
            time.sleep(interval_s)
