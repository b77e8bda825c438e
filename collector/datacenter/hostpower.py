"""Measured power of physical servers, for attributing it to their VMs.

The SNMP poller integrates the polled watts of each PDU outlet mapped to a server
(`snmp.devices[].outlets`) into `server_hours` (collector/meters/store.py: energy and
covered seconds per outlet and clock hour; a dual-PSU server has two outlets, often on two
PDUs). Power readings, not energy registers: a PDU outlet register counts in 100 Wh steps,
too coarse for five-minute VM intervals. The accountant asks `HostPower.vm_watts` for a VM
interval; without enough measured coverage it falls back to the hypervisor's modelled power
(model.hypervisors).

A VM gets share = its vCPUs / max(host CPUs, vCPUs of all the host's VMs known to the
ledger) of the host's measured power, so overcommitted hosts never hand out more than they
drew once their VMs have reported (each VM's first intervals after a fresh ledger only know
the VMs seen so far).
"""

from __future__ import annotations

from typing import Any

from collector.ledger import Ledger

# an interval is attributed from measurement when measured hours cover at least this share
MIN_COVERAGE = 0.5


class HostPower:
    def __init__(self, ledger: Ledger, vm_hosts: dict[str, str]) -> None:
        self.ledger = ledger
        self.vm_hosts = vm_hosts

    def mean_w(self, server: str, start: float, end: float) -> float | None:
        """The server's mean measured power over [start, end): per hour, the sum of its
        outlets' mean power (an hour counts only when every outlet mapped to the server
        was read in it), weighted by the time read. None below MIN_COVERAGE."""
        if end <= start:
            return None
        rows = self.ledger.execute("SELECT COUNT(*) FROM meters WHERE server = ?", (server,))
        outlets = int(rows[0][0]) if rows else 0
        if outlets == 0:
            return None
        by_hour: dict[float, list[tuple[float, float]]] = {}
        for hour, wh, covered_s in self.ledger.execute(
            "SELECT hour_start, wh, covered_s FROM server_hours WHERE server = ? "
            "AND hour_start > ? AND hour_start < ? AND covered_s > 0",
            (server, start - 3600, end),
        ):
            by_hour.setdefault(hour, []).append((wh, covered_s))
        energy = covered = 0.0
        for hour, parts in by_hour.items():
            overlap = min(end, hour + 3600) - max(start, hour)
            if overlap <= 0 or len(parts) < outlets:
                continue
            watts = sum(wh * 3600.0 / c for wh, c in parts)
            seen = min(overlap, min(c for _, c in parts))
            energy += watts * seen
            covered += seen
        if covered < MIN_COVERAGE * (end - start):
            return None
        return energy / covered

    def vm_share(self, vm: str, vm_cpus: int, host_cpus: int) -> float:
        peers = [name for name, host in self.vm_hosts.items() if host == self.vm_hosts.get(vm)]
        total = 0
        if peers:
            marks = ",".join("?" for _ in peers)
            rows = self.ledger.execute(
                f"SELECT hostname, MAX(cpus) FROM hosts WHERE hostname IN ({marks}) "
                "AND kind = 'vm' GROUP BY hostname",
                peers,
            )
            known = {name: int(c or 1) for name, c in rows}
            known[vm] = vm_cpus  # this report's own figure, even before its first commit
            total = sum(known.values())
        return vm_cpus / max(host_cpus, total, 1)

    def vm_watts(
        self, vm: str, vm_cpus: int, server: str, host_cpus: int, start: float, end: float
    ) -> float | None:
        """The VM's share of the server's measured power over [start, end), or None."""
        host_w = self.mean_w(server, start, end)
        if host_w is None:
            return None
        return self.vm_share(vm, vm_cpus, host_cpus) * host_w


class AttributionCounts:
    """/metrics: VM intervals attributed from measured host power vs from the model."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        fam = CounterMetricFamily(
            "energy_vm_attribution_intervals",
            "VM intervals attributed from their host's measured power (`measured`: PDU "
            "outlets mapped to the host) or from the hypervisor's model (`modelled`).",
            labels=["basis"],
        )
        for basis, n in sorted(self.counts.items()):
            fam.add_metric([basis], n)
        yield fam
