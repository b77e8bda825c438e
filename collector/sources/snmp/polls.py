"""One poll of one device (its rows, status readings and ports, stamped at the walk's end)
and how a row is found in a device's outlet mappings."""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.sources.snmp.interfaces import Port
from collector.sources.snmp.profiles import Row, Status
from collector.sources.snmp.settings import SnmpDeviceConfig


@dataclass
class Poll:
    device: SnmpDeviceConfig
    time: float
    rows: list[Row] = field(default_factory=list)
    rebooted: bool = False
    ports: list[Port] = field(default_factory=list)
    status: list[tuple[Status, str, float]] = field(default_factory=list)


def mapped(mapping: dict[str, str], row: Row) -> tuple[str, str | None]:
    """A row's entry in an outlet mapping (`outlets`, `outlet_roles`): the key that matched
    (`<table>:<index>` first, else the row's label) and its value, or None."""
    key = f"{row.table}:{row.index}"
    if key in mapping:
        return key, mapping[key]
    label = row.label or row.index
    return label, mapping.get(label)


def outlet_role(d: SnmpDeviceConfig, row: Row) -> str | None:
    """The role of a breakdown row (an outlet) that feeds something other than its device's
    role (`outlet_roles`), carved out of the device's total; None for the others."""
    return mapped(d.outlet_roles, row)[1] if row.breakdown else None
