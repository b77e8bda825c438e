"""One field of a meter profile: where a value lives in a decoded payload and what it means.
Shared by the shipped device library and the meters' settings."""

from __future__ import annotations

from dataclasses import dataclass

from collector.meters.compute import parse
from energy_common.configspec import opt


@dataclass
class MeterFieldConfig:
    name: str = opt("energy", "Field name, referred to by `meters[].field`.")
    path: str = opt(
        "",
        "Where the value is in the decoded payload: dotted path with list "
        "indices, e.g. `bytes.counterValues[0]`.",
    )
    meaning: str = opt(
        "energy_index",
        "What it is (`voltage`: shown by `lorawan explain`, never a meter's reading).",
        choices=("energy_index", "pulse_count", "power", "current", "voltage"),
    )
    unit: str = opt(
        "Wh",
        "Unit of the value after `scale`: Wh, kWh, MWh (energy_index), W, kW (power), A, mA "
        "(current), V (voltage); ignored for pulse_count.",
        choices=("Wh", "kWh", "MWh", "W", "kW", "A", "mA", "V"),
    )
    scale: float = opt(1.0, "Multiplier applied first (e.g. 0.1 for tenths).")
    wh_per_pulse: float = opt(
        1.0, "For `pulse_count`: Wh per pulse (the meter's constant).", minimum=0
    )
    voltage_v: float = opt(230.0, "For `current`: nominal voltage.", minimum=0)
    power_factor: float = opt(0.9, "For `current`: assumed power factor.", minimum=0, maximum=1)
    wrap_at: float | None = opt(None, "Raw value at which the register rolls over, if known.")
    resets_to_zero: bool = opt(True, "After a device reboot the register restarts at 0.")
    compute: str | None = opt(
        None,
        "Instead of `path`: the value computed from other fields of the same uplink, e.g. "
        "`Current1 * Multiplier1` or `EAST or HCHC + HCHP or BASE` (sums `+` of products `*` "
        "of paths and numbers; `or`: the first alternative whose fields are all present).",
    )
    sentinels: list[float] = opt(
        [], 'Raw values the codec uses for "no reading" (e.g. 65535): counted, never energy.'
    )
    max: float | None = opt(
        None, "Raw values above this are impossible for the device: counted, never energy."
    )
    when: dict[str, str] = opt(
        {},
        "Read only from uplinks where each of these payload paths is a text starting with one "
        'of the `|`-separated prefixes (e.g. `{bytes.type: "0x46|0x5a"}`: frames that carry '
        "this channel).",
    )

    def validate(self) -> None:
        units = {
            "energy_index": ("Wh", "kWh", "MWh"),
            "power": ("W", "kW"),
            "current": ("A", "mA"),
            "voltage": ("V",),
        }.get(self.meaning)
        if units is not None and self.unit not in units:
            raise ValueError(
                f"unit: {self.unit!r} is not a unit of {self.meaning} ({', '.join(units)})"
            )
        if self.compute is not None and self.path:
            raise ValueError("compute: give either path or compute, not both")
        if self.compute is None and not self.path:
            raise ValueError("path: missing (or give compute)")
        if self.compute is not None:
            try:
                parse(self.compute)
            except ValueError as exc:
                raise ValueError(f"compute: {exc}") from None
