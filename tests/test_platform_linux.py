"""Linux probes against fake sysfs trees and recorded command outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.energy import EnergyMeter, rapl_delta_uj
from agent.platform import Clocks, RaplDomain
from agent.platform._linux import (
    LinuxPlatform,
    last_input_from_sessions,
    parse_bios_date,
    parse_inhibitors,
    parse_sessions,
)

INHIBIT = """\
WHO                          UID  USER  PID  COMM            WHAT                                  WHY                                       MODE
NetworkManager               0    root  812  NetworkManager  sleep                                 NetworkManager needs to turn off networks delay
GNOME Shell                  1000 alice 1650 gnome-shell     sleep                                 GNOME needs to lock the screen            delay
Firefox                      1000 alice 2410 firefox-bin     idle                                  audio-playing                             block
Unattended Upgrades Shutdown 0    root  930  unattended-upgr shutdown                              Stop ongoing upgrades or perform upgrades block
backup-tool                  0    root  4410 rsync           sleep:idle                            Nightly backup in progress                block

5 inhibitors listed.
"""


def test_inhibitors_keep_blocking_sleep_or_idle_and_drop_user_fields():
    found = parse_inhibitors(INHIBIT, with_reasons=True)
    assert [(b.app, b.what, b.reason) for b in found] == [
        ("Firefox", "idle", "audio-playing"),
        ("backup-tool", "sleep:idle", "Nightly backup in progress"),
    ]
    text = repr(found)
    assert "alice" not in text and "1000" not in text


def test_inhibitor_reasons_can_be_left_out():
    assert all(b.reason is None for b in parse_inhibitors(INHIBIT, with_reasons=False))


SESSIONS = """\
Type=x11
Class=user
State=active
IdleHint=yes
IdleSinceHint=1790000000000000

Type=tty
Class=user
State=online
IdleHint=no
IdleSinceHint=0

