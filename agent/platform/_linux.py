"""Linux: CLOCK_BOOTTIME for suspend, logind for input idle, sysfs for facts and energy."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil

from agent.platform._common import (
    Clocks,
    HostFacts,
    Platform,
    RaplDomain,
    SleepBlocker,
    clean_serial,
    clean_uuid,
)

log = logging.getLogger("energy_agent.platform")

SYS = Path("/sys")
RUN_SESSIONS = Path("/run/systemd/sessions")
GRAPHICAL = {"x11", "wayland", "mir"}
VIRT_VENDORS = (
    "qemu",
    "kvm",
    "vmware",
    "virtualbox",
    "innotek",
    "xen",
    "bochs",
    "microsoft corporation virtual",
    "hyper-v",
    "openstack",
    "parallels",
    "amazon ec2",
    "google compute engine",
    "nutanix",
    "proxmox",
)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    """Output of a command, or None when it is missing, fails or hangs."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", "SYSTEMD_COLORS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_bios_date(text: str | None) -> str | None:
    """DMI bios_date is MM/DD/YYYY; return YYYY-MM."""
    if not text:
        return None
    parts = text.split("/")
    if len(parts) == 3 and parts[2].isdigit() and len(parts[2]) == 4 and parts[0].isdigit():
        month = int(parts[0])
        if 1 <= month <= 12 and 1980 <= int(parts[2]) <= 2100:
            return f"{parts[2]}-{month:02d}"
    return None


def parse_inhibitors(text: str, with_reasons: bool) -> list[SleepBlocker] | None:
    """Parse `systemd-inhibit --list` (columns WHO UID USER PID COMM WHAT WHY MODE, or
    "No inhibitors."); None when the output is neither.

    Columns are aligned under the header, and WHO and WHY may contain spaces, so fields are cut
    at the header's column positions. USER, UID and PID are never kept (privacy).
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].strip().rstrip(".") in ("No inhibitors", "0 inhibitors listed"):
        return []
    if not lines or not lines[0].lstrip().startswith("WHO"):
        return None  # not the table expected: unreadable, not "none"
    header = lines[0]
    names = header.split()
    starts = []
    pos = 0
    for name in names:
        pos = header.index(name, pos)
        starts.append(pos)
        pos += len(name)
    out: list[SleepBlocker] = []
    for line in lines[1:]:
        if "inhibitors listed" in line:
            break
        cols = {}
        for i, name in enumerate(names):
            end = starts[i + 1] if i + 1 < len(starts) else len(line)
            cols[name] = line[starts[i] : end].strip()
        what = cols.get("WHAT", "")
        if cols.get("MODE") != "block" or not ({"sleep", "idle"} & set(what.split(":"))):
            continue
        app = cols.get("WHO") or cols.get("COMM") or "?"
        out.append(
            SleepBlocker(
                app=app[:128],
                what=what[:128],
                reason=(cols.get("WHY") or None) if with_reasons else None,
            )
        )
    return out


def parse_sessions(text: str) -> list[dict[str, str]]:
    """Blocks of KEY=VALUE lines from `loginctl show-session A B … -p …`."""
    sessions: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                sessions.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        sessions.append(current)
    return sessions


def last_input_from_sessions(
    sessions: list[dict[str, str]], now: Clocks, idle_threshold_s: float
) -> float | None:
    """Latest user input over graphical user sessions, from logind's idle hints."""
    latest: float | None = None
    for s in sessions:
        if s.get("Type") not in GRAPHICAL or s.get("Class", "user") != "user":
            continue
        if s.get("State") not in (None, "active", "online"):
            continue
        if s.get("IdleHint") == "yes":
            since = s.get("IdleSinceHint", "0")
            # microseconds since the epoch; logind converts it from its monotonic reading.
            when = (
                int(since) / 1e6 - idle_threshold_s
                if since.isdigit() and since != "0"
                else now.wall - idle_threshold_s
            )
        else:
            when = now.wall
        latest = when if latest is None else max(latest, when)
    return latest


