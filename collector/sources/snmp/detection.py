"""Which profile a device gets, and why: a profile forced in the configuration; else the
sysObjectID prefix with the most arcs (APC's Easy PDU 318.1.3.4.9 over the legacy rPDU's
318.1.3.4), a sysDescr substring counting less than any prefix; else, for a device no
profile claims, the profile whose most specific `probe` column the device answers (one
GETBULK of one row for all probes). The poller and `energy-collector snmp probe` both
decide here, so the probe says exactly what polling will do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from collector.sources.snmp.client import Client, Target
from collector.sources.snmp.profiles import Profile


@dataclass(frozen=True)
class Choice:
    profile: Profile | None
    how: str  # "forced", "sysObjectID", "sysDescr", "probe", "none"
    why: str  # for a person: the prefix, substring or column that decided


def by_identity(profiles: Iterable[Profile], oid: str | None, descr: str | None) -> Choice:
    """The best sysObjectID / sysDescr match, or Choice(None, "none", …)."""
    best, score = None, 0
    for p in profiles:
        s = p.score(oid, descr)
        if s > score:
            best, score = p, s
    if best is None:
        return Choice(None, "none", f"no profile claims sysObjectID {oid!r}")
    if score == 1:
        sub = next(d for d in best.sysdescr if d.lower() in (descr or "").lower())
        return Choice(best, "sysDescr", f"sysDescr contains {sub!r}")
    oid_ = (oid or "").lstrip(".")
    prefix = max(
        (
            x.strip(".")
            for x in best.sysobjectid
            if oid_ == x.strip(".") or oid_.startswith(x.strip(".") + ".")
        ),
        key=lambda x: x.count("."),
    )
    return Choice(best, "sysObjectID", f"sysObjectID {oid_} is under {prefix}")


def probe_oids(profiles: Iterable[Profile]) -> list[str]:
    return sorted({p for prof in profiles for p in prof.probe})


async def answered_probes(client: Client, tgt: Target, probes: list[str]) -> set[str]:
    """The probe columns the device has: each probe's next OID is still inside it."""
    found: set[str] = set()
    if probes:
        binds = await client.bulk(tgt, probes, 1)
        for probe, (got, _value) in zip(probes, binds, strict=False):
            if got.startswith(probe + "."):
                found.add(probe)
    return found


def by_probes(profiles: Iterable[Profile], found: set[str]) -> Choice:
    best, score = None, 0
    for p in profiles:
        s = p.probe_score(found)
        if s > score:
            best, score = p, s
    if best is None:
        return Choice(None, "none", "none of the probed MIB columns answers")
    column = max((x for x in best.probe if x in found), key=lambda x: x.count("."))
    return Choice(best, "probe", f"it answers {column} ({best.mib})")
