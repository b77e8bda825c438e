"""The Windows module's logic, run on Linux through a fake of the OS calls (FakeWinApi)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

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


FIXTURES = Path(__file__).parent / "fixtures" / "windows"


@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
def test_power_requests_read_in_any_display_language(locale):
    """The headings are translated ("AFFICHAGE :", "SYSTÈME :"…), the kind tags are not:
    sections are told by their order, so a French Teams call is a display blocker too."""
    text = (FIXTURES / f"powercfg-requests-{locale}.txt").read_text(encoding="utf-8")
    found = parse_power_requests(text, with_reasons=True)
    assert found is not None
    assert [(b.app, b.what) for b in found] == [
        ("Teams.exe", "display:process"),
        (found[1].app, "system:driver"),
        ("agent.exe", "system:process"),
        ("svchost.exe (wuauserv)", "execution:service"),
    ]
    assert found[0].reason in ("Call in progress", "Appel en cours")
    assert "HDAUDIO" not in found[1].app
    assert not any(u in repr(found) for u in ("jdupont", "mlefevre"))


@pytest.mark.parametrize(
    "text",
    [
        "Access denied.\n",  # what a non-administrator gets, in some builds, on stdout
        "Accès refusé.\nVous devez être administrateur pour exécuter cette commande.\n",
        "DISPLAY:\nNone.\n\nSYSTEM:\nNone.\n",  # cut short
        "[PROCESS] \\Device\\x.exe\n",  # a request with no heading before it
        "DISPLAY:\nNone.\nsomething else\nand more\n\nSYSTEM:\nNone.\n\nAWAYMODE:\nNone.\n\n"
        "EXECUTION:\nNone.\n",
    ],
)
def test_power_requests_not_understood_are_unreadable_not_none(text):
    assert parse_power_requests(text, with_reasons=False) is None


def test_no_requests_at_all_is_an_empty_list():
    text = "".join(f"{h}:\nNone.\n\n" for h in ("DISPLAY", "SYSTEM", "AWAYMODE", "EXECUTION"))
    assert parse_power_requests(text, with_reasons=False) == []


def test_powercfg_failing_or_not_understood_is_unreadable_and_logged_once(caplog):
    api = FakeWinApi()  # no output for powercfg: the command failed (not an administrator)
    plat = WindowsPlatform(api=api)
    with caplog.at_level("WARNING"):
        assert plat.sleep_blockers(True) is None
        assert plat.sleep_blockers(True) is None
    assert sum("administrator" in r.message for r in caplog.records) == 1
    api.outputs["powercfg"] = "Sortie inattendue\nsur deux lignes\n"
    with caplog.at_level("WARNING"):
        assert plat.sleep_blockers(True) is None
    assert any("does not understand" in r.message for r in caplog.records)


def test_unreadable_blockers_are_said_in_the_report(tmp_path):
    from fakes import FakePlatform

    from agent.config import AgentConfig
    from agent.service import Agent
    from agent.transport import Transport
    from energy_common.schema import parse_report

    class Keep(Transport):
        def pump(self, spool):
            return False

    p = FakePlatform()
    p.blockers = None
    agent = Agent(AgentConfig(state_dir=str(tmp_path)), platform=p, transport=Keep())
    agent.startup()
    agent.refresh_blockers()
    p.run(60)
    agent.step()
    agent.report()
    (seq,) = agent.spool.seqs()
    report = parse_report(agent.spool.read(seq))
    assert report.unreadable == ("sleep_blockers",) and report.sleep_blockers == ()
    p.blockers = []  # readable again, and none: no longer said
    agent.refresh_blockers()
    p.run(60)
    agent.step()
    agent.report()
    assert parse_report(agent.spool.read(agent.spool.seqs()[-1])).unreadable == ()


def test_event_log_unreadable_falls_back_logged_once(caplog):
    api = FakeWinApi()  # wevtutil gives nothing: the call failed
    plat = WindowsPlatform(api=api)
    with caplog.at_level("WARNING"):
        assert plat.suspend_intervals(0, 2e9) == []  # the interrupt-time bias alone
        assert plat.suspend_intervals(0, 2e9) == []
        assert plat.shutdown_was_clean(1.7e9) is None  # the agent's own clean-stop flag
    assert sum("interrupt-time" in r.message for r in caplog.records) == 1
    assert sum("6006/6008" in r.message for r in caplog.records) == 1


def test_idle_helper_survives_a_failing_get_last_input_info(tmp_path, caplog):
    from agent.platform._windows import WinApi

    class NoInput(WinApi):
        def session_id(self) -> int:
            return 3

        def idle_ms_this_session(self) -> int:
            raise OSError("GetLastInputInfo failed")

    with caplog.at_level("WARNING"):
        run_idle_helper(tmp_path, interval_s=0, api=NoInput(), iterations=3)
    assert not list(tmp_path.glob("*.json"))  # nothing claimed for the session
    assert sum("GetLastInputInfo" in r.message for r in caplog.records) == 1


def test_get_last_input_info_through_the_dll():
    from agent.platform._windows import WinApi

    class User32:
        def GetLastInputInfo(self, ref):
            ref._obj.dwTime = 1_000
            return 1

    class Kernel32:
        def GetTickCount(self):
            return 61_000

    dll = type("Dll", (), {"user32": User32(), "kernel32": Kernel32()})()
    assert WinApi(dll).idle_ms_this_session() == 60_000

    class Failing(User32):
        def GetLastInputInfo(self, ref):
            return 0

    dll.user32 = Failing()
    with pytest.raises(OSError):
        WinApi(dll).idle_ms_this_session()


def test_event_log_output_not_understood_falls_back_logged_once(caplog):
    api = FakeWinApi(outputs={"wevtutil": "Erreur : le canal spécifié est introuvable.\r\n<"})
    plat = WindowsPlatform(api=api)
    with caplog.at_level("WARNING"):
        assert plat.suspend_intervals(0, 2e9) == []
        assert plat.suspend_intervals(0, 2e9) == []
        assert plat.shutdown_was_clean(1.7e9) is None
    assert sum("not event XML" in r.message for r in caplog.records) == 2  # one per query
    with pytest.raises(ValueError):
        parse_sleep_events("<Event>")
