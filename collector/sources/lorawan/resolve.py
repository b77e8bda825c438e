"""Which meters an uplink feeds and which profile reads each: the user's profiles first
(`meters[].profile`, then a profile whose `match` fits), then the shipped device library
(The Things Stack `version_ids`, or a name in ChirpStack's device-profile name). For a
shipped model with several codec versions, the version whose fields the payload carries.

Every refusal is a `LookupError` whose text tells the operator what to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.meters.compute import Outcome, lookup, parse
from collector.meters.registers import FieldSpec
from collector.sources.lorawan import messages as m
from collector.sources.lorawan.field_settings import MeterFieldConfig
from collector.sources.lorawan.library import DeviceModel, Library, load_library
from collector.sources.lorawan.settings import LorawanConfig, MeterConfig

REGISTERS = ("energy_index", "pulse_count")
READINGS = (*REGISTERS, "power", "current")  # what a meter can be read from


@dataclass(frozen=True)
class Profile:
    """One mapping of decoded fields, from the user's configuration or the library."""

    name: str  # `profiles[].name`, or `brand/model` for a shipped model
    version: str
    fields: tuple[MeterFieldConfig, ...]
    origin: str  # user | shipped
    source: str  # where it is written: lorawan.profiles[i], or the codec cited

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class Family:
    """The versions a device may speak and why they were chosen for it."""

    versions: tuple[Profile, ...]
    why: str
    model: DeviceModel | None = None

    def pick(self, fields: dict[str, Any] | None) -> Profile:
        """The version whose fields the payload carries most; the newest on a tie."""
        if len(self.versions) == 1 or not fields:
            return self.versions[0]
        return max(self.versions, key=lambda p: (_present(p, fields), -self.versions.index(p)))


def _present(p: Profile, fields: dict[str, Any]) -> int:
    n = 0
    for f in p.fields:
        paths = parse(f.compute).paths if f.compute else [f.path]
        n += sum(lookup(fields, x) is not None for x in paths)
    return n


@dataclass(frozen=True)
class Meter:
    name: str
    dev_eui: str
    spec: FieldSpec
    profile: str  # label: name@version
    cfg: MeterConfig
    origin: str = "user"
    field_cfg: MeterFieldConfig | None = field(default=None, compare=False)

    def reading(self, fields: dict[str, Any]) -> Outcome:
        """The field's reading, refused as `absurd` when a power is above what this meter
        can draw (`max_power_w`): what the collector records and `explain` shows."""
        out = self.spec.reading(fields)
        limit = self.cfg.max_power_w
        if out.value is not None and not self.spec.cumulative and out.value > limit:
            return Outcome(None, "absurd", f"{out.value:.6g} W above max_power_w {limit:g}")
        return out


def spec_for(f: MeterFieldConfig, mc: MeterConfig | None) -> FieldSpec:
    wh = mc.wh_per_pulse if mc is not None and mc.wh_per_pulse is not None else f.wh_per_pulse
    return FieldSpec(
        f.name,
        f.path,
        f.meaning,
        f.unit,
        f.scale,
        wh,
        f.voltage_v,
        f.power_factor,
        f.wrap_at,
        f.resets_to_zero,
        parse(f.compute) if f.compute else None,
        tuple(f.sentinels),
        f.max,
        tuple((k, tuple(v.split("|"))) for k, v in f.when.items()),
    )


def shipped_profiles(model: DeviceModel) -> tuple[Profile, ...]:
    return tuple(
        Profile(model.id, v.version, tuple(v.fields), "shipped", v.source) for v in model.versions
    )


