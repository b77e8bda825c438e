"""Windows' Energy Meter Interface read from buffers laid out as emi.h defines them (a fake
device: Wine has no energy meter driver; under Wine the reader finds no device and reports
none, see test_windows_runtime.py)."""

from __future__ import annotations

import struct

import pytest

from agent.energy import EnergyMeter
from agent.platform._emi import (
    IOCTL_EMI_GET_MEASUREMENT,
    IOCTL_EMI_GET_METADATA,
    IOCTL_EMI_GET_METADATA_SIZE,
    IOCTL_EMI_GET_VERSION,
    EmiDevices,
    EmiReader,
    parse_metadata,
)


def wname(text: str, size: int = 32) -> bytes:
    return text.encode("utf-16-le").ljust(size, b"\0")


def metadata_v2(channels: list[str]) -> bytes:
    out = wname("INTEL") + wname("RAPL_Driver") + struct.pack("<HH", 1, len(channels))
    for c in channels:
        name = (c + "\0").encode("utf-16-le")
        out += struct.pack("<IH", 0, len(name)) + name  # unit 0: picowatt-hours
    return out


def metadata_v1(name: str) -> bytes:
    n = (name + "\0").encode("utf-16-le")
    return struct.pack("<I", 0) + wname("AMD") + wname("EMI") + struct.pack("<HH", 1, len(n)) + n


class FakeMeter(EmiDevices):
    def __init__(self, version: int, meta: bytes, readings: list[list[int]]) -> None:
        self.version, self.meta, self.readings = version, meta, readings
        self.calls: list[int] = []

    def paths(self) -> list[str]:
        return [r"\\?\ACPI#INTC1040#0#{45bd8344-7ed6-49cf-a440-c276c933b053}"]

    def ioctl(self, path: str, code: int, out_size: int) -> bytes:
        self.calls.append(code)
        if code == IOCTL_EMI_GET_VERSION:
            return struct.pack("<H", self.version)
        if code == IOCTL_EMI_GET_METADATA_SIZE:
            return struct.pack("<I", len(self.meta))
        if code == IOCTL_EMI_GET_METADATA:
            return self.meta[:out_size]
        assert code == IOCTL_EMI_GET_MEASUREMENT
        values = self.readings.pop(0)
        return b"".join(struct.pack("<QQ", v, 10_000_000 * i) for i, v in enumerate(values))


def test_ioctl_codes_are_emi_h():
    # CTL_CODE(FILE_DEVICE_UNKNOWN, n, METHOD_BUFFERED, FILE_READ_ACCESS)
    assert [IOCTL_EMI_GET_VERSION, IOCTL_EMI_GET_MEASUREMENT] == [0x224000, 0x22400C]


def test_v2_package_channels_become_measured_cpu_energy():
    # 10 W for 60 s = 600 J = 166,666,666,667 pWh on the package; the GPU channel is not summed
    pkg0, gpu0 = 5_000_000_000_000, 1_000_000_000_000
    meter = FakeMeter(
        2,
        metadata_v2(["RAPL_Package0_PKG", "RAPL_Package0_GPU"]),
        [[pkg0, gpu0], [pkg0 + 166_666_666_667, gpu0 + 10**12]],
    )
    reader = EmiReader(meter)
    energy = EnergyMeter()
    assert energy.step(reader.read(), None, 0.0) is None  # primes
    joules, source = energy.step(reader.read(), None, 60.0)
    assert source == "emi"
    assert joules == pytest.approx(600.0, rel=1e-6)
    # metadata read once, measurements each time
    assert meter.calls.count(IOCTL_EMI_GET_METADATA) == 1


def test_v1_single_metered_component():
    names = parse_metadata(1, metadata_v1("CPU Cores"))
    assert names == ["CPU Cores"]
    reader = EmiReader(FakeMeter(1, metadata_v1("CPU Cores"), [[7], [7 + 3_600_000_000]]))
    energy = EnergyMeter()
    energy.step(reader.read(), None, 0.0)
    joules, _ = energy.step(reader.read(), None, 10.0)
    assert joules == pytest.approx(12.96e-3 * 1000, rel=1e-6)  # 3.6e9 pWh = 12.96 J


def test_a_counter_going_down_gives_no_figure():
    reader = EmiReader(FakeMeter(2, metadata_v2(["PKG"]), [[10**15], [10**12]]))
    energy = EnergyMeter()
    energy.step(reader.read(), None, 0.0)
    assert energy.step(reader.read(), None, 10.0) is None


@pytest.mark.parametrize(
    "meta",
    [
        b"\0" * 10,  # truncated
        metadata_v2(["PKG"])[:-3],  # channel name cut
        struct.pack("<I", 1) + metadata_v1("CPU")[4:],  # v1 with a unit that is not pWh
    ],
)
def test_bad_metadata_skips_the_device_with_a_line(meta, caplog):
    version = 1 if len(meta) > 68 and meta[:4] == struct.pack("<I", 1) else 2
    reader = EmiReader(FakeMeter(version, meta, [[1], [2]]))
    with caplog.at_level("WARNING"):
        assert reader.read() == []
    assert any("unreadable" in r.message for r in caplog.records)


def test_no_device_is_no_energy():
    class NoMeter(EmiDevices):
        def paths(self) -> list[str]:
            return []

    assert EmiReader(NoMeter()).read() == []


def test_listing_failing_turns_emi_off_once(caplog):
    class Broken(EmiDevices):
        def paths(self) -> list[str]:
            raise OSError("SetupDiGetClassDevsW failed (5)")

    reader = EmiReader(Broken())
    with caplog.at_level("WARNING"):
        assert reader.read() == [] and reader.read() == []
    assert sum("cannot be listed" in r.message for r in caplog.records) == 1
