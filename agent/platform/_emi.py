"""Windows' Energy Meter Interface (EMI): the CPU package energy that Windows 10 1809+ exposes
on hardware with an energy meter (RAPL behind a driver, on most Intel and AMD PCs), readable
without administrator rights.

Devices are the interfaces of class GUID_DEVICE_ENERGY_METER (SetupDi…); each answers
IOCTL_EMI_GET_VERSION, IOCTL_EMI_GET_METADATA_SIZE, IOCTL_EMI_GET_METADATA and
IOCTL_EMI_GET_MEASUREMENT (emi.h). Energy is absolute, in picowatt-hours, per channel (v2) or
for the one metered component (v1). The buffers are parsed here, apart from the OS calls
(`EmiDevices`), so that the parsing runs on Linux against recorded buffers.

Channels are read like RAPL domains (agent/energy.py): a counter that goes down is not
integrated across, absent is absent, nothing is invented.
"""

from __future__ import annotations

import ctypes
import logging
import struct
from typing import Any

from agent.platform._common import RaplDomain

log = logging.getLogger("energy_agent.platform")

GUID_DEVICE_ENERGY_METER = "{45BD8344-7ED6-49CF-A440-C276C933B053}"


def _ctl_code(function: int) -> int:
    file_device_unknown, method_buffered, file_read_access = 0x22, 0, 1
    return (
        (file_device_unknown << 16) | (file_read_access << 14) | (function << 2) | method_buffered
    )


IOCTL_EMI_GET_VERSION = _ctl_code(0)
IOCTL_EMI_GET_METADATA_SIZE = _ctl_code(1)
IOCTL_EMI_GET_METADATA = _ctl_code(2)
IOCTL_EMI_GET_MEASUREMENT = _ctl_code(3)
EMI_NAME_MAX = 16
PICOWATT_HOUR_UJ = 3.6e-3  # 1 pWh = 3.6e-9 J
# 2^64 pWh is 18 MWh: the counter never wraps in a PC's life, so one that goes down was reset
# (a driver reload): given as range 0, which the meter reads as "cannot tell", not as a wrap
COUNTER_RANGE_UJ = 0
# Channels are named like RAPL_Package0_PKG (the package), _PP0 (cores), _PP1 (GPU), _DRAM:
# only package channels are summed, as for RAPL (the others are parts of it, or outside it)
PACKAGE_MARKERS = ("pkg",)


def _wstr(buf: bytes, offset: int, size: int) -> str:
    return buf[offset : offset + size].decode("utf-16-le", errors="replace").split("\0", 1)[0]


def parse_metadata(version: int, buf: bytes) -> list[str]:
    """Channel names from an EMI_METADATA_V1 or _V2 buffer."""
    if version == 1:
        # MeasurementUnit (enum, 4), OEM[16], Model[16], Revision, NameSize, Name[]
        if len(buf) < 72:
            raise ValueError("EMI v1 metadata too short")
        (unit,) = struct.unpack_from("<I", buf, 0)
        (size,) = struct.unpack_from("<H", buf, 70)
        if unit != 0:
            raise ValueError(f"EMI unit {unit} is not picowatt-hours")
        return [_wstr(buf, 72, size) or "package"]
    if version == 2:
        # OEM[16], Model[16], Revision, ChannelCount, then channels back to back:
        # MeasurementUnit (enum, 4), ChannelNameSize, ChannelName[ChannelNameSize bytes]
        if len(buf) < 68:
            raise ValueError("EMI v2 metadata too short")
        (count,) = struct.unpack_from("<H", buf, 66)
        names, offset = [], 68
        for _ in range(count):
            if offset + 6 > len(buf):
                raise ValueError("EMI v2 metadata truncated")
            unit, size = struct.unpack_from("<IH", buf, offset)
            if unit != 0:
                raise ValueError(f"EMI unit {unit} is not picowatt-hours")
            if offset + 6 + size > len(buf):
                raise ValueError("EMI v2 channel name truncated")
            names.append(_wstr(buf, offset + 6, size))
            offset += 6 + size
        return names
    raise ValueError(f"EMI version {version} not known")


def parse_measurement(count: int, buf: bytes) -> list[tuple[int, int]]:
    """(AbsoluteEnergy in pWh, AbsoluteTime in 100 ns) per channel."""
    if len(buf) < 16 * count:
        raise ValueError("EMI measurement truncated")
    return [struct.unpack_from("<QQ", buf, 16 * i) for i in range(count)]


def package_domains(names: list[str], data: list[tuple[int, int]]) -> list[RaplDomain]:
    """The package channels as RAPL-like domains (microjoules, wrapping at 2^64 pWh)."""
    chosen = [
        (n, d)
        for n, d in zip(names, data, strict=True)
        if any(m in n.lower() for m in PACKAGE_MARKERS)
    ]
    if not chosen and len(names) == 1:
        chosen = list(zip(names, data, strict=True))  # one channel: the metered component
    return [
        RaplDomain(f"emi:{n}", int(energy * PICOWATT_HOUR_UJ), COUNTER_RANGE_UJ)
        for n, (energy, _) in chosen
    ]


class EmiDevices:
    """The OS side: find the energy meter interfaces, send them IOCTLs. Replaced in tests."""

    def paths(self) -> list[str]:
        return _device_paths(GUID_DEVICE_ENERGY_METER)

    def ioctl(self, path: str, code: int, out_size: int) -> bytes:
        return _ioctl(path, code, out_size)


