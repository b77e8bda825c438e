"""What a raw SNMP value means before it becomes a reading: a number, a MIB's documented
"not available" filler (-1 notSupported, 65535 or 2^31-1 on some cards), or a value outside
the object's range or the plausible power of one device. Fillers and out-of-range values are
"no reading": counted (`energy_snmp_readings_rejected_total{device,table,reason}`), logged
once per row and field until the row reads again, never energy.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger("energy_collector.snmp")

# reasons a value present on the wire is not a reading
SENTINEL = "sentinel"  # a filler the MIB (or the profile, citing the card) documents
RANGE = "range"  # outside the object's range, or more power than snmp.max_power_w
NOT_A_NUMBER = "not_a_number"  # a string, an OID… where a number was expected


def judge(
    raw: Any, missing: Sequence[float] = (), valid: tuple[float, float] | None = None
) -> tuple[float | None, str | None]:
    """(value, None) for a reading; (None, reason) for a value that is not one; (None, None)
    when nothing was there (an absent cell is not a rejection)."""
    if raw is None:
        return None, None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None, NOT_A_NUMBER
    if raw in missing or raw == -1:  # -1: "notSupported" in every vendor MIB read here
        return None, SENTINEL
    if raw < 0:
        return None, RANGE
    if valid is not None and not valid[0] <= raw <= valid[1]:
        return None, RANGE
    return float(raw), None


class Rejections:
    """Counts and logs the values that were not readings, per device."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "energy_snmp_readings_rejected",
            "Values read from a device that are not readings: a MIB's documented 'not "
            "available' filler (sentinel), a value outside the object's range or above "
            "snmp.max_power_w (range), a non-number (not_a_number). Never counted as energy.",
            ["device", "table", "reason"],
            registry=registry,
        )
        self._logged: set[tuple[str, str, str, str]] = set()

    def screen(self, device: str, rows: list[Any], max_power_w: float) -> list[Any]:
        """The rows with any power above `max_power_w` taken out (range), every rejection
        counted, and logged the first time a row's field is rejected (again after it read)."""
        out = screen(rows, max_power_w)
        for row in out:
            for field, reason, raw in row.rejected:
                self.counter.labels(device, row.table, reason).inc()
                key = (device, f"{row.table}:{row.index}", field, reason)
                if key not in self._logged:
                    self._logged.add(key)
                    log.warning(
                        "snmp: %s: %s:%s %s = %r is not a reading (%s): no energy from it",
                        device,
                        row.table,
                        row.index,
                        field,
                        raw,
                        reason,
                    )
            for field in ("power_w", "energy_wh"):
                if getattr(row, field) is not None:  # reads again: say so again next time
                    for reason in (SENTINEL, RANGE, NOT_A_NUMBER):
                        self._logged.discard((device, f"{row.table}:{row.index}", field, reason))
        return out


def screen(rows: list[Any], max_power_w: float) -> list[Any]:
    """The rows, a power above `max_power_w` (no rack device draws it) taken out as range."""
    out = []
    for row in rows:
        if row.power_w is not None and row.power_w > max_power_w:
            row = dataclasses.replace(
                row, power_w=None, rejected=(*row.rejected, ("power_w", RANGE, row.power_w))
            )
        out.append(row)
    return out
