"""/metrics for the inventory: the register's figures for this year, recomputed after each
sync (and every hour, as assets age), never on a scrape. No host is named: labels are kinds
and sources only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.inventory.settings import InventoryConfig
from collector.inventory.summary import section
from collector.ledger import Ledger
from collector.model.profiles import ProfileBook

log = logging.getLogger("energy_collector.inventory")


class InventoryMetrics(Collector):
    def __init__(self, ledger: Ledger, cfg: InventoryConfig, book: ProfileBook) -> None:
        self.ledger = ledger
        self.cfg = cfg
        self.book = book
        self.doc: dict[str, Any] | None = None

    def refresh(self, today: date) -> None:
        """This year's figures up to `today` (the collector's local date)."""
        self.doc = section(self.ledger, self.cfg, self.book, today.year, today)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        d = self.doc
        if d is None:
            return
        g = {
            name: GaugeMetricFamily(name, text, labels=labels)
            for name, text, labels in (
                ("energy_inventory_assets", "Assets of the register in service.", ["kind"]),
                (
                    "energy_inventory_embodied_kgco2e",
                    "This year's amortised manufacturing emissions of the register's assets.",
                    ["kind"],
                ),
                (
                    "energy_inventory_mean_age_years",
                    "Mean age of the assets in service (known start of service only).",
                    ["kind"],
                ),
                (
                    "energy_inventory_past_lifetime_ratio",
                    "Share of the assets in service older than their expected lifetime.",
                    ["kind"],
                ),
                ("energy_inventory_retired_assets", "Assets retired this year.", ["kind"]),
                (
                    "energy_inventory_unmatched",
                    "Computers in service that never report (`asset`), reporting machines "
                    "not in the register (`agent`).",
                    ["side"],
                ),
                (
                    "energy_inventory_one_more_year_saving_kgco2e",
                    "Yearly embodied kgCO2e one more year of life for every asset would save.",
                    [],
                ),
                (
                    "energy_inventory_last_sync_timestamp_seconds",
                    "When each source of the register was last synced.",
                    ["source"],
                ),
            )
        }
        for r in d["by_kind"]:
            k = [r["kind"]]
            g["energy_inventory_assets"].add_metric(k, r["in_service"])
            g["energy_inventory_embodied_kgco2e"].add_metric(k, r["embodied_kgco2e"] or 0.0)
            g["energy_inventory_retired_assets"].add_metric(k, r["retired_in_year"])
            if r["mean_age_years"] is not None:
                g["energy_inventory_mean_age_years"].add_metric(k, r["mean_age_years"])
            if r["past_expected_share"] is not None:
                g["energy_inventory_past_lifetime_ratio"].add_metric(k, r["past_expected_share"])
        m = d["matching"]
        g["energy_inventory_unmatched"].add_metric(["asset"], m["assets_without_agent"])
        g["energy_inventory_unmatched"].add_metric(["agent"], m["agents_not_in_register"])
        g["energy_inventory_one_more_year_saving_kgco2e"].add_metric(
            [], d["one_more_year_saving_kgco2e"] or 0.0
        )
        for s in d["sources"]:
            g["energy_inventory_last_sync_timestamp_seconds"].add_metric(
                [s["source"]], s["synced_at"]
            )
        yield from g.values()
