"""The inventory's figures for one year, as the CLI, the yearly report, the web view and
/metrics show them: the register (one row per device), the matching, embodied CO2e and
lifetimes. Nothing here names a host: names appear only in `energy-collector inventory list`."""

from __future__ import annotations

from datetime import date
from typing import Any

from collector.inventory import store
from collector.inventory.assets import is_retired
from collector.inventory.factors import kind_factors, model_factors
from collector.inventory.figures import lives, year_figures
from collector.inventory.matching import Matching, agents_from_ledger, devices, match
from collector.inventory.settings import InventoryConfig
from collector.ledger import Ledger
from collector.model.profiles import ProfileBook

METHOD = (
    "Embodied CO2e per asset of the register (GLPI, agents' files, CSV): the model's value "
    "(inventory.models), else the register's own, else the kind's default with its source; "
    "amortised linearly over the asset's life (start of service to decommission; while in "
    "service its expected lifetime, or its age once it has outlived it), counted for the days "
    "of the year it was in service."
)


def register(ledger: Ledger) -> list[store.Stored]:
    return devices(store.load(ledger))


def matching(ledger: Ledger, cfg: InventoryConfig) -> Matching:
    reg = register(ledger)
    retired = {s.asset.key for s in reg if _retired(s, cfg)}
    return match(reg, agents_from_ledger(ledger), retired, cfg.match_hostnames)


def _retired(s: store.Stored, cfg: InventoryConfig) -> bool:
    a = s.asset
    return bool(a.decommission_date or a.deleted or is_retired(a.state, list(cfg.retired_states)))


def section(
    ledger: Ledger,
    cfg: InventoryConfig,
    book: ProfileBook,
    year: int,
    today: date | None = None,
) -> dict[str, Any]:
    """The yearly report's inventory section (and /api, /metrics): public, no host named.
    The year in progress is counted up to `today` (default: the clock's date), never beyond."""
    if today is None:
        now = date.today()
        today = now if year == now.year else None
    reg = register(ledger)
    factors = kind_factors(cfg, book)
    ls = lives(reg, factors, model_factors(cfg), list(cfg.retired_states))
    doc = year_figures(ls, year, today)
    doc["matching"] = matching(ledger, cfg).summary()
    doc["sources"] = [
        {k: v for k, v in s.items() if k in ("source", "synced_at", "watermark", "api")}
        for s in store.sources(ledger)
    ]
    doc["factors"] = [
        {"kind": k, "kgco2e": f.kgco2e, "lifetime_years": f.lifetime_years, "source": f.source}
        for k, f in sorted(factors.items())
    ]
    doc["method"] = METHOD
    return doc
