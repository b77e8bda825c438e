"""Where the agent lives on Windows: `%ProgramData%\\EnergyAgent`, found with
SHGetKnownFolderPath(FOLDERID_ProgramData), the documented way. The PROGRAMDATA variable is a
fallback only: a service's environment need not carry it (Wine's did not: its services got
C:\\users\\Public in its place)."""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache

FOLDERID_PROGRAMDATA = "{62AB5D82-FDC1-4DC3-A9DD-070D1D495D97}"


@cache
def program_data() -> str:
    """The machine's ProgramData folder (C:\\ProgramData on a standard install)."""
    if sys.platform == "win32":
        try:
            return _known_folder(FOLDERID_PROGRAMDATA)
        except (AttributeError, OSError, ValueError):
            pass
    return os.environ.get("PROGRAMDATA") or r"C:\ProgramData"


class GUID(ctypes.Structure):
    _fields_ = (
        ("Data1", ctypes.c_ulong),
        ("Data2", ctypes.c_ushort),
        ("Data3", ctypes.c_ushort),
        ("Data4", ctypes.c_ubyte * 8),
    )


def guid(text: str) -> GUID:
    """A Windows GUID structure from its text form (also used by the EMI reader)."""
    import uuid

    u = uuid.UUID(text)
    return GUID(u.time_low, u.time_mid, u.time_hi_version, (ctypes.c_ubyte * 8)(*u.bytes[8:]))


def _known_folder(folder: str) -> str:
    g = guid(folder)
    path = ctypes.c_wchar_p()
    windll = ctypes.windll  # type: ignore[attr-defined]
    hr = windll.shell32.SHGetKnownFolderPath(ctypes.byref(g), 0, None, ctypes.byref(path))
    try:
        if hr != 0 or not path.value:
            raise OSError(f"SHGetKnownFolderPath: 0x{hr & 0xFFFFFFFF:08x}")
        return path.value
    finally:
        windll.ole32.CoTaskMemFree(path)


def agent_dir() -> str:
    return os.path.join(program_data(), "EnergyAgent")