class Resolver:
    def __init__(self, cfg: LorawanConfig, library: Library | None = None) -> None:
        self.cfg = cfg
        if library is None and cfg.shipped_profiles:
            library = load_library()
        self.library = library or Library(())
        self.user = {
            p.name: Profile(p.name, p.version, tuple(p.fields), "user", f"lorawan.profiles[{i}]")
            for i, p in enumerate(cfg.profiles)
        }
        self.by_eui: dict[str, list[MeterConfig]] = {}
        for mc in cfg.meters:
            if mc.dev_eui:
                self.by_eui.setdefault(mc.dev_eui.lower(), []).append(mc)
        self.by_profile = [mc for mc in cfg.meters if mc.device_profile and not mc.dev_eui]
        self._families: dict[tuple[int, str | None, str | None], Family] = {}
        self._meters: dict[tuple[int, str, str | None, str, str], Meter] = {}
        self._lists: dict[tuple[str, str | None, str | None, str | None], list[Meter]] = {}

    # -- which meters ----------------------------------------------------------------------------

    def configs_for(self, up: m.Uplink) -> list[MeterConfig]:
        configs = self.by_eui.get(up.dev_eui)
        if configs:
            return configs
        name = (up.profile or "").lower()
        mc = next(
            (c for c in self.by_profile if name and (c.device_profile or "").lower() in name),
            None,
        )
        return [mc] if mc is not None else []

    # -- which profile ---------------------------------------------------------------------------

    def family(self, mc: MeterConfig, up: m.Uplink) -> Family:
        key = (id(mc), up.profile, up.brand or up.tags.get("model"))
        fam = self._families.get(key)
        if fam is None:
            fam = self._family(mc, up)
            if len(self._families) < 100_000:
                self._families[key] = fam
        return fam

    def _family(self, mc: MeterConfig, up: m.Uplink) -> Family:
        if mc.profile:
            if mc.profile in self.user:
                return Family((self.user[mc.profile],), "meters[].profile names it")
            model = self.library.by_id(mc.profile)
            if model is not None:
                return Family(shipped_profiles(model), "meters[].profile names it", model)
            raise LookupError(f"no profile named {mc.profile!r}")
        for i, p in enumerate(self.cfg.profiles):
            if p.match and up.profile and p.match.lower() in up.profile.lower():
                return Family(
                    (self.user[p.name],),
                    f"lorawan.profiles[{i}].match {p.match!r} is in {up.profile!r}",
                )
        if up.network == "tts-v3":
            model = self.library.for_tts(up.brand, up.profile)
            if model is not None:
                return Family(
                    shipped_profiles(model),
                    f"The Things Stack version_ids {up.brand}/{up.profile}",
                    model,
                )
        else:
            # a `model: brand/model` tag names the model whatever the profile is called
            # (ChirpStack v4 puts the device profile's and the device's tags in every event)
            tagged = up.tags.get("model")
            model = self.library.by_id(tagged) if tagged else None
            if model is not None:
                return Family(shipped_profiles(model), f"ChirpStack tag model={tagged}", model)
            hit = self.library.for_chirpstack(up.profile)
            if hit is not None:
                return Family(
                    shipped_profiles(hit[0]),
                    f"ChirpStack device profile {up.profile!r} contains {hit[1]!r}",
                    hit[0],
                )
        said = (
            f"The Things Stack version_ids {up.brand or '?'}/{up.profile or '?'}"
            if up.network == "tts-v3"
            else f"device profile {up.profile!r}"
        )
        raise LookupError(
            f"{said} matches no profile of lorawan.profiles nor any shipped model; write a "
            "profile (docs/lorawan.md) or name one in meters[].profile"
        )

    # -- the meters ------------------------------------------------------------------------------

    def meters(self, up: m.Uplink) -> list[Meter]:
        """The meters an uplink feeds: one, or one per channel of a multi-channel device."""
        key = (up.dev_eui, up.profile, up.brand or up.tags.get("model"), up.device_name)
        hit = self._lists.get(key)
        if hit is not None:
            return hit
        configs = self.configs_for(up)
        out = [self.meter(mc, up) for mc in configs]
        # a device whose model has one codec version always reads the same way; with several,
        # each uplink picks its version
        if len(self._lists) < 100_000 and all(
            len(self.family(mc, up).versions) == 1 for mc in configs
        ):
            self._lists[key] = out
        return out

    def meter(self, mc: MeterConfig, up: m.Uplink) -> Meter:
        fam = self.family(mc, up)
        prof = fam.pick(up.fields)
        key = (id(mc), up.dev_eui, up.device_name, prof.label, prof.origin)
        meter = self._meters.get(key)
        if meter is None:
            meter = self._meter(mc, up, prof)
            if len(self._meters) < 100_000:
                self._meters[key] = meter
        return meter

    def _meter(self, mc: MeterConfig, up: m.Uplink, prof: Profile) -> Meter:
        if mc.field:
            f = next((x for x in prof.fields if x.name == mc.field), None)
            if f is None:
                raise LookupError(f"profile {prof.label} has no field {mc.field!r}")
            if f.meaning not in READINGS:
                raise LookupError(f"field {mc.field!r} of {prof.label} is a {f.meaning}")
        else:
            # a register the device keeps (energy, pulses) before anything integrated from
            # instantaneous power or current (estimated)
            f = next(
                (x for x in prof.fields if x.meaning in REGISTERS),
                next((x for x in prof.fields if x.meaning in READINGS), None),
            )
            if f is None:
                raise LookupError(f"profile {prof.label} has no energy, power or current field")
        if f.meaning == "pulse_count" and prof.origin == "shipped" and mc.wh_per_pulse is None:
            raise LookupError(
                f"{prof.name} counts pulses: give meters[].wh_per_pulse, the Wh per pulse "
                "of the meter it reads"
            )
        name = mc.name or up.device_name or up.dev_eui
        return Meter(name, up.dev_eui, spec_for(f, mc), prof.label, mc, prof.origin, f)