class EmiReader:
    """Reads every energy meter's package channels. Metadata is read once per device."""

    def __init__(self, devices: EmiDevices | None = None) -> None:
        self.devices = devices or EmiDevices()
        self._meta: dict[str, tuple[int, list[str]]] | None = None
        self._failed = False

    def _discover(self) -> dict[str, tuple[int, list[str]]]:
        found: dict[str, tuple[int, list[str]]] = {}
        for path in self.devices.paths():
            try:
                (version,) = struct.unpack(
                    "<H", self.devices.ioctl(path, IOCTL_EMI_GET_VERSION, 2)[:2]
                )
                (size,) = struct.unpack(
                    "<I", self.devices.ioctl(path, IOCTL_EMI_GET_METADATA_SIZE, 4)[:4]
                )
                names = parse_metadata(
                    version, self.devices.ioctl(path, IOCTL_EMI_GET_METADATA, size)
                )
            except (OSError, ValueError, struct.error) as exc:
                log.warning("EMI: %s unreadable (%s); skipped", path, exc)
                continue
            found[path] = (version, names)
            log.info("EMI: energy meter v%d with channels %s", version, ", ".join(names))
        return found

    def read(self) -> list[RaplDomain]:
        if self._failed:
            return []
        if self._meta is None:
            try:
                self._meta = self._discover()
            except (OSError, AttributeError) as exc:
                log.warning("EMI: energy meters cannot be listed (%s); measured energy off", exc)
                self._failed = True
                return []
        out: list[RaplDomain] = []
        for path, (_, names) in self._meta.items():
            try:
                buf = self.devices.ioctl(path, IOCTL_EMI_GET_MEASUREMENT, 16 * len(names))
                out += package_domains(names, parse_measurement(len(names), buf))
            except (OSError, ValueError) as exc:
                log.warning("EMI: %s measurement failed (%s)", path, exc)
                return []  # a partial sum would be less than the package: none at all
        return out


# -- ctypes: SetupDi and DeviceIoControl ------------------------------------------------------


def _device_paths(guid_text: str) -> list[str]:
    from agent.windirs import GUID
    from agent.windirs import guid as make_guid

    guid = make_guid(guid_text)

    class SP_DEVICE_INTERFACE_DATA(ctypes.Structure):
        _fields_ = (
            ("cbSize", ctypes.c_ulong),
            ("InterfaceClassGuid", GUID),
            ("Flags", ctypes.c_ulong),
            ("Reserved", ctypes.c_void_p),
        )

    setupapi: Any = ctypes.WinDLL("setupapi", use_last_error=True)  # type: ignore[attr-defined]
    setupapi.SetupDiGetClassDevsW.restype = ctypes.c_void_p
    setupapi.SetupDiGetClassDevsW.argtypes = (
        ctypes.c_void_p,
        ctypes.c_wchar_p,
        ctypes.c_void_p,
        ctypes.c_ulong,
    )
    setupapi.SetupDiEnumDeviceInterfaces.argtypes = (
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
    )
    setupapi.SetupDiGetDeviceInterfaceDetailW.argtypes = (
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_void_p,
    )
    setupapi.SetupDiDestroyDeviceInfoList.argtypes = (ctypes.c_void_p,)
    digcf_present, digcf_deviceinterface = 0x2, 0x10
    info = setupapi.SetupDiGetClassDevsW(
        ctypes.byref(guid), None, None, digcf_present | digcf_deviceinterface
    )
    if info in (None, ctypes.c_void_p(-1).value):
        raise OSError(f"SetupDiGetClassDevsW failed ({ctypes.get_last_error()})")  # type: ignore[attr-defined]
    paths = []
    try:
        index = 0
        while True:
            data = SP_DEVICE_INTERFACE_DATA()
            data.cbSize = ctypes.sizeof(data)
            if not setupapi.SetupDiEnumDeviceInterfaces(
                info, None, ctypes.byref(guid), index, ctypes.byref(data)
            ):
                break
            index += 1
            needed = ctypes.c_ulong()
            setupapi.SetupDiGetDeviceInterfaceDetailW(
                info, ctypes.byref(data), None, 0, ctypes.byref(needed), None
            )
            if needed.value < 8:
                continue
            detail = ctypes.create_string_buffer(needed.value)
            # SP_DEVICE_INTERFACE_DETAIL_DATA_W.cbSize: 8 on 64-bit Windows
            struct.pack_into("<I", detail, 0, 8 if ctypes.sizeof(ctypes.c_void_p) == 8 else 6)
            if setupapi.SetupDiGetDeviceInterfaceDetailW(
                info, ctypes.byref(data), detail, needed, None, None
            ):
                paths.append(ctypes.wstring_at(ctypes.addressof(detail) + 4))
    finally:
        setupapi.SetupDiDestroyDeviceInfoList(info)
    return paths


def _ioctl(path: str, code: int, out_size: int) -> bytes:
    kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateFileW.restype = ctypes.c_void_p
    kernel32.CreateFileW.argtypes = (
        ctypes.c_wchar_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_void_p,
    )
    kernel32.DeviceIoControl.argtypes = (
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_void_p,
    )
    kernel32.CloseHandle.argtypes = (ctypes.c_void_p,)
    generic_read, share_rw, open_existing = 0x80000000, 0x3, 3
    handle = kernel32.CreateFileW(path, generic_read, share_rw, None, open_existing, 0, None)
    if handle in (None, ctypes.c_void_p(-1).value):
        raise OSError(f"CreateFileW failed ({ctypes.get_last_error()})")  # type: ignore[attr-defined]
    try:
        buf = ctypes.create_string_buffer(out_size)
        got = ctypes.c_ulong()
        if not kernel32.DeviceIoControl(
            handle, code, None, 0, buf, out_size, ctypes.byref(got), None
        ):
            raise OSError(f"DeviceIoControl 0x{code:x} failed ({ctypes.get_last_error()})")  # type: ignore[attr-defined]
        return buf.raw[: got.value]
    finally:
        kernel32.CloseHandle(handle)
