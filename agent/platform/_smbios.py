"""The machine's serial number and UUID from its raw SMBIOS table (DMTF DSP0134, "System
Management BIOS Reference Specification"), as Windows' GetSystemFirmwareTable('RSMB') returns
it: no WMI, no privilege. Pure bytes in, strings out; tested with tables built from the spec."""

from __future__ import annotations

import struct

from agent.platform._common import clean_serial, clean_uuid

RAW_HEADER = 8  # RawSMBIOSData: calling method, major, minor, DMI revision, DWORD length
SYSTEM_INFORMATION = 1  # structure type 1 (DSP0134 §7.2)
END_OF_TABLE = 127


def _strings(table: bytes, at: int) -> tuple[list[str], int]:
    """The string set after a formatted area at `at`: NUL-terminated strings, ended by an
    extra NUL; returns them and the offset of the next structure."""
    out: list[str] = []
    i = at
    if table[i : i + 2] == b"\0\0":
        return out, i + 2
    while i < len(table):
        end = table.index(b"\0", i)
        if end == i:
            return out, i + 1
        out.append(table[i:end].decode("ascii", "replace").strip())
        i = end + 1
    return out, i


def _uuid(raw: bytes, major: int, minor: int) -> str | None:
    if len(raw) != 16:
        return None
    if (major, minor) >= (2, 6):
        # since SMBIOS 2.6 the first three fields are little-endian (DSP0134 §7.2.1)
        a, b, c = struct.unpack("<IHH", raw[:8])
        raw = struct.pack(">IHH", a, b, c) + raw[8:]
    h = raw.hex()
    return clean_uuid(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")


def system_ids(raw: bytes) -> tuple[str | None, str | None]:
    """(serial number, UUID) of the System Information structure, or Nones."""
    if len(raw) < RAW_HEADER:
        return None, None
    major, minor = raw[1], raw[2]
    (length,) = struct.unpack_from("<I", raw, 4)
    table = raw[RAW_HEADER : RAW_HEADER + length]
    i = 0
    try:
        while i + 4 <= len(table):
            kind, size = table[i], table[i + 1]
            if size < 4:
                return None, None  # a broken table: stop rather than loop
            strings, nxt = _strings(table, i + size)
            if kind == SYSTEM_INFORMATION and size >= 8:
                idx = table[i + 7]
                serial = strings[idx - 1] if 0 < idx <= len(strings) else None
                uuid = _uuid(table[i + 8 : i + 24], major, minor) if size >= 24 else None
                return clean_serial(serial), uuid
            if kind == END_OF_TABLE:
                break
            i = nxt
    except (ValueError, IndexError):
        pass
    return None, None
