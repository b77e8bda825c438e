"""What an operator needs before trusting a device: `energy-collector lorawan explain
UPLINK.json` (which device, profile and fields an uplink matches and what each meter would
record) and the LoRaWAN lines of `check-config` (which profile each declared meter uses).

Pure functions over the configuration and one message body; the same resolver as the
collector's, so what they say is what the collector does.
"""

from __future__ import annotations

from typing import Any

from collector.meters.compute import parse
from collector.meters.registers import FieldSpec
from collector.sources.lorawan import messages as m
from collector.sources.lorawan.library import Library, load_library
from collector.sources.lorawan.resolve import REGISTERS, Family, Resolver, spec_for
from collector.sources.lorawan.settings import LorawanConfig, MeterConfig

MEANING = {
    "energy_index": "energy register",
    "pulse_count": "pulse counter",
    "power": "power",
    "current": "current",
    "voltage": "voltage",
}


def parse_uplink(payload: bytes) -> m.Uplink:
    """A The Things Stack v3 or ChirpStack v4/v3 uplink body, recognised by its keys."""
    if b'"end_device_ids"' in payload:
        return m.tts_v3_up(payload)
    if b'"deviceInfo"' in payload:
        return m.chirpstack_v4_up(payload)
    if b'"devEUI"' in payload:
        return m.chirpstack_v3_up(payload)
    raise m.LoraError(
        "schema", "not an uplink of The Things Stack v3 (end_device_ids) nor ChirpStack v4/v3"
    )