Type=wayland
Class=greeter
State=online
IdleHint=no
IdleSinceHint=0
"""


def test_logind_idle_hint_becomes_last_input_minus_threshold():
    now = Clocks(1_790_000_900.0, 0, 0)
    sessions = parse_sessions(SESSIONS)
    assert len(sessions) == 3
    # only the graphical user session counts; idle since T → last input T − threshold
    assert last_input_from_sessions(sessions, now, 300) == pytest.approx(1_789_999_700.0)


def test_active_graphical_session_means_input_now():
    now = Clocks(1_790_000_900.0, 0, 0)
    s = parse_sessions("Type=wayland\nClass=user\nState=active\nIdleHint=no\n")
    assert last_input_from_sessions(s, now, 300) == now.wall


def test_no_graphical_session_means_no_input_information():
    now = Clocks(1_790_000_900.0, 0, 0)
    assert last_input_from_sessions(parse_sessions("Type=tty\nClass=user\n"), now, 300) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ("06/15/2020", "2020-06"),
        ("12/01/2019", "2019-12"),
        ("13/01/2019", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_bios_date(text, expected):
    assert parse_bios_date(text) == expected


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_host_facts_from_dmi_and_battery(tmp_path):
    write(tmp_path, "class/dmi/id/sys_vendor", "Dell Inc.\n")
    write(tmp_path, "class/dmi/id/product_name", "Latitude 5420\n")
    write(tmp_path, "class/dmi/id/bios_date", "03/22/2021\n")
    write(tmp_path, "class/power_supply/BAT0/type", "Battery\n")
    facts = LinuxPlatform(sys_root=tmp_path).host_facts()
    assert facts.model == "Dell Inc. Latitude 5420"
    assert facts.manufactured == "2021-03"
    assert facts.detected_kind == "laptop"


def test_peripheral_battery_does_not_make_a_laptop(tmp_path, monkeypatch):
    write(tmp_path, "class/power_supply/hidpp_battery_0/type", "Battery\n")
    write(tmp_path, "class/power_supply/hidpp_battery_0/scope", "Device\n")
    monkeypatch.setattr("agent.platform._linux.LinuxPlatform._is_virtual", lambda self: False)
    assert LinuxPlatform(sys_root=tmp_path).host_facts().detected_kind == "desktop"


def test_virtual_machine_detected_from_dmi(tmp_path, monkeypatch):
    write(tmp_path, "class/dmi/id/sys_vendor", "QEMU\n")
    monkeypatch.setattr("agent.platform._linux._run", lambda cmd, timeout=5.0: None)
    assert LinuxPlatform(sys_root=tmp_path).host_facts().detected_kind == "vm"


def test_battery_discharge_power(tmp_path):
    write(tmp_path, "class/power_supply/BAT0/type", "Battery\n")
    write(tmp_path, "class/power_supply/BAT0/status", "Discharging\n")
    write(tmp_path, "class/power_supply/BAT0/power_now", "9500000\n")
    assert LinuxPlatform(sys_root=tmp_path).battery_discharge_watts() == pytest.approx(9.5)
    (tmp_path / "class/power_supply/BAT0/power_now").unlink()
    write(tmp_path, "class/power_supply/BAT0/current_now", "1000000\n")
    write(tmp_path, "class/power_supply/BAT0/voltage_now", "11400000\n")
    assert LinuxPlatform(sys_root=tmp_path).battery_discharge_watts() == pytest.approx(11.4)
    write(tmp_path, "class/power_supply/BAT0/status", "Charging\n")
    assert LinuxPlatform(sys_root=tmp_path).battery_discharge_watts() is None


def rapl_tree(root: Path, energy: int, max_range: int = 262143328850) -> None:
    write(root, "class/powercap/intel-rapl:0/name", "package-0")
    write(root, "class/powercap/intel-rapl:0/energy_uj", str(energy))
    write(root, "class/powercap/intel-rapl:0/max_energy_range_uj", str(max_range))
    # a sub-zone (core) must not be added on top of its package
    write(root, "class/powercap/intel-rapl:0:0/energy_uj", "123")
    write(root, "class/powercap/intel-rapl:0:0/max_energy_range_uj", str(max_range))


def test_rapl_reads_package_domains_only(tmp_path):
    rapl_tree(tmp_path, 5_000_000)
    (d,) = LinuxPlatform(sys_root=tmp_path).rapl()
    assert (d.name, d.energy_uj) == ("package-0", 5_000_000)


def test_rapl_counter_wrap():
    max_range = 262_143_328_850
    assert rapl_delta_uj(max_range - 1_000_000, 2_000_000, max_range) == 3_000_000
    assert rapl_delta_uj(10, 30, max_range) == 20
    m = EnergyMeter()
    assert m.step([RaplDomain("package-0", max_range - 5_000_000, max_range)], None, 0) is None
    energy = m.step([RaplDomain("package-0", 7_000_000, max_range)], None, 10)
    assert energy == (pytest.approx(12.0), "rapl")


def test_rapl_permission_denied_turns_measurement_off_without_crashing(
    tmp_path, monkeypatch, caplog
):
    rapl_tree(tmp_path, 1)
    real = Path.read_text

    def deny(self, *a, **k):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", deny)
    plat = LinuxPlatform(sys_root=tmp_path)
    assert plat.rapl() == []
    assert plat.rapl() == []
    assert sum("not readable" in r.message for r in caplog.records) == 1


def test_real_linux_clocks_show_no_suspend_here():
    c = LinuxPlatform().clocks()
    assert c.since_boot >= c.running > 0
    assert c.suspended_total >= -0.01


def test_no_inhibitors_is_an_empty_list_and_other_output_is_unreadable():
    assert parse_inhibitors("No inhibitors.\n", with_reasons=True) == []
    assert parse_inhibitors("Failed to connect to bus\n", with_reasons=True) is None
    assert parse_inhibitors("", with_reasons=True) is None


def test_systemd_inhibit_failing_makes_the_blockers_unreadable_said_once(
    tmp_path, monkeypatch, caplog
):
    """No system bus (a container, this machine) or not permitted: `systemd-inhibit --list`
    fails, which is not "no blockers"."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "systemd-inhibit"
    tool.write_text(
        "#!/bin/sh\necho 'Failed to connect to bus: No such file or directory' >&2\nexit 1\n"
    )
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    plat = LinuxPlatform()
    with caplog.at_level("WARNING"):
        assert plat.sleep_blockers(True) is None
        assert plat.sleep_blockers(True) is None
    assert sum("could not be read" in r.message for r in caplog.records) == 1
    tool.write_text("#!/bin/sh\necho 'No inhibitors.'\n")  # readable again, and none
    assert plat.sleep_blockers(True) == []


def test_hardware_ids_for_the_asset_register(tmp_path):
    write(tmp_path, "class/dmi/id/product_serial", "5CG1234XYZ\n")
    write(tmp_path, "class/dmi/id/product_uuid", "4C4C4544-0042-3510-8052-B4C04F4B4E32\n")
    write(tmp_path, "class/net/eno1/address", "B4:45:06:AA:BB:CC\n")
    (tmp_path / "class/net/eno1/device").mkdir()
    write(tmp_path, "class/net/lo/address", "00:00:00:00:00:00\n")
    write(tmp_path, "class/net/br0/address", "02:42:ac:11:00:01\n")  # a bridge: no device
    facts = LinuxPlatform(sys_root=tmp_path).host_facts()
    assert facts.serial == "5CG1234XYZ"
    assert facts.smbios_uuid == "4c4c4544-0042-3510-8052-b4c04f4b4e32"
    assert facts.macs == ("b4:45:06:aa:bb:cc",)


def test_hardware_ids_unreadable_or_placeholder_are_left_out(tmp_path):
    write(tmp_path, "class/dmi/id/product_serial", "To Be Filled By O.E.M.\n")
    write(tmp_path, "class/dmi/id/product_uuid", "00000000-0000-0000-0000-000000000000\n")
    facts = LinuxPlatform(sys_root=tmp_path).host_facts()
    assert (facts.serial, facts.smbios_uuid, facts.macs) == (None, None, ())
    # a file that cannot be read (root-only for an unprivileged agent: here, a directory,
    # since the tests run as root) is left out without error
    (tmp_path / "class/dmi/id/product_serial").unlink()
    (tmp_path / "class/dmi/id/product_serial").mkdir()
    assert LinuxPlatform(sys_root=tmp_path).host_facts().serial is None
