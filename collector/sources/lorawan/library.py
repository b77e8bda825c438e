"""The shipped device library: one YAML file per device model under `devices/<brand>/`,
saying which decoded fields of that model's codec mean what (register, power, current…),
in which unit, for each codec version that named them differently.

A model is found by The Things Stack's `version_ids` (`brand_id` + `model_id`, the names of
the TTN device repository `vendor/<brand>/<model>.yaml`) or, for ChirpStack, by a name its
device profile contains. Every file cites the codec it was written from. The files are data,
checked with the same machinery as the configuration: a bad file is an error naming it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from collector.sources.lorawan.field_settings import MeterFieldConfig
from energy_common.configspec import ConfigError, load, opt

DEVICES_DIR = Path(__file__).resolve().parent / "devices"
KINDS = ("smart_plug", "ct_clamp", "pulse_counter", "tic_reader", "din_meter")


@dataclass
class CodecVersion:
    version: str = opt("", "Codec version label (e.g. `ttn-2021`, `sensor-decoders-v2`).")
    source: str = opt("", "Codec this mapping was written from: repository, file, commit.")
    fields: list[MeterFieldConfig] = opt([], "The decoded fields, the register first.")

    def validate(self) -> None:
        if not self.version:
            raise ValueError("version: missing")
        if not self.source:
            raise ValueError("source: cite the codec this mapping comes from")
        if not self.fields:
            raise ValueError("fields: at least one")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"fields: a name used twice in {names}")


@dataclass
class DeviceModel:
    name: str = opt("", "Vendor and model, as people call it.")
    kind: str = opt("", "What it is.", choices=KINDS)
    brand_id: str = opt("", "The Things Stack `version_ids.brand_id` (TTN repository vendor).")
    model_ids: list[str] = opt([], "The Things Stack `version_ids.model_id` values it covers.")
    chirpstack: list[str] = opt(
        [], "Names a ChirpStack device-profile name contains for this model (case ignored)."
    )
    chirpstack_templates: list[str] = opt(
        [],
        "Exact ChirpStack device-profile names for this model: the names ChirpStack's import of "
        "the TTN repository gives its templates (the device file's `name`), listed where they "
        'are too generic to search within ("Smart Plug", "Pulse").',
    )
    docs: str = opt("", "The vendor's documentation of the fields (units, fillers).")
    versions: list[CodecVersion] = opt([], "Codec versions, the newest first.")

    def validate(self) -> None:
        for key in ("name", "kind", "brand_id", "docs"):
            if not getattr(self, key):
                raise ValueError(f"{key}: missing")
        if not self.model_ids:
            raise ValueError("model_ids: at least one")
        if not self.versions:
            raise ValueError("versions: at least one")

    @property
    def id(self) -> str:
        return f"{self.brand_id}/{self.model_ids[0]}"

    @property
    def field_names(self) -> set[str]:
        return {f.name for v in self.versions for f in v.fields}


@dataclass(frozen=True)
class Library:
    models: tuple[DeviceModel, ...]

    def by_id(self, ident: str) -> DeviceModel | None:
        """`brand/model` for any of the model's ids."""
        brand, _, model = ident.lower().partition("/")
        return next((m for m in self.models if m.brand_id == brand and model in m.model_ids), None)

    def for_tts(self, brand_id: str | None, model_id: str | None) -> DeviceModel | None:
        if not model_id:
            return None
        model_id = model_id.lower()
        hits = [
            m
            for m in self.models
            if model_id in m.model_ids and (not brand_id or m.brand_id == brand_id.lower())
        ]
        return hits[0] if len(hits) == 1 else None

    def for_chirpstack(self, profile_name: str | None) -> tuple[DeviceModel, str] | None:
        """The model whose template name the device-profile name is, else the model whose
        longest name the device-profile name contains; and that name."""
        if not profile_name:
            return None
        text = profile_name.lower()
        for m in self.models:
            for name in m.chirpstack_templates:
                if name.strip().lower() == text.strip():
                    return m, name
        best: tuple[DeviceModel, str] | None = None
        for m in self.models:
            for alias in m.chirpstack:
                if alias.lower() in text and (best is None or len(alias) > len(best[1])):
                    best = (m, alias)
        return best


def load_model(path: Path) -> DeviceModel:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    model = load(DeviceModel, data, str(path))
    if path.stem not in model.model_ids:
        raise ConfigError(f"{path}: model_ids: the file is named for a model it does not list")
    if path.parent.name != model.brand_id:
        raise ConfigError(f"{path}: brand_id: {model.brand_id!r} but the folder is another")
    return model


@functools.lru_cache(maxsize=4)
def load_library(root: Path = DEVICES_DIR) -> Library:
    models = tuple(load_model(p) for p in sorted(root.glob("*/*.yaml")))
    seen: dict[tuple[str, str], Path] = {}
    for m in models:
        for mid in m.model_ids:
            key = (m.brand_id, mid)
            if key in seen:
                raise ConfigError(f"{root}: {m.brand_id}/{mid} is described twice")
            seen[key] = root
    return Library(models)


def shipped_fields() -> dict[str, set[str]]:
    """`brand/model` → field names, for checking `meters[].profile` and `field`."""
    out: dict[str, set[str]] = {}
    for m in load_library().models:
        for mid in m.model_ids:
            out[f"{m.brand_id}/{mid}"] = m.field_names
    return out
