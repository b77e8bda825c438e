"""What the ledger says about hosts, read for the status API, the fleet view at start and the
roll-ups: the SQL lives here, not in the wiring."""

from __future__ import annotations

import json
from typing import Any

from collector.ledger import Ledger


def host_rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    """(host_id, site, department, kind, last_state, last_seen, spool_dropped, duplicate_s)."""
    return ledger.execute(
        "SELECT host_id, site, department, kind, last_state, last_seen, spool_dropped, "
        "duplicate_s FROM hosts"
    )


def host_facts(ledger: Ledger) -> list[tuple[str, str, str | None, dict[str, str]]]:
    """(host_id, kind, model, tags) of every host, for the embodied footprint."""
    return [
        (hid, kind, model, json.loads(tags))
        for hid, kind, model, tags in ledger.execute("SELECT host_id, kind, model, tags FROM hosts")
    ]


def day_totals(ledger: Ledger, day: str) -> tuple[float, float, int]:
    """Wh, kgCO2e and hosts reporting on one local day, as committed."""
    wh, kg, hosts = ledger.execute(
        "SELECT COALESCE(SUM(wh_measured + wh_modelled + wh_attributed), 0), "
        "COALESCE(SUM(kgco2e), 0), COUNT(DISTINCT host_id) FROM host_days WHERE day = ?",
        (day,),
    )[0]
    return float(wh), float(kg), int(hosts)


def duplicate_identities(ledger: Ledger, min_s: float) -> int:
    """Hosts whose reports had at least `min_s` seconds cut as another timeline's."""
    return int(ledger.execute("SELECT COUNT(*) FROM hosts WHERE duplicate_s >= ?", (min_s,))[0][0])


def spool_drops(ledger: Ledger) -> tuple[int, int]:
    """Agents that dropped reports at their spool bound, and how many they dropped."""
    agents, reports = ledger.execute(
        "SELECT COUNT(*), COALESCE(SUM(spool_dropped), 0) FROM hosts WHERE spool_dropped > 0"
    )[0]
    return int(agents), int(reports)
