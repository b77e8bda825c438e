"""`energy-collector inventory sync|list [--json]`: for the IT staff, so host names and asset
names are shown (unlike the report, the pages and /metrics)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from collector.config import CollectorConfig
from collector.inventory.summary import matching, register, section
from collector.inventory.sync import sync
from collector.ledger import Ledger
from collector.model.profiles import ProfileBook


def inventory_sync(cfg: CollectorConfig, ledger: Ledger, full: bool, as_json: bool) -> int:
    res = sync(cfg.inventory, ledger, full=full)
    if as_json:
        print(json.dumps({"ok": res.ok, "sources": res.to_json()}, indent=2))
    else:
        for s in res.sources:
            if s.ok:
                print(
                    f"{s.source}: {s.assets_read} asset(s) new or changed, {s.removed} removed"
                    + (f", {s.requests} requests" if s.requests else "")
                    + (" (full read)" if s.full else "")
                )
            else:
                print(f"{s.source}: FAILED, the ledger keeps what it had: {s.error}")
        if not res.sources:
            print("no inventory source configured")
    return 0 if res.ok else 1


def _asset_row(s: Any, agent: Any) -> dict[str, Any]:
    a = s.asset
    return {
        "asset": a.key,
        "kind": a.kind,
        "name": a.name,
        "serial": a.serial,
        "model": a.model,
        "state": a.state,
        "in_service_from": str(a.in_service_from()) if a.in_service_from() else None,
        "decommissioned": str(a.decommission_date) if a.decommission_date else None,
        "removed": s.removed_at is not None,
        "agent": agent[0].hostname if agent else None,
        "agent_id": agent[0].host_id if agent else None,
        "matched_by": agent[1] if agent else None,
    }


def inventory_list(cfg: CollectorConfig, ledger: Ledger, as_json: bool) -> int:
    m = matching(ledger, cfg.inventory)
    by_asset = {s.asset.key: (ag, key) for s, ag, key in m.pairs}
    rows = [_asset_row(s, by_asset.get(s.asset.key)) for s in register(ledger)]
    year = datetime.now().year
    figures = section(ledger, cfg.inventory, ProfileBook.load(cfg.profiles_path()), year)
    doc = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "assets": rows,
        "matching": {
            **m.summary(),
            "assets_without_agent": [s.asset.key for s in m.assets_unmatched],
            "agents_not_in_register": [
                {"agent_id": a.host_id, "hostname": a.hostname, "kind": a.kind}
                for a in m.agents_unmatched
            ],
        },
        "figures": figures,
    }
    if as_json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"{'asset':<26}{'kind':<12}{'name':<18}{'serial':<14}{'since':<12}{'agent':<18}by")
    for r in rows:
        print(
            f"{r['asset'][:25]:<26}{r['kind']:<12}{(r['name'] or '')[:17]:<18}"
            f"{(r['serial'] or '')[:13]:<14}{r['in_service_from'] or '?':<12}"
            f"{(r['agent'] or '-')[:17]:<18}{r['matched_by'] or ''}"
        )
    s = m.summary()
    print(
        f"\n{len(rows)} assets; {s['matched']} matched to an agent "
        f"({', '.join(f'{k} {v}' for k, v in s['by_key'].items())}); "
        f"{s['assets_without_agent']} computers in service never report; "
        f"{s['agents_not_in_register']} reporting machines not in the register"
    )
    for a in m.agents_unmatched:
        print(f"  not in the register: {a.hostname} ({a.kind}, agent {a.host_id})")
    print(
        f"{year}: embodied {figures['embodied_kgco2e']} kgCO2e, "
        f"{figures['assets_in_service']} assets in service, "
        f"one more year of life would save {figures['one_more_year_saving_kgco2e']} kgCO2e"
    )
    return 0
