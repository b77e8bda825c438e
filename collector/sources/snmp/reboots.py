"""How a device's restarts are seen: sysUpTime.0 going back confirms at once that its
registers restarted. A device that does not answer sysUpTime.0 (noSuchObject, a string, an
agent refusing the whole GET for it) is still polled: its registers then go through the
register logic alone (a lower reading is held as suspect until the next one), reboot
detection is degraded, and that is said once in the log, on /metrics
(`energy_snmp_reboot_detection{device}` 0) and in `energy-collector status`.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from collector.sources.snmp.client import Client, SnmpError, Target

log = logging.getLogger("energy_collector.snmp")

SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME = (
    "1.3.6.1.2.1.1.1.0",
    "1.3.6.1.2.1.1.2.0",
    "1.3.6.1.2.1.1.3.0",
)


async def system_group(client: Client, tgt: Target) -> dict[str, Any]:
    """sysDescr, sysObjectID and sysUpTime in one GET; an agent that answers the GET with
    an error for sysUpTime (old SNMPv1-style agents: noSuchName) is asked again without it."""
    try:
        return await client.get(tgt, [SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME])
    except SnmpError as exc:
        if exc.reason != "error" or exc.status not in ("noSuchName", "genErr"):
            raise
        return await client.get(tgt, [SYS_DESCR, SYS_OBJECT_ID])


class RebootWatch:
    """sysUpTime per device; which devices have none (degraded reboot detection)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            "energy_snmp_reboot_detection",
            "1 when the device answers sysUpTime.0 (a restart is seen at once); 0 when it "
            "does not: it is still polled, its registers' restarts are found by the register "
            "logic alone (one reading later).",
            ["device"],
            registry=registry,
        )
        self.degraded: set[str] = set()

    def uptime(self, device: str, value: Any) -> int | None:
        """The device's sysUpTime in hundredths of a second, or None (degraded, said once
        per change)."""
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            if device in self.degraded:
                self.degraded.discard(device)
                log.info("snmp: %s: sysUpTime.0 answers again: reboot detection restored", device)
            self.gauge.labels(device).set(1)
            return value
        if device not in self.degraded:
            self.degraded.add(device)
            log.warning(
                "snmp: %s: no sysUpTime.0 (got %r): polled anyway, reboot detection degraded "
                "(a register restart is confirmed by the next reading instead of at once)",
                device,
                value,
            )
        self.gauge.labels(device).set(0)
        return None