def _leaves(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Every number in the payload by its path (strings and booleans are not readings)."""
    out: dict[str, Any] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.update(_leaves(v, f"{prefix}[{i}]"))
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        out[prefix] = doc
    return out


def _recorded(spec: FieldSpec, value: float) -> str:
    if spec.meaning == "energy_index":
        return f"register {value:.10g} Wh: the energy is its rise between uplinks"
    if spec.meaning == "pulse_count":
        pulses = value / spec.wh_per_pulse if spec.wh_per_pulse else 0
        return (
            f"{pulses:.10g} pulses, register {value:.10g} Wh at {spec.wh_per_pulse:.10g} "
            "Wh/pulse: its rise between uplinks"
        )
    if spec.meaning == "power":
        return f"{value:.10g} W, integrated between uplinks (estimated)"
    if spec.meaning == "voltage":
        return f"{value:.10g} V (information, not energy)"
    amps = value / (spec.voltage_v * spec.power_factor) if spec.voltage_v * spec.power_factor else 0
    return (
        f"{amps:.10g} A, so {value:.10g} W estimated at {spec.voltage_v:.10g} V × power factor "
        f"{spec.power_factor:.10g}, integrated between uplinks (estimated)"
    )


def explain(cfg: LorawanConfig, payload: bytes, library: Library | None = None) -> tuple[str, bool]:
    """The explanation, and whether a meter would record something from this uplink."""
    resolver = Resolver(cfg, library)
    try:
        up = parse_uplink(payload)
    except m.LoraError as exc:
        return f"not an uplink the collector reads: {exc}", False
    lines = [
        f"device {up.dev_eui}" + (f" ({up.device_name})" if up.device_name else ""),
        f"  network server: {up.network}",
    ]
    if up.network == "tts-v3":
        lines.append(f"  version_ids: brand_id {up.brand!r}, model_id {up.profile!r}")
    else:
        lines.append(f"  device profile: {up.profile!r}")
    if up.fields is None:
        lines.append("  no decoded payload (no codec ran on the network server): nothing recorded")
        return "\n".join(lines), False
    configs = resolver.configs_for(up)
    if not configs:
        lines.append(
            "  not declared in lorawan.meters: nothing recorded; declared by its dev_eui it "
            "would read as below"
        )
        configs = [MeterConfig(dev_eui=up.dev_eui)]
    ok = False
    used: set[str] = set()
    for mc in configs:
        try:
            fam = resolver.family(mc, up)
        except LookupError as exc:
            lines.append(f"  profile: none: {exc}")
            continue
        ok = _explain_meter(lines, resolver, fam, mc, up, used) or ok
    rest = {p: v for p, v in _leaves(up.fields).items() if p not in used}
    if rest:
        lines.append(
            "unknown to the profile (not read): " + ", ".join(f"{p}={v!r}" for p, v in rest.items())
        )
    return "\n".join(lines), ok


def _explain_meter(
    lines: list[str], resolver: Resolver, fam: Family, mc: MeterConfig, up: m.Uplink, used: set[str]
) -> bool:
    assert up.fields is not None
    prof = fam.pick(up.fields)
    others = [p.version for p in fam.versions if p is not prof]
    lines.append(
        f"  profile: {prof.origin} {prof.label} ({fam.why})"
        + (f"; other codec versions: {', '.join(others)}" if others else "")
    )
    lines.append(f"    from: {prof.source}")
    try:
        meter = resolver.meter(mc, up)
    except LookupError as exc:
        lines.append(f"  meter {mc.name or up.device_name or up.dev_eui}: nothing recorded: {exc}")
        meter = None
    lines.append("  fields:")
    for f in prof.fields:
        spec = spec_for(f, mc)
        where = f.compute or f.path
        paths = parse(f.compute).paths if f.compute else [f.path]
        used.update(p for p in paths)
        out = spec.reading(up.fields)
        mark = "→" if meter is not None and meter.spec.name == f.name else " "
        head = f"   {mark} {f.name}: {MEANING[f.meaning]} from {where}"
        if out.value is None:
            lines.append(f"{head}: {out.problem} ({out.detail})")
            continue
        if f.meaning == "pulse_count" and mc.wh_per_pulse is None and prof.origin == "shipped":
            lines.append(f"{head}: {out.value / spec.wh_per_pulse:.10g} pulses")
            continue
        lines.append(f"{head}: {_recorded(spec, out.value)}")
    if meter is None:
        return False
    out = meter.reading(up.fields)
    name = meter.name
    if out.value is None:
        lines.append(
            f"  meter {name} records nothing from this uplink: {meter.spec.name} {out.problem}"
            + (f" ({out.detail})" if out.detail else "")
        )
        return False
    kind = "register" if meter.spec.meaning in REGISTERS else "estimated power"
    lines.append(f"  meter {name} records its {meter.spec.name} ({kind}), role {mc.role}")
    return True


def meter_plan(cfg: LorawanConfig, library: Library | None = None) -> list[str]:
    """For check-config: the profile each declared meter will use, and the overrides."""
    if library is None:
        library = load_library() if cfg.shipped_profiles else Library(())
    ids = sum(len(x.model_ids) for x in library.models)
    lines = [f"lorawan: shipped device library: {len(library.models)} models ({ids} model ids)"]
    for i, p in enumerate(cfg.profiles):
        shadowed = [
            x.id
            for x in library.models
            if p.match
            and (
                p.match.lower() in x.model_ids
                or any(
                    p.match.lower() in a.lower() or a.lower() in p.match.lower()
                    for a in x.chirpstack
                )
            )
        ]
        if shadowed:
            lines.append(
                f"lorawan.profiles[{i}] {p.name!r} overrides shipped {', '.join(shadowed)}"
            )
    resolver = Resolver(cfg, library)
    for i, mc in enumerate(cfg.meters):
        who = mc.dev_eui or f"device profile ~{mc.device_profile!r}"
        name = f" {mc.name!r}" if mc.name else ""
        field = f", field {mc.field}" if mc.field else ""
        if mc.profile:
            if mc.profile in resolver.user:
                what = f"user profile {resolver.user[mc.profile].label}"
            else:
                model = library.by_id(mc.profile)
                what = f"shipped {mc.profile}" + (f" ({model.name})" if model else "")
        elif mc.device_profile:
            up = m.Uplink("chirpstack-v4", "", "", None, mc.device_profile, 0.0, None, None)
            try:
                fam = resolver.family(mc, up)
                what = f"{fam.versions[0].origin} {fam.versions[0].name} ({fam.why})"
            except LookupError:
                what = "no profile matches that name: add one to lorawan.profiles"
        else:
            what = (
                "chosen at its first uplink: a lorawan.profiles match, else the shipped model "
                "its version_ids (The Things Stack) or device-profile name (ChirpStack) names "
                "(`energy-collector lorawan explain UPLINK.json` shows which)"
            )
        lines.append(f"lorawan.meters[{i}] {who}{name}{field}: {what}")
    return lines
