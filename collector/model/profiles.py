"""Power profiles: watts per state, per kind, overridden by model and tag (configs/*.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from energy_common.configspec import ConfigError
from energy_common.schema import KINDS


@dataclass(frozen=True, slots=True)
class Profile:
    idle_w: float = 0.0
    max_w: float = 0.0
    suspended_w: float = 0.0
    off_w: float = 0.0
    monitor_on_w: float = 0.0
    monitor_off_w: float = 0.0
    # virtual machines: per vCPU and per GB of memory instead of whole-machine figures
    idle_w_per_vcpu: float = 0.0
    max_w_per_vcpu: float = 0.0
    w_per_gb: float = 0.0
    # platform power outside the CPU package, added to RAPL readings (RAPL sees the CPU only)
    rapl_rest_w: float | None = None
    embodied_kgco2e: float = 0.0
    lifetime_years: float = 5.0

    def power_w(
        self,
        state: str,
        cpu_util: float | None,
        cpus: int | None = None,
        memory_gb: float | None = None,
    ) -> float:
        """Modelled mean power of a machine in `state` at `cpu_util` (0..1)."""
        u = 0.0 if cpu_util is None else min(max(cpu_util, 0.0), 1.0)
        if self.idle_w_per_vcpu or self.max_w_per_vcpu:
            if state in ("off", "suspended"):
                return 0.0
            n = cpus or 1
            mem = (memory_gb or 0.0) * self.w_per_gb
            return (
                n * (self.idle_w_per_vcpu + (self.max_w_per_vcpu - self.idle_w_per_vcpu) * u) + mem
            )
        if state in ("active", "idle", "unknown"):
            monitor = self.monitor_on_w if state == "active" else self.monitor_off_w
            util = u if state != "unknown" else 0.0
            return self.idle_w + (self.max_w - self.idle_w) * util + monitor
        if state == "suspended":
            return self.suspended_w + self.monitor_off_w
        if state == "off":
            return self.off_w + self.monitor_off_w
        raise ValueError(f"unknown state {state!r}")

    def rest_w(self) -> float:
        """Power outside the CPU package, for hosts measuring RAPL (default: 60 % of idle)."""
        return (
            self.rapl_rest_w
            if self.rapl_rest_w is not None
            else 0.6 * self.idle_w + self.monitor_on_w
        )


# the profiles shipped with the code, next to this module (the default of model.profiles_file)
SHIPPED = Path(__file__).resolve().parent / "power-profiles.yaml"

FIELDS = {f.name for f in dataclasses.fields(Profile)}


def _overrides(data: Any, where: str) -> dict[str, float]:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of profile fields")
    out = {}
    for k, v in data.items():
        if k not in FIELDS:
            raise ConfigError(f"{where}.{k}: unknown profile field (one of {sorted(FIELDS)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ConfigError(f"{where}.{k}: expected a non-negative number, got {v!r}")
        out[k] = float(v)
    return out


@dataclass
class ProfileBook:
    defaults: dict[str, Profile]
    models: list[tuple[str, dict[str, float]]]
    tags: list[tuple[str, str, dict[str, float]]]
    source: str = "<built-in>"
    _memo: dict[tuple[str, str | None, tuple[tuple[str, str], ...]], Profile] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def load(cls, path: str | Path) -> ProfileBook:
        source = str(path)
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: expected a mapping")
        unknown = set(doc) - {"defaults", "models", "tags"}
        if unknown:
            raise ConfigError(f"{source}: {sorted(unknown)[0]}: unknown section")
        defaults = {}
        for kind, data in (doc.get("defaults") or {}).items():
            if kind not in KINDS:
                raise ConfigError(f"{source}: defaults.{kind}: not a device kind {KINDS}")
            defaults[kind] = Profile(**_overrides(data, f"{source}: defaults.{kind}"))
        missing = [k for k in KINDS if k not in defaults]
        if missing:
            raise ConfigError(f"{source}: defaults.{missing[0]}: missing (every kind needs one)")
        models = [
            (str(m).lower(), _overrides(d, f"{source}: models.{m}"))
            for m, d in (doc.get("models") or {}).items()
        ]
        tags = []
        for t, d in (doc.get("tags") or {}).items():
            key, sep, value = str(t).partition("=")
            if not sep:
                raise ConfigError(f"{source}: tags.{t}: write tags as key=value")
            tags.append((key, value, _overrides(d, f"{source}: tags.{t}")))
        return cls(defaults, models, tags, source)

    def profile_for(self, kind: str, model: str | None, tags: dict[str, str]) -> Profile:
        """The profile of a host: its kind's, changed by every matching model and tag entry.
        Remembered per (kind, model, tags): ingest asks for every report."""
        key = (kind, model, tuple(tags.items()) if tags else ())
        profile = self._memo.get(key)
        if profile is None:
            if len(self._memo) >= 4096:
                self._memo.clear()
            profile = self._memo[key] = self._profile_for(kind, model, tags)
        return profile

    def _profile_for(self, kind: str, model: str | None, tags: dict[str, str]) -> Profile:
        base = self.defaults.get(kind) or self.defaults["desktop"]
        changes: dict[str, float] = {}
        lowered = (model or "").lower()
        for needle, over in self.models:
            if needle and needle in lowered:
                changes.update(over)
        for key, value, over in self.tags:
            if tags.get(key) == value:
                changes.update(over)
        return dataclasses.replace(base, **changes) if changes else base
