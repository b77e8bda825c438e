"""`check-config` for the inventory: the secrets GLPI needs are readable and not blank, and
the agents' files and CSVs named exist, before the first sync finds out."""

from __future__ import annotations

from pathlib import Path

from collector.inventory.settings import InventoryConfig
from energy_common.configspec import ConfigError, read_secret


def check_inventory(cfg: InventoryConfig) -> None:
    g = cfg.glpi
    if g.url:
        files = (
            [("app_token_file", g.app_token_file), ("user_token_file", g.user_token_file)]
            if g.api == "legacy"
            else [("client_secret_file", g.client_secret_file), ("password_file", g.password_file)]
        )
        for what, path in files:
            if path is not None:
                read_secret(None, path, f"inventory.glpi.{what}")
        if g.ca_file and not Path(g.ca_file).is_file():
            raise ConfigError(f"inventory.glpi.ca_file: {g.ca_file}: no such file")
    for i, p in enumerate(cfg.agent_files):
        if not Path(p).exists():
            raise ConfigError(f"inventory.agent_files[{i}]: {p}: no such file or folder")
    for i, p in enumerate(cfg.csv_files):
        if not Path(p).is_file():
            raise ConfigError(f"inventory.csv_files[{i}]: {p}: no such file")
    if not (g.url or cfg.agent_files or cfg.csv_files):
        raise ConfigError(
            "inventory.enabled: no source (glpi.url, agent_files or csv_files) is configured"
        )
