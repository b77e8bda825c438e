"""Settings read again while the agent runs: the YAML file (a Group Policy file item may drop
or replace it) and, on Windows, the MSI's and Group Policy's registry values (a Group Policy
refresh may change them). What changed is taken up without a restart (agent/service.py); a
file that does not load leaves the running settings as they are, said once per error."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from agent.config import AgentConfig, ConfigError

log = logging.getLogger("energy_agent")

TRANSPORT_KEYS = ("transport", "mqtt.", "http.")  # a change here makes a new transport


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_flat(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def changed_keys(old: AgentConfig, new: AgentConfig) -> list[str]:
    """The dotted names of the options whose values differ (names only: some are secrets)."""
    a, b = _flat(old), _flat(new)
    return sorted(k for k in a if a[k] != b.get(k))


def moves_transport(keys: list[str]) -> bool:
    return any(k == "transport" or k.startswith(TRANSPORT_KEYS[1:]) for k in keys)


class Reloader:
    """Calls `load` every `reload_interval_s` of the running settings."""

    def __init__(self, load: Callable[[], AgentConfig]) -> None:
        self.load = load
        self.next_at = 0.0
        self._error: str | None = None

    def check(self, cfg: AgentConfig, running: float) -> AgentConfig | None:
        """New settings when they are due and differ from `cfg`; else None."""
        if cfg.reload_interval_s <= 0 or running < self.next_at:
            return None
        self.next_at = running + cfg.reload_interval_s
        try:
            new = self.load()
        except (ConfigError, ValueError, OSError) as exc:
            if str(exc) != self._error:
                log.warning("settings: not taken up (%s); the running ones stay", exc)
                self._error = str(exc)
            return None
        self._error = None
        if new.state_path != cfg.state_path:
            log.warning(
                "settings: state_dir %s is taken up at the next start only (now %s)",
                new.state_path,
                cfg.state_path,
            )
            new = dataclasses.replace(new, state_dir=cfg.state_dir)
        return None if new == cfg else new
