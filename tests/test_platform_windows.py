"""The Windows module's logic, run on Linux through a fake of the OS calls (FakeWinApi)."""

from __future__ import annotations

import json
import os
import time

import pytest
from fakes import FakeWinApi

from agent.platform import Clocks
from agent.platform._windows import (
    BIOS_KEY,
    VERSION_KEY,
    WindowsPlatform,
    parse_event_time,
    parse_power_requests,
    parse_shutdown_events,
    parse_sleep_events,
    run_idle_helper,
    write_helper_file,
)

POWERCFG = r"""DISPLAY:
[PROCESS] \Device\HarddiskVolume3\Users\jdupont\AppData\Local\Microsoft\Teams\current\Teams.exe
Call in progress

SYSTEM:
[DRIVER] Realtek High Definition Audio (HDAUDIO\FUNC_01&VEN_10EC&DEV_0256&SUBSYS_10280A20&REV_1000\4&1a2b3c4d&0&0001)
An audio stream is currently in use.
[PROCESS] \Device\HarddiskVolume3\Program Files\Backup\agent.exe

AWAYMODE:
None.

EXECUTION:
[SERVICE] \Device\HarddiskVolume3\Windows\System32\svchost.exe (wuauserv)
Windows Update

PERFBOOST:
None.

ACTIVELOCKSCREEN:
None.
"""


def test_power_requests_keep_app_basename_only():
    found = parse_power_requests(POWERCFG, with_reasons=True)
    assert [(b.app, b.what, b.reason) for b in found] == [
        ("Teams.exe", "display:process", "Call in progress"),
        ("Realtek High Definition Audio", "system:driver", "An audio stream is currently in use."),
        ("agent.exe", "system:process", None),
        ("svchost.exe (wuauserv)", "execution:service", "Windows Update"),
    ]
    assert "jdupont" not in repr(found)  # a user profile path never leaves the PC


def ev(provider: str, eid: int, created: str, data: dict[str, str] | None = None) -> str:
    items = "".join(f"<Data Name='{k}'>{v}</Data>" for k, v in (data or {}).items())
    return (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        f"<Provider Name='{provider}'/><EventID>{eid}</EventID>"
        f"<TimeCreated SystemTime='{created}'/></System><EventData>{items}</EventData></Event>"
    )


def test_event_time_with_seven_decimals():
    assert parse_event_time("2024-09-07T13:17:14.529644800Z") == pytest.approx(1725715034.5296448)


def test_modern_standby_sleep_wake_pairs():
    xml = ev(
        "Microsoft-Windows-Power-Troubleshooter",
        1,
        "2024-09-07T13:22:50.0Z",
        {
            "SleepTime": "2024-09-07T13:17:14.529644800Z",
            "WakeTime": "2024-09-07T13:22:49.615516200Z",
        },
    )
    xml += ev("Microsoft-Windows-Power-Troubleshooter", 1, "2024-09-06T08:00:00Z", {})
    (pair,) = parse_sleep_events(xml)
    assert pair[1] - pair[0] == pytest.approx(335.0858714)


BOOT = 1_790_000_000.0


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(ts))


def test_shutdown_clean_from_6006():
    xml = ev("EventLog", 6006, iso(BOOT - 120)) + ev("EventLog", 6008, iso(BOOT - 86400))
    assert parse_shutdown_events(xml, BOOT) is True


def test_shutdown_unclean_from_6008_logged_at_next_boot():
    xml = ev("EventLog", 6008, iso(BOOT + 30)) + ev("EventLog", 6006, iso(BOOT - 86400))
    assert parse_shutdown_events(xml, BOOT) is False


def test_shutdown_unknown_without_events():
    assert parse_shutdown_events("", BOOT) is None


def test_clocks_from_interrupt_times():
    api = FakeWinApi(interrupt=36_000 * 10**7 + 5, unbiased=600 * 10**7)
    c = WindowsPlatform(api=api).clocks()
    assert c.suspended_total == pytest.approx(35_400, abs=1e-3)


def test_host_facts_from_registry_windows11_and_vm():
    api = FakeWinApi(
        reg={
            (BIOS_KEY, "SystemManufacturer"): "Microsoft Corporation",
            (BIOS_KEY, "SystemProductName"): "Virtual Machine",
            (BIOS_KEY, "BIOSReleaseDate"): "11/05/2022",
            (VERSION_KEY, "ProductName"): "Windows 10 Pro",
            (VERSION_KEY, "CurrentBuildNumber"): "22631",
            (VERSION_KEY, "DisplayVersion"): "23H2",
        }
    )
    facts = WindowsPlatform(api=api).host_facts()
    assert facts.os == "Windows 11 Pro 23H2"
    assert facts.detected_kind == "vm"
    assert facts.manufactured == "2022-11"


