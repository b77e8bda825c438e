"""GetSystemFirmwareTable('RSMB') called for real through ctypes by the official Windows
CPython under Wine (Wine builds the table from the host's DMI, empty in a container): the
binding runs, and what it returns is a table the parser reads or nothing, never an error."""

from __future__ import annotations

import json

import pytest

from agent.platform._smbios import system_ids

pytestmark = pytest.mark.services

SNIPPET = (
    "import json, struct\n"
    "from agent.platform._windows import WinApi\n"
    "t = WinApi().smbios_table()\n"
    "print('RSMB=' + json.dumps(None if t is None else t.hex()))\n"
)


def test_smbios_table_through_wine(wine_prefix, win_python, tmp_path):
    script = tmp_path / "rsmb.py"
    script.write_text(SNIPPET)
    from wine import winpath

    done = wine_prefix.run([str(win_python), winpath(script)])
    assert done.returncode == 0, done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("RSMB="))
    value = json.loads(line[5:])
    if value is not None:
        raw = bytes.fromhex(value)
        assert len(raw) >= 8 and raw[1] >= 2  # RawSMBIOSData: SMBIOS major version
        serial, uuid = system_ids(raw)
        # Wine 8 writes a System Information structure with a UUID and no serial string
        assert uuid is not None and len(uuid) == 36, raw.hex()
        assert serial is None or isinstance(serial, str)
    assert "Traceback" not in done.stdout