def parse_wake_on(text: str) -> str | None:
    """The current `Wake-on:` letters of `ethtool <if>` (g: magic packet, d: disabled);
    the `Supports Wake-on:` line comes first and is not the setting."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Wake-on:"):
            value = line.split(":", 1)[1].strip()
            return value[:16] if value.isalpha() else None
    return None


def _ethtool_wake_on(name: str) -> str | None:
    if shutil.which("ethtool") is None:
        return None
    out = _run(["ethtool", name])
    return parse_wake_on(out) if out else None


class LinuxPlatform(Platform):
    name = "linux"

    def __init__(self, sys_root: Path = SYS, run_sessions: Path = RUN_SESSIONS) -> None:
        self.sys = sys_root
        self.run_sessions = run_sessions
        self._rapl_denied = False
        self._blockers_unreadable = False  # said once per spell of unreadable blockers

    def clocks(self) -> Clocks:
        running = time.clock_gettime(time.CLOCK_MONOTONIC)
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        return Clocks(wall=time.time(), running=running, since_boot=since_boot)

    def _graphical_session_ids(self) -> list[str]:
        # logind keeps one small file per session: a cheap check before spawning loginctl.
        ids = []
        try:
            entries = list(self.run_sessions.iterdir())
        except OSError:
            return []
        for entry in entries:
            if entry.name.endswith(".ref"):
                continue
            text = _read(entry) or ""
            fields = dict(ln.partition("=")[::2] for ln in text.splitlines())
            if fields.get("TYPE") in GRAPHICAL and fields.get("CLASS", "user") == "user":
                ids.append(entry.name)
        return ids

    def last_input(self, now: Clocks, idle_threshold_s: float) -> float | None:
        ids = self._graphical_session_ids()
        if not ids:
            return None
        out = _run(
            [
                "loginctl",
                "show-session",
                *ids,
                "-p",
                "Type",
                "-p",
                "Class",
                "-p",
                "State",
                "-p",
                "IdleHint",
                "-p",
                "IdleSinceHint",
            ]
        )
        if out is None:
            return None
        return last_input_from_sessions(parse_sessions(out), now, idle_threshold_s)

    def sleep_blockers(self, with_reasons: bool) -> list[SleepBlocker] | None:
        """None when logind cannot be asked (no system bus, not permitted, no systemd): the
        report then says the blockers could not be read, never that there were none, and a
        policy honouring blockers does not act on it (as on Windows)."""
        out = _run(["systemd-inhibit", "--list", "--no-pager"])
        found = parse_inhibitors(out, with_reasons) if out is not None else None
        if found is None and not self._blockers_unreadable:
            log.warning(
                "sleep blockers: `systemd-inhibit --list` failed or printed what this agent "
                "does not understand; reports say the blockers could not be read"
            )
        self._blockers_unreadable = found is None
        return found

    def power_action(self, action: str) -> str | None:
        """Through logind (`systemctl`), which checks the block inhibitors itself
        (`--check-inhibitors=yes`): a presentation, an update or a backup holding sleep makes
        it refuse, and the refusal comes back here. The agent's user needs the polkit rule in
        configs/polkit/ to be allowed at all."""
        verb = {"sleep": "suspend", "hibernate": "hibernate", "shutdown": "poweroff"}.get(action)
        if verb is None:
            return f"unknown action {action!r}"
        exe = shutil.which("systemctl")
        if exe is None:
            return "systemctl not found"
        try:
            done = subprocess.run(
                [exe, "--no-ask-password", "--check-inhibitors=yes", verb],
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"systemctl {verb}: {exc}"
        if done.returncode != 0:
            err = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
            return f"systemctl {verb}: " + (err[0][:200] if err else f"exit {done.returncode}")
        return None

    def wake_facts(self) -> dict[str, object]:
        """Interfaces, with each one's wake-on-LAN setting: `ethtool`'s `Wake-on:` letters
        where it answers (it needs CAP_NET_ADMIN on most drivers), else the device's
        sysfs `power/wakeup` (enabled/disabled), readable by anyone."""
        interfaces = super().wake_facts()["interfaces"]
        assert isinstance(interfaces, list)
        for iface in interfaces:
            name = str(iface["name"])
            flags = _ethtool_wake_on(name)
            if flags is not None:
                iface["wol"] = flags
            wakeup = self.sys / "class/net" / name / "device/power/wakeup"
            with contextlib.suppress(OSError):
                iface["wakeup"] = wakeup.read_text().strip()[:16]
        return {"interfaces": interfaces}

    def _is_virtual(self) -> bool:
        out = _run(["systemd-detect-virt", "--vm"])
        if out is not None:
            return out.strip() not in ("", "none")
        dmi = self.sys / "class/dmi/id"
        ident = " ".join(
            filter(
                None,
                (
                    _read(dmi / "sys_vendor"),
                    _read(dmi / "product_name"),
                    _read(dmi / "board_vendor"),
                ),
            )
        ).lower()
        if any(v in ident for v in VIRT_VENDORS):
            return True
        cpuinfo = _read(Path("/proc/cpuinfo")) or ""
        return any(ln.startswith("flags") and " hypervisor" in ln for ln in cpuinfo.splitlines())

    def _has_battery(self) -> bool:
        ps = self.sys / "class/power_supply"
        try:
            return any(
                _read(p / "type") == "Battery" and _read(p / "scope") != "Device"
                for p in ps.iterdir()
            )
        except OSError:
            return False

    def host_facts(self) -> HostFacts:
        dmi = self.sys / "class/dmi/id"
        vendor, product = _read(dmi / "sys_vendor"), _read(dmi / "product_name")
        model = " ".join(p for p in (vendor, product) if p and "to be filled" not in p.lower())
        os_name = None
        for line in (_read(Path("/etc/os-release")) or "").splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.partition("=")[2].strip().strip('"')
        kind = "laptop" if self._has_battery() else "vm" if self._is_virtual() else "desktop"
        return HostFacts(
            hostname=socket.gethostname(),
            detected_kind=kind,
            model=model or None,
            os=os_name or f"Linux {os.uname().release}",
            manufactured=parse_bios_date(_read(dmi / "bios_date")),
            cpus=os.cpu_count(),
            memory_bytes=psutil.virtual_memory().total,
            # product_serial and product_uuid are root-only (0400) on most kernels: an
            # unprivileged agent sends neither, and matching falls back to MACs and names
            serial=clean_serial(_read(dmi / "product_serial")),
            smbios_uuid=clean_uuid(_read(dmi / "product_uuid")),
            macs=self._physical_macs(),
        )

    def _physical_macs(self) -> tuple[str, ...]:
        """MACs of interfaces backed by a device (no loopback, bridge, VPN or veth)."""
        out = []
        try:
            names = sorted(p.name for p in (self.sys / "class/net").iterdir())
        except OSError:
            return ()
        for name in names:
            itf = self.sys / "class/net" / name
            if not (itf / "device").exists():
                continue
            mac = (_read(itf / "address") or "").lower()
            if len(mac) == 17 and mac not in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
                out.append(mac)
        return tuple(out[:16])

    def rapl(self) -> list[RaplDomain]:
        """Top-level RAPL package domains only (sub-zones are parts of them: no double count)."""
        if self._rapl_denied:
            return []
        base = self.sys / "class/powercap"
        try:
            zones = sorted(
                p
                for p in base.iterdir()
                if p.name.startswith("intel-rapl:") and p.name.count(":") == 1
            )
        except OSError:
            return []
        out = []
        for zone in zones:
            try:
                energy = int((zone / "energy_uj").read_text())
                max_range = int((zone / "max_energy_range_uj").read_text())
            except PermissionError:
                # Readable by root only since the 2020 PLATYPUS fix; see docs/agent.md.
                log.warning(
                    "RAPL present but %s is not readable: measured CPU energy off",
                    zone / "energy_uj",
                )
                self._rapl_denied = True
                return []
            except (OSError, ValueError):
                continue
            out.append(
                RaplDomain(
                    name=_read(zone / "name") or zone.name,
                    energy_uj=energy,
                    max_energy_range_uj=max_range,
                )
            )
        return out

    def battery_discharge_watts(self) -> float | None:
        ps = self.sys / "class/power_supply"
        total = 0.0
        found = False
        try:
            supplies = list(ps.iterdir())
        except OSError:
            return None
        for p in supplies:
            if _read(p / "type") != "Battery" or _read(p / "scope") == "Device":
                continue
            if _read(p / "status") != "Discharging":
                return None  # on mains (or charging): the battery does not see the load
            power = _read(p / "power_now")
            if power and power.lstrip("-").isdigit():
                total += abs(int(power)) / 1e6
                found = True
                continue
            current, voltage = _read(p / "current_now"), _read(p / "voltage_now")
            if current and voltage and current.lstrip("-").isdigit() and voltage.isdigit():
                total += abs(int(current)) * int(voltage) / 1e12
                found = True
        return total if found else None
