"""Measured energy from the host itself: RAPL counters and battery discharge power.

RAPL `energy_uj` counters wrap at `max_energy_range_uj`; a reading that goes down is a wrap (the
counter cannot reset while the machine runs). Battery power is sampled and integrated
(trapezoid) over running time. Nothing is invented: no reading, no figure.
"""

from __future__ import annotations

from agent.platform import RaplDomain


def rapl_delta_uj(prev: int, cur: int, max_range: int) -> int | None:
    """Microjoules between two readings of one counter, across at most one wrap."""
    if cur >= prev:
        return cur - prev
    if max_range <= 0 or prev > max_range:
        return None  # cannot tell how far it went
    return max_range - prev + cur


class EnergyMeter:
    """Keeps the previous readings and turns each new one into joules for the interval."""

    def __init__(self) -> None:
        self._rapl: dict[str, RaplDomain] = {}
        self._battery_w: float | None = None

    def step(
        self, rapl: list[RaplDomain], battery_w: float | None, running_s: float
    ) -> tuple[float, str] | None:
        """Energy over the interval that ended with these readings, with its source.

        The battery sees the whole machine, RAPL only the CPU package: battery wins when both
        are there. The first call only primes the meter.
        """
        prev_rapl, self._rapl = self._rapl, {d.name: d for d in rapl}
        prev_batt, self._battery_w = self._battery_w, battery_w
        if battery_w is not None and prev_batt is not None and running_s > 0:
            return ((prev_batt + battery_w) / 2 * running_s, "battery")
        if rapl and prev_rapl and set(prev_rapl) == set(self._rapl):
            total = 0
            for name, d in self._rapl.items():
                delta = rapl_delta_uj(prev_rapl[name].energy_uj, d.energy_uj, d.max_energy_range_uj)
                if delta is None:
                    return None
                total += delta
            # Windows reads the same package counters through its Energy Meter Interface
            emi = all(name.startswith("emi:") for name in self._rapl)
            return (total / 1e6, "emi" if emi else "rapl")
        return None
