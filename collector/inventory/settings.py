"""The `inventory` section of the collector's configuration (docs/collector-config.md):
where the city's asset register comes from (GLPI, inventory agents' files, a CSV) and the
embodied-carbon and lifetime factors applied to it (docs/inventory.md)."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt, section

# what an asset is, for embodied figures and the fleet's ages; agents' kinds plus the gear
# that runs no agent
ASSET_KINDS = (
    "desktop",
    "laptop",
    "thin_client",
    "workstation",
    "server",
    "monitor",
    "network",
    "peripheral",
    "other",
)

# GLPI's own type names (the default dropdown values and the usual French ones) → kind; a
# city's own type names go in `inventory.kinds`
DEFAULT_KINDS = {
    "desktop": "desktop",
    "ordinateur de bureau": "desktop",
    "tour": "desktop",
    "mini tower": "desktop",
    "laptop": "laptop",
    "notebook": "laptop",
    "portable": "laptop",
    "ordinateur portable": "laptop",
    "thin client": "thin_client",
    "client léger": "thin_client",
    "workstation": "workstation",
    "station de travail": "workstation",
    "server": "server",
    "serveur": "server",
    "rack mount chassis": "server",
    "blade": "server",
    "switch": "network",
    "commutateur": "network",
    "router": "network",
    "routeur": "network",
    "firewall": "network",
    "pare-feu": "network",
    "access point": "network",
    "borne wifi": "network",
}

# GLPI states that mean the asset has left service (its decommission date, or else the state's
# change, ends its life); a city's own names go in `inventory.retired_states`
DEFAULT_RETIRED_STATES = [
    "retired",
    "réformé",
    "reformé",
    "rebut",
    "hors service",
    "décommissionné",
    "decommissioned",
    "recyclé",
    "donné",
    "vendu",
]


@dataclass
class GlpiConfig:
    url: str = opt(
        "",
        "GLPI's base URL (`https://glpi.example.org`); empty: GLPI is not read. The legacy API "
        "is `<url>/apirest.php`, the high-level API `<url>/api.php/v2`.",
    )
    api: str = opt(
        "legacy",
        "`legacy`: apirest.php (GLPI 9.5 to 11; App-Token + user token); `v2`: the "
        "high-level API of GLPI 11 (OAuth2 password grant).",
        choices=("legacy", "v2"),
    )
    app_token_file: str | None = opt(
        None, "legacy: file holding the API client's App-Token (Setup > General > API)."
    )
    user_token_file: str | None = opt(
        None,
        "legacy: file holding the read-only user's API token (its preferences, 'Remote "
        "access keys'). Give that user a read-only profile.",
    )
    client_id: str = opt("", "v2: the OAuth client's id (Setup > OAuth clients).")
    client_secret_file: str | None = opt(None, "v2: file holding the OAuth client's secret.")
    username: str = opt("", "v2: the read-only user's login.")
    password_file: str | None = opt(None, "v2: file holding that user's password.")
    itemtypes: list[str] = opt(
        ["Computer", "Monitor", "NetworkEquipment", "Peripheral"],
        "GLPI asset types read.",
    )
    page_size: int = opt(
        200, "Items per request (GLPI caps it: its Accept-Range header).", minimum=1, maximum=1000
    )
    timeout_s: float = opt(30.0, "Per-request timeout.", minimum=1)
    ca_file: str | None = opt(None, "PEM CA bundle for GLPI's certificate (default: system).")
    embodied_field: str = opt(
        "",
        "An asset field (or a GLPI plugin field, as the API names it) holding the model's "
        "manufacturing footprint in kgCO2e; empty: none.",
    )


@dataclass
class EmbodiedDefaultConfig:
    kind: str = opt("desktop", "The kind it applies to.", choices=ASSET_KINDS)
    kgco2e: float = opt(0.0, "Manufacturing footprint of one device (kgCO2e).", minimum=0)
    lifetime_years: float = opt(5.0, "Expected lifetime (years).", minimum=0.5, maximum=30)
    source: str = opt("", "Where the figure comes from (dataset, version, item).")


@dataclass
class InventoryConfig:
    enabled: bool = opt(
        False,
        "Read the asset register (GLPI, agents' files, CSV): embodied CO2e per asset, the "
        "fleet's ages and lifetimes come from it instead of the per-kind defaults.",
    )
    glpi: GlpiConfig = section(GlpiConfig, "GLPI over its REST API (read-only).")
    agent_files: list[str] = opt(
        [],
        "Files or folders of inventory agents' output: FusionInventory / OCS XML (`.ocs`, "
        "`.xml`), GLPI Agent JSON (`.json`).",
    )
    csv_files: list[str] = opt(
        [], "CSV exports of an asset register (columns in docs/inventory.md)."
    )
    interval_minutes: float = opt(
        360.0, "How often the collector syncs while running (GLPI: only what changed).", minimum=5
    )
    kinds: dict[str, str] = opt(
        {},
        "The register's type names (case-insensitive) → kind (" + ", ".join(ASSET_KINDS) + "); "
        "added to the usual GLPI names.",
    )
    retired_states: list[str] = opt(
        [],
        "State names (case-insensitive) meaning the asset left service; added to the usual "
        "ones (Retired, Réformé, Rebut, Hors service…).",
    )
    models: dict[str, str] = opt(
        {},
        "Model name (case-insensitive) → its manufacturing footprint in kgCO2e, from the "
        "manufacturer's PCF or the city's own study; wins over the kind's default.",
    )
    defaults: list[EmbodiedDefaultConfig] = opt(
        [],
        "Kind → footprint, expected lifetime and source, replacing the shipped defaults "
        "(collector/inventory/factors.py, cited there).",
    )
    match_hostnames: bool = opt(
        True, "Match assets to agents by host name when nothing more trusted matches."
    )

    def validate(self) -> None:
        for name, kind in self.kinds.items():
            if kind not in ASSET_KINDS:
                raise ValueError(f"kinds.{name}: {kind!r} is not one of {', '.join(ASSET_KINDS)}")
        seen: set[str] = set()
        for i, d in enumerate(self.defaults):
            if d.kind in seen:
                raise ValueError(f"defaults[{i}].kind: {d.kind!r} is given twice")
            seen.add(d.kind)
        for model, kg in self.models.items():
            try:
                ok = float(kg) >= 0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"models.{model}: {kg!r} is not a number of kgCO2e ≥ 0")
        g = self.glpi
        if g.url:
            if not g.url.startswith(("http://", "https://")):
                raise ValueError("glpi.url: http:// or https://")
            if g.api == "legacy" and not g.user_token_file:
                raise ValueError("glpi.user_token_file: the legacy API needs a user token")
            if g.api == "v2" and not (g.client_id and g.username and g.password_file):
                raise ValueError(
                    "glpi: the v2 API needs client_id, client_secret_file, username and "
                    "password_file"
                )
