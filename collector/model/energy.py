"""Energy of an interval, with provenance: measured, modelled or attributed.

- measured: the host's own reading. `battery` covers the whole machine; `rapl` only the CPU
  package, so the rest of the machine is modelled on top (`Profile.rest_w`), never double
  counted with the CPU term of the model.
- modelled: the power profile's linear model, P = idle + (max − idle) × cpu_util, plus the
  monitor allowance, by state.
- attributed (VMs): a share of the physical host's power. Where the host's PDU outlets are
  polled (`host_share_w`: collector/datacenter/hostpower.py), the VM's vCPU share of the
  host's measured power; else, with a mapping VM → hypervisor, share = vCPUs / host CPUs of
  idle power plus the same share of the dynamic range scaled by the VM's CPU use; without
  one, the per-vCPU default of the `vm` profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.model.profiles import Profile
from collector.quickinit import quick_init
from collector.records import Entity, Interval


@dataclass(frozen=True, slots=True)
class Hypervisor:
    name: str
    cpus: int
    idle_w: float
    max_w: float


@quick_init
@dataclass(frozen=True, slots=True)
class Energy:
    wh_measured: float = 0.0
    wh_modelled: float = 0.0
    wh_attributed: float = 0.0

    @property
    def wh(self) -> float:
        return self.wh_measured + self.wh_modelled + self.wh_attributed

    def scaled(self, f: float) -> Energy:
        return Energy(self.wh_measured * f, self.wh_modelled * f, self.wh_attributed * f)


def interval_energy(
    iv: Interval,
    entity: Entity,
    profile: Profile,
    hypervisor: Hypervisor | None = None,
    host_share_w: float | None = None,
) -> Energy:
    hours = iv.seconds / 3600.0
    if hours <= 0:
        return Energy()
    if entity.kind == "vm":
        if iv.state in ("off", "suspended"):
            return Energy()
        util = iv.cpu_util or 0.0
        if host_share_w is not None:
            watts = host_share_w
        elif hypervisor is not None:
            share = min((entity.cpus or 1) / hypervisor.cpus, 1.0)
            watts = share * (hypervisor.idle_w + (hypervisor.max_w - hypervisor.idle_w) * util)
        else:
            watts = profile.power_w(iv.state, util, entity.cpus, (entity.memory_bytes or 0) / 2**30)
        return Energy(wh_attributed=watts * hours)
    if iv.measured_j is not None and iv.measured_source == "battery":
        monitor = profile.monitor_on_w if iv.state == "active" else profile.monitor_off_w
        return Energy(wh_measured=iv.measured_j / 3600.0, wh_modelled=monitor * hours)
    if iv.measured_j is not None and iv.measured_source in ("rapl", "emi"):  # CPU package
        return Energy(wh_measured=iv.measured_j / 3600.0, wh_modelled=profile.rest_w() * hours)
    return Energy(wh_modelled=profile.power_w(iv.state, iv.cpu_util) * hours)


def embodied_kg_per_day(profile: Profile) -> float:
    """Manufacturing emissions amortised linearly over the profile's lifetime."""
    if profile.lifetime_years <= 0:
        return 0.0
    return profile.embodied_kgco2e / (profile.lifetime_years * 365.25)
