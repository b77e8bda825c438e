"""What the live pages show, read from the collector and its ledger: plain data for the
templates (collector/render/templates/web/), which only lay it out and say it in words."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collector.app import Collector

STATES = ("active", "idle", "suspended", "off", "unknown")
HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")


def fleet(c: Collector, authed: bool) -> dict[str, Any]:
    st = c.status()
    by_kind: dict[str, Counter[str]] = {}
    by_site: dict[str, Counter[str]] = {}
    for _, h, state in c.fleet.snapshot():
        by_kind.setdefault(h.kind, Counter())[state] += 1
        by_site.setdefault(h.site or "–", Counter())[state] += 1
    since = {
        state: (datetime.fromtimestamp(lo, c.tz), datetime.fromtimestamp(hi, c.tz))
        for state, (lo, hi) in c.fleet.asleep_since().items()
    }
    return {
        "st": st,
        "since": since,  # state -> (the earliest, the latest) a host now in it entered it
        "by_kind": [(k, [n[s] for s in STATES]) for k, n in sorted(by_kind.items())],
        "by_site": [(k, [n[s] for s in STATES]) for k, n in sorted(by_site.items())],
    }


def night(c: Collector, authed: bool, lang: str) -> dict[str, Any]:
    if c.compliance is None:
        return {"rep": None, "authed": authed}
    return {"rep": c.morning_report(language=lang), "authed": authed}


def datacenters(c: Collector, authed: bool) -> dict[str, Any]:
    """The one datacenter view (collector/datacenter/view.py), as status and /metrics say it."""
    rows = [
        {
            "name": dc,
            "it_w": v["it_w"],
            "facility_w": v["facility_w"],
            "pue_today": v["pue_today"],
            "pue_month": v["pue_month"],
            "basis_today": v["facility_basis_today"],
            "basis_month": v["facility_basis_month"],
            "it_coverage": v["it_coverage_month"],
            **{  # why a PUE is missing, or where its IT side comes from (facility.py)
                period: {
                    "missing": v[f"pue_{period}_missing"],
                    "fallback": v[f"it_fallback_{period}"],
                    "it_coverage": v[f"it_coverage_{period}"],
                    "site_coverage": v[f"facility_coverage_{period}"],
                    "least": v["coverage_min"],
                }
                for period in ("today", "month")
            },
            "category": v["it_category"],
            "devices": f"{v['up']}/{v['devices']}" if v["devices"] else None,
        }
        for dc, v in c.datacenter_view().items()
    ]
    return {"rows": rows}


def lorawan(c: Collector, authed: bool) -> dict[str, Any]:
    today = datetime.now(c.tz).date().isoformat()
    gws = {
        g: (online_s, uplinks)
        for g, online_s, uplinks in c.ledger.execute(
            "SELECT gateway, online_s, uplinks FROM lora_gateway_days WHERE day = ?", (today,)
        )
    }
    lora = c.lora
    if lora is not None:
        for gid in lora.gw_last_stats:
            gws.setdefault(gid, (0.0, 0))
    gateways = []
    for g, (online_s, uplinks) in sorted(gws.items()):
        up = None
        if lora is not None and g in lora.gw_last_stats:
            fresh = time.time() - lora.gw_last_stats[g] <= lora.cfg.gateway_stale_s
            up = fresh and lora.gw_online.get(g, True)
        gateways.append({"id": g, "up": up, "online_s": online_s, "uplinks": uplinks})
    meters = []
    for name, eui, site, role, host, value, when in c.ledger.execute(
        "SELECT m.meter, m.dev_eui, m.site, m.role, m.host, s.value, s.time FROM meters m "
        "LEFT JOIN meter_state s ON s.meter = m.meter ORDER BY m.meter"
    ):
        if not HEX16.match(eui or ""):
            continue
        label = name
        if role == "host_plug" and host and authed:
            label += f" ({host})"  # a host's name only for the signed-in
        stamp = datetime.fromtimestamp(when, c.tz).strftime("%Y-%m-%d %H:%M") if when else None
        meters.append({"label": label, "site": site, "role": role, "value": value, "when": stamp})
    return {"gateways": gateways, "meters": meters}
