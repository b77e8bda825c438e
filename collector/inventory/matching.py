"""Which asset each reporting agent is, and what did not match either way.

Keys in order of trust: the BIOS serial number, the SMBIOS UUID, a MAC address of a physical
interface, then the host name (names are reused and renamed; the last resort). Each asset and
each agent is claimed once, by the most trusted key that links them. The same device listed
by several sources (GLPI and an agent's file) is one device: GLPI's row wins, then the CSV's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from collector.inventory.assets import Asset, clean_mac, clean_serial, clean_uuid
from collector.inventory.store import Stored
from collector.ledger import Ledger

AGENT_KINDS = ("desktop", "laptop", "thin_client", "workstation", "server", "other")
PRECEDENCE = {"glpi": 0, "csv": 1, "agent-file": 2}
KEYS = ("serial", "uuid", "mac", "hostname")


@dataclass(frozen=True)
class Agent:
    host_id: str
    hostname: str
    kind: str
    serial: str | None = None
    uuid: str | None = None
    macs: tuple[str, ...] = ()
    last_seen: float = 0.0


@dataclass
class Matching:
    pairs: list[tuple[Stored, Agent, str]] = field(default_factory=list)  # asset, agent, key
    assets_unmatched: list[Stored] = field(default_factory=list)  # in service, no agent
    agents_unmatched: list[Agent] = field(default_factory=list)  # reports, not in register
    by_key: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        states: dict[str, int] = {}
        for s in self.assets_unmatched:
            st = s.asset.state or "(no state)"
            states[st] = states.get(st, 0) + 1
        return {
            "matched": len(self.pairs),
            "by_key": {k: self.by_key.get(k, 0) for k in KEYS},
            "assets_without_agent": len(self.assets_unmatched),
            "assets_without_agent_by_state": dict(sorted(states.items())),
            "agents_not_in_register": len(self.agents_unmatched),
        }


def agents_from_ledger(ledger: Ledger) -> list[Agent]:
    """Physical machines that report (VMs are no asset of their own), with what they say of
    their hardware (`hosts.hardware`) and of their interfaces (`hosts.wake`)."""
    out = []
    for hid, name, kind, hw, wake, last in ledger.execute(
        "SELECT host_id, hostname, kind, hardware, wake, last_seen FROM hosts WHERE source = ?",
        ("agent",),
    ):
        if kind == "vm":
            continue
        h = json.loads(hw) if hw else {}
        macs = [clean_mac(m) for m in h.get("macs", [])]
        for itf in (json.loads(wake) if wake else {}).get("interfaces", []):
            macs.append(clean_mac(itf.get("mac")))
        out.append(
            Agent(
                hid,
                name,
                kind,
                clean_serial(h.get("serial")),
                clean_uuid(h.get("uuid")),
                tuple(dict.fromkeys(m for m in macs if m)),
                float(last),
            )
        )
    return out


def _keys(a: Asset | Agent, key: str) -> Iterable[str]:
    if key == "serial" and a.serial:
        yield a.serial
    elif key == "uuid" and a.uuid:
        yield a.uuid
    elif key == "mac":
        yield from a.macs
    elif key == "hostname":
        name = a.name if isinstance(a, Asset) else a.hostname
        if name:
            yield name.split(".")[0].strip().lower()


def devices(stored: list[Stored]) -> list[Stored]:
    """One entry per device: rows of several sources that share a serial, UUID or MAC are
    merged into the most trusted source's row (dates it lacks taken from the others)."""
    order = sorted(stored, key=lambda s: (PRECEDENCE.get(s.asset.source, 9), s.asset.key))
    kept: list[Stored] = []
    index: dict[tuple[str, str], int] = {}
    for s in order:
        a = s.asset
        ids = [("serial", a.serial), ("uuid", a.uuid)] + [("mac", m) for m in a.macs]
        hit = next((index[(k, v)] for k, v in ids if v and (k, v) in index), None)
        if hit is None:
            index.update({(k, v): len(kept) for k, v in ids if v})
            kept.append(s)
            continue
        first = kept[hit]
        fill = {
            f: getattr(a, f)
            for f in ("use_date", "buy_date", "delivery_date", "model", "serial", "uuid")
            if getattr(first.asset, f) is None and getattr(a, f) is not None
        }
        if fill:
            kept[hit] = Stored(first.asset.with_(**fill), first.seen_at, first.removed_at)
    return kept


def match(
    register: list[Stored],
    agents: list[Agent],
    retired: Iterable[str],
    use_hostnames: bool = True,
) -> Matching:
    """Pair register computers with reporting agents, key by key in order of trust."""
    retired_keys = set(retired)
    candidates = [
        s
        for s in register
        if s.asset.kind in AGENT_KINDS and s.removed_at is None and s.asset.key not in retired_keys
    ]
    m = Matching()
    free_assets = {s.asset.key: s for s in candidates}
    free_agents = {a.host_id: a for a in agents}
    for key in KEYS if use_hostnames else KEYS[:-1]:
        idx: dict[str, list[str]] = {}
        for hid, ag in free_agents.items():
            for v in _keys(ag, key):
                idx.setdefault(v, []).append(hid)
        for akey, s in list(free_assets.items()):
            for v in _keys(s.asset, key):
                hits = [h for h in idx.get(v, []) if h in free_agents]
                if len(hits) == 1:  # an ambiguous value (two agents) proves nothing
                    ag = free_agents.pop(hits[0])
                    del free_assets[akey]
                    m.pairs.append((s, ag, key))
                    m.by_key[key] = m.by_key.get(key, 0) + 1
                    break
    m.assets_unmatched = sorted(free_assets.values(), key=lambda s: s.asset.key)
    m.agents_unmatched = sorted(free_agents.values(), key=lambda a: a.hostname)
    return m
