"""Inventory agents' own files: what FusionInventory / GLPI Agent and OCS Inventory write
with `--local` (or send to their server), for cities without GLPI or to cross-check it.

Two layouts, one reading: the OCS XML (`<REQUEST><CONTENT><BIOS>…`), which FusionInventory
2.x and the OCS agent write, and the GLPI Agent's JSON inventory format (glpi-project/
inventory_format, `{"content": {"bios": …}}`), the same tree with lower-case keys. From each
file: the computer (host name, BIOS serial, SMBIOS UUID, MACs of physical interfaces, maker
and model, chassis type) and the screens it saw (EDID serial, maker, model).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from collector.inventory.assets import Asset, clean_mac, clean_serial, clean_uuid, kind_of
from collector.inventory.csvfile import InventoryFileError

SUFFIXES = (".ocs", ".xml", ".json")

# SMBIOS chassis types as the agents name them (DMTF DSP0134 §7.4.1) → kind
CHASSIS = {
    "notebook": "laptop",
    "laptop": "laptop",
    "portable": "laptop",
    "sub notebook": "laptop",
    "convertible": "laptop",
    "detachable": "laptop",
    "tablet": "laptop",
    "desktop": "desktop",
    "low profile desktop": "desktop",
    "mini tower": "desktop",
    "tower": "desktop",
    "all in one": "desktop",
    "mini pc": "desktop",
    "space-saving": "desktop",
    "rack mount chassis": "server",
    "blade": "server",
    "multi-system chassis": "server",
}


def files_in(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in SUFFIXES))
        else:
            out.append(p)
    return out


def read_agent_file(path: str | Path, kinds: dict[str, str] | None = None) -> list[Asset]:
    """The computer and the screens one agent file describes."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InventoryFileError(str(p), [f"cannot read: {exc.strerror or exc}"]) from None
    try:
        doc = _from_json(raw) if p.suffix.lower() == ".json" else _from_xml(raw)
    except (ValueError, ET.ParseError) as exc:
        raise InventoryFileError(str(p), [f"not an inventory: {exc}"]) from None
    content = doc.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("hardware"), dict):
        raise InventoryFileError(str(p), ["no CONTENT/HARDWARE: not an agent's inventory"])
    return _assets(content, p.name, kinds or {})


def _from_json(raw: bytes) -> dict[str, Any]:
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("a JSON object is expected")
    return _lower(doc)


def _from_xml(raw: bytes) -> dict[str, Any]:
    root = ET.fromstring(raw)
    if root.tag != "REQUEST":
        raise ValueError(f"root element {root.tag}, not REQUEST")
    return _lower(_element(root))


def _element(e: ET.Element) -> Any:
    """XML to the JSON format's tree: repeated sections become lists."""
    if len(e) == 0:
        return (e.text or "").strip()
    out: dict[str, Any] = {}
    for child in e:
        value = _element(child)
        if child.tag in out:
            prev = out[child.tag]
            out[child.tag] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[child.tag] = value
    return out


def _lower(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k).lower(): _lower(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_lower(x) for x in v]
    return v


def _list(v: Any) -> list[dict[str, Any]]:
    if isinstance(v, dict):
        return [v]
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _assets(c: dict[str, Any], name: str, kinds: dict[str, str]) -> list[Asset]:
    hw = c.get("hardware") or {}
    b = c.get("bios")
    bios: dict[str, Any] = b if isinstance(b, dict) else {}
    macs: list[str] = []
    networks = _list(c.get("networks"))
    # FusionInventory / GLPI Agent flag virtual interfaces (VIRTUALDEV); the OCS agent does not,
    # but names the driver of each interface with a device behind it: when it names some, one
    # without a driver has no hardware (ifb, bridges, veth, tun; seen with Debian's OCS 2.10)
    flagged = any("virtualdev" in n for n in networks)
    drivers = any(n.get("driver") for n in networks)
    for n in networks:
        if str(n.get("virtualdev", "0")) in ("1", "true"):
            continue  # bridges, loopback, VPN: no hardware of their own
        if not flagged and drivers and not n.get("driver"):
            continue
        mac = clean_mac(n.get("macaddr"))
        if mac and mac not in macs:
            macs.append(mac)
    host = str(hw.get("name") or "").strip()
    chassis = str(bios.get("type") or hw.get("chassis_type") or "").strip().lower()
    vm = str(hw.get("vmsystem") or "physical").strip().lower()
    kind = CHASSIS.get(chassis) or kind_of(chassis, "Computer", kinds)
    if vm not in ("", "physical"):
        kind = "server" if kind == "server" else "other"  # a VM is no asset of its own
    computer = Asset(
        source="agent-file",
        source_id=host or name,
        kind=kind,
        name=host,
        serial=clean_serial(bios.get("ssn")),
        uuid=clean_uuid(hw.get("uuid")),
        macs=tuple(macs),
        model=str(bios.get("smodel") or "").strip() or None,
        manufacturer=str(bios.get("smanufacturer") or "").strip() or None,
        type=chassis or None,
        extra={"file": name, "virtual": vm if vm not in ("", "physical") else ""},
    )
    out = [computer]
    for i, m in enumerate(_list(c.get("monitors"))):
        serial = clean_serial(m.get("serial"))
        if serial is None:
            continue  # a screen without EDID serial cannot be told from another
        out.append(
            Asset(
                source="agent-file",
                source_id=f"{computer.source_id}/monitor/{serial}",
                kind="monitor",
                name=str(m.get("caption") or m.get("name") or f"monitor {i + 1}").strip(),
                serial=serial,
                model=str(m.get("caption") or "").strip() or None,
                manufacturer=str(m.get("manufacturer") or "").strip() or None,
                extra={"file": name, "attached_to": computer.source_id},
            )
        )
    return out