@pytest.mark.parametrize(
    ("version", "product", "build", "display", "expected"),
    [
        ((10, 0, 22631), "Windows 10 Enterprise", "22631", "23H2", "Windows 11 Enterprise 23H2"),
        ((10, 0, 19045), "Windows 10 Pro", "19045", "22H2", "Windows 10 Pro 22H2"),
        # a Wine prefix: the registry says Windows 7, the OS says 10.0.18362
        ((10, 0, 18362), "Microsoft Windows 7", "7601", None, "Windows 10"),
        ((6, 1, 7601), "Windows 7 Professional", "7601", None, "Windows 7 Professional"),
        (
            (10, 0, 20348),
            "Windows Server 2022 Datacenter",
            "20348",
            "21H2",
            "Windows Server 2022 Datacenter 21H2",
        ),
        (None, "Windows 10 Pro", "22000", None, "Windows 11 Pro"),
        (None, None, None, None, "Windows"),
    ],
)
def test_os_name_from_the_version_not_the_product_name(version, product, build, display, expected):
    from agent.platform._windows import os_name

    assert os_name(version, product, build, display) == expected


def test_suspend_intervals_and_shutdown_use_wevtutil():
    xml = ev(
        "Microsoft-Windows-Power-Troubleshooter",
        1,
        iso(BOOT + 700),
        {"SleepTime": iso(BOOT + 100), "WakeTime": iso(BOOT + 650)},
    )
    api = FakeWinApi(outputs={"Power-Troubleshooter": xml})
    plat = WindowsPlatform(api=api)
    assert plat.suspend_intervals(BOOT, BOOT + 1000) == [(BOOT + 100, BOOT + 650)]
    assert plat.suspend_intervals(BOOT + 700, BOOT + 1000) == []
    assert api.calls[0][0] == "wevtutil"


def test_idle_helper_file_is_read_by_the_service(tmp_path):
    api = FakeWinApi(idle_ms=42_000, session=3)
    run_idle_helper(tmp_path, api=api, iterations=1)
    data = json.loads((tmp_path / "session-3.json").read_text())
    assert set(data) == {"session", "last_input"}  # nothing about the user
    plat = WindowsPlatform(api=api, helper_dir=tmp_path)
    now = Clocks(time.time(), 0, 0)
    assert plat.last_input(now, 300) == pytest.approx(now.wall - 42, abs=2)


def test_stale_helper_files_are_ignored(tmp_path):
    path = write_helper_file(tmp_path, 4, time.time() - 10)
    old = time.time() - 3600
    os.utime(path, (old, old))
    plat = WindowsPlatform(api=FakeWinApi(), helper_dir=tmp_path)
    assert plat.last_input(Clocks(time.time(), 0, 0), 300) is None


def test_latest_input_over_several_sessions(tmp_path):
    now = time.time()
    write_helper_file(tmp_path, 2, now - 900)
    write_helper_file(tmp_path, 5, now - 30)
    plat = WindowsPlatform(api=FakeWinApi(), helper_dir=tmp_path)
    assert plat.last_input(Clocks(now, 0, 0), 300) == pytest.approx(now - 30, abs=0.1)


class FakeDll:
    """A stand-in for ctypes.windll: the functions a Windows build may or may not export."""

    def __init__(self, **funcs):
        self.kernelbase = type("KernelBase", (), {})()
        self.kernel32 = type("Kernel32", (), {})()
        for name, fn in funcs.items():
            lib = self.kernelbase if name == "QueryInterruptTime" else self.kernel32
            setattr(lib, name, fn)


def out(value):
    """A fake API function writing `value` through its byref() argument, returning TRUE."""

    def call(ref):
        ref._obj.value = value
        return 1

    return call


class Ticks:
    restype = None

    def __init__(self, ms):
        self.ms = ms

    def __call__(self):
        return self.ms


def test_interrupt_times_with_every_call_present():
    from agent.platform._windows import WinApi

    api = WinApi(
        FakeDll(
            QueryInterruptTime=out(9_000_000_000), QueryUnbiasedInterruptTime=out(5_000_000_000)
        )
    )
    assert api.interrupt_times() == (9_000_000_000, 5_000_000_000)


def test_without_query_interrupt_time_the_tick_count_gives_time_since_boot(caplog):
    """Windows 7/8 and Wine 8 have no QueryInterruptTime: GetTickCount64 (milliseconds,
    sleep included) takes its place, once logged, never a crash."""
    from agent.platform._windows import WinApi, WindowsPlatform

    api = WinApi(
        FakeDll(GetTickCount64=Ticks(900_000), QueryUnbiasedInterruptTime=out(5_000_000_000))
    )
    with caplog.at_level("WARNING"):
        assert api.interrupt_times() == (9_000_000_000, 5_000_000_000)
        api.interrupt_times()
    assert sum("GetTickCount64" in r.message for r in caplog.records) == 1
    clocks = WindowsPlatform(api=api).clocks()
    assert clocks.since_boot - clocks.running == pytest.approx(400.0)  # suspended for 400 s


def test_without_unbiased_time_suspend_is_not_measured_but_nothing_fails(caplog):
    from agent.platform._windows import WinApi

    def false(ref):
        return 0

    api = WinApi(FakeDll(QueryInterruptTime=out(7_000_000_000), QueryUnbiasedInterruptTime=false))
    with caplog.at_level("WARNING"):
        assert api.interrupt_times() == (7_000_000_000, 7_000_000_000)
    assert any("suspend not measurable" in r.message for r in caplog.records)
