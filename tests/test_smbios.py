"""The Windows agent's serial number and UUID from the raw SMBIOS table
(GetSystemFirmwareTable('RSMB')), parsed from tables built here as DMTF DSP0134 lays them out:
structure header (type, length, handle), formatted area, string set ended by a double NUL."""

from __future__ import annotations

import struct

from fakes import FakeWinApi

from agent.platform._smbios import system_ids
from agent.platform._windows import BIOS_KEY, WindowsPlatform

DELL_UUID = "4c4c4544-0042-3510-8052-b4c04f4b4e32"


def _structure(kind: int, formatted: bytes, strings: list[str]) -> bytes:
    head = struct.pack("<BBH", kind, 4 + len(formatted), 0x0100 + kind)
    tail = b"".join(s.encode() + b"\0" for s in strings) + b"\0" if strings else b"\0\0"
    return head + formatted + tail


def _table(serial: str, uuid_bytes: bytes, major: int = 3, minor: int = 4) -> bytes:
    bios = _structure(
        0, bytes([1, 2, 0, 0, 3, 0]) + bytes(12), ["Dell Inc.", "1.21.0", "03/22/2021"]
    )
    # type 1: manufacturer 1, product 2, no version (0), serial 3, UUID, wake-up type 6 (power
    # switch), SKU 4, family 5; strings are never empty (index 0 means "none")
    system = _structure(
        1,
        bytes([1, 2, 0, 3]) + uuid_bytes + bytes([6, 4, 5]),
        ["Dell Inc.", "Latitude 5420", serial, "0A1B", "Latitude"],
    )
    end = _structure(127, b"", [])
    table = bios + system + end
    return bytes([0, major, minor, 0]) + struct.pack("<I", len(table)) + table


def _le_uuid(text: str) -> bytes:
    raw = bytes.fromhex(text.replace("-", ""))
    a, b, c = struct.unpack(">IHH", raw[:8])
    return struct.pack("<IHH", a, b, c) + raw[8:]


def test_serial_and_uuid_of_a_smbios_3_table():
    assert system_ids(_table("5CG1234XYZ", _le_uuid(DELL_UUID))) == ("5CG1234XYZ", DELL_UUID)


def test_before_smbios_2_6_the_uuid_is_read_in_network_order():
    raw = bytes.fromhex(DELL_UUID.replace("-", ""))
    assert system_ids(_table("S1", raw, 2, 4)) == ("S1", DELL_UUID)


def test_placeholders_broken_and_empty_tables_give_nothing():
    assert system_ids(_table("To Be Filled By O.E.M.", b"\xff" * 16)) == (None, None)
    whole = _table("S1", _le_uuid(DELL_UUID))
    assert system_ids(whole[:30]) == (None, None)
    assert system_ids(b"") == (None, None)
    assert system_ids(bytes([0, 3, 4, 0]) + struct.pack("<I", 4) + b"\x01\x02\x00\x00") == (
        None,
        None,
    )


def test_windows_host_facts_carry_the_smbios_ids():
    api = FakeWinApi(
        reg={(BIOS_KEY, "SystemManufacturer"): "Dell Inc."},
        smbios=_table("5CG1234XYZ", _le_uuid(DELL_UUID)),
    )
    facts = WindowsPlatform(api=api).host_facts()
    assert (facts.serial, facts.smbios_uuid) == ("5CG1234XYZ", DELL_UUID)
    assert WindowsPlatform(api=FakeWinApi()).host_facts().serial is None
