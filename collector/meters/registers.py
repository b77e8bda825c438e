"""Meter registers done right, and which decoded field of which device means what.

A *meter profile* (per device profile and codec version, in config) says where each value
lives in the decoded payload (`bytes.counterValues[0]`, `power_consumption`…), what it means
(`energy_index`, `pulse_count`, `power`, `current`), its unit and scale. Field names differ
between codec versions of one device, so the mapping is data, never code.

Cumulative registers are counters: a decrease is a wrap (when the register's range is known
and it was near the top) or a reset (device reboot, "reset" command), never negative energy;
a reading that implies an impossible power is a glitch, ignored and counted, so a meter that
briefly reads low makes no spike. Power and current readings are integrated between uplinks
(trapezoid) and labelled estimated; current needs a nominal voltage and power factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from collector.meters.compute import Expr, Outcome, lookup, path_expr

__all__ = ["FieldSpec", "RegisterState", "Step", "lookup", "step"]

ENERGY_UNITS = {"Wh": 1.0, "kWh": 1000.0, "MWh": 1e6}
POWER_UNITS = {"W": 1.0, "kW": 1000.0}
CURRENT_UNITS = {"A": 1.0, "mA": 0.001}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    path: str
    meaning: str  # energy_index | pulse_count | power | current
    unit: str = "Wh"
    scale: float = 1.0
    wh_per_pulse: float = 1.0
    voltage_v: float = 230.0
    power_factor: float = 0.9
    wrap_at: float | None = None
    resets_to_zero: bool = True

    expr: Expr | None = None  # computed from other fields; default: the value at `path`
    sentinels: tuple[float, ...] = ()  # raw values that mean "no reading" (fillers)
    max_raw: float | None = None  # raw values above this are impossible for the device
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (path, text prefixes) it needs

    @property
    def cumulative(self) -> bool:
        return self.meaning in ("energy_index", "pulse_count")

    def value(self, fields: dict[str, Any]) -> float | None:
        """The reading in Wh (cumulative) or W (instantaneous); None if absent or invalid."""
        return self.reading(fields).value

    def reading(self, fields: dict[str, Any]) -> Outcome:
        """The reading, or why there is none: missing, wrong_type, filler (a sentinel the
        codec documents), negative, absurd (above the device's range)."""
        for path, prefixes in self.when:
            text = lookup(fields, path)
            if not isinstance(text, str) or not text.startswith(prefixes):
                # another kind of frame: this channel is not in it
                return Outcome(None, "missing", f"{path} is {text!r}, not {'|'.join(prefixes)}")
        if self.expr is None:
            # the common case, kept cheap: one path (every uplink of every meter comes here)
            got = lookup(fields, self.path)
            if isinstance(got, (int, float)) and not isinstance(got, bool) and math.isfinite(got):
                raw = float(got)
            else:
                return path_expr(self.path).evaluate(fields)  # says why there is no number
        else:
            out = self.expr.evaluate(fields)
            if out.value is None:
                return out
            raw = out.value
        if raw in self.sentinels:
            return Outcome(None, "filler", f"{raw:g} means no reading")
        if self.max_raw is not None and raw > self.max_raw:
            return Outcome(None, "absurd", f"{raw:g} above {self.max_raw:g}")
        x = raw * self.scale
        if x < 0:
            # a negative register or power is "unavailable", never zero
            return Outcome(None, "negative", f"{raw:g}")
        if self.meaning == "energy_index":
            return Outcome(x * ENERGY_UNITS[self.unit])
        if self.meaning == "pulse_count":
            return Outcome(x * self.wh_per_pulse)
        if self.meaning == "power":
            return Outcome(x * POWER_UNITS[self.unit])
        if self.meaning == "voltage":
            return Outcome(x)  # information (explain), never a meter's reading
        return Outcome(x * CURRENT_UNITS[self.unit] * self.voltage_v * self.power_factor)

    def wrap_wh(self) -> float | None:
        if self.wrap_at is None:
            return None
        if self.meaning == "pulse_count":
            return self.wrap_at * self.scale * self.wh_per_pulse
        return self.wrap_at * self.scale * ENERGY_UNITS.get(self.unit, 1.0)


@dataclass
class RegisterState:
    value: float | None = None  # last accepted reading (Wh, or W for power)
    time: float | None = None
    suspect: float | None = None  # a lower reading not yet confirmed as a reset


@dataclass(frozen=True)
class Step:
    """What one reading added: energy over [start, end], or why nothing was added."""

    start: float
    end: float
    wh: float
    estimated: bool
    note: str  # ok | first | reset | wrap | glitch | stale | gap


def step(
    spec: FieldSpec,
    state: RegisterState,
    t: float,
    value: float,
    max_power_w: float,
    max_gap_s: float,
    restarted: bool = False,
) -> Step:
    """Advance a meter by one reading; updates `state` unless the reading is rejected.
    `restarted`: the device itself says it restarted since the last reading (SNMP
    sysUpTime went back)."""
    if state.time is None or state.value is None:
        state.value, state.time = value, t
        return Step(t, t, 0.0, not spec.cumulative, "first")
    if t <= state.time:
        return Step(t, t, 0.0, False, "stale")  # replay or out of order: already counted
    dt = t - state.time
    start = state.time
    if not spec.cumulative:
        prev = state.value
        state.value, state.time = value, t
        if dt > max_gap_s:
            return Step(start, t, 0.0, True, "gap")  # no guessing over a long silence
        return Step(start, t, (prev + value) / 2 * dt / 3600.0, True, "ok")
    delta = value - state.value
    note = "ok"
    if delta < 0:
        wrap = spec.wrap_wh()
        if restarted:
            # the device says it restarted: this reading confirms itself, no wrap either
            state.suspect = value
        if wrap is not None and state.value > wrap / 2 and state.suspect is None:
            delta, note = wrap - state.value + value, "wrap"
        elif state.suspect is None:
            # lower than before: a reset, or a meter briefly reading low. The next reading
            # tells: back above the old value means a glitch, still low means a reset.
            state.suspect = value
            return Step(t, t, 0.0, False, "suspect")
        elif value < state.suspect:
            # lower again: the first low reading was no reference either; wait for two
            # readings that agree
            state.suspect = value
            return Step(t, t, 0.0, False, "suspect")
        else:
            # confirmed: still below the old value and rising from the first low reading. A
            # new segment starts there. What the register shows at that reading counts as
            # energy only after a restart from zero that physics allows (a meter rebooted to
            # 0, or a new meter at the same address); a card restored to a stored value, or a
            # swapped unit with its own history, starts the new segment without it. Either
            # way at most the one interval before the first low reading is lost.
            low = state.suspect
            rising = value - low
            # from zero: the device said it restarted, or the low reading is a few readings'
            # worth of what it uses now (a stored index or another unit's history is not)
            from_zero = (
                spec.resets_to_zero
                and low / dt * 3600.0 <= max_power_w
                and (restarted or low <= 3.0 * rising)
            )
            delta = (low if from_zero else 0.0) + rising
            note = "reset" if from_zero else "rebase"
    state.suspect = None
    if delta / dt * 3600.0 > max_power_w:
        return Step(start, t, 0.0, False, "glitch")  # keep the old reading as reference
    state.value, state.time = value, t
    return Step(start, t, delta, False, note)
