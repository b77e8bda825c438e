"""`energy-collector snmp probe HOST`: what a device would give before it is configured.
Walks what the profiles need (the system group, every profile's probe column, then the
chosen profile's tables and status readings), says which profile polling would choose and
why (detection.py, the poller's own rule), what each row would read (W, Wh register or
integrated, phase/outlet breakdown or counted), which values are not readings, and what is
missing. The snmp_exporter generator's job, for power.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from collector.sources.snmp import detection
from collector.sources.snmp.client import AUTH, PRIV, Client, SnmpError, Target
from collector.sources.snmp.profiles import Profile, load_profiles, rows, status_readings
from collector.sources.snmp.reboots import SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, system_group
from collector.sources.snmp.validity import screen

MAX_POWER_W = 200_000.0  # snmp.max_power_w's default


async def probe(
    client: Client,
    tgt: Target,
    profiles: dict[str, Profile],
    forced: str | None = None,
    max_power_w: float = MAX_POWER_W,
) -> dict[str, Any]:
    """The probe's findings as plain data (printed as text or JSON)."""
    sysinfo = await system_group(client, tgt)
    oid, descr, uptime = (sysinfo.get(x) for x in (SYS_OBJECT_ID, SYS_DESCR, SYS_UPTIME))
    found = await detection.answered_probes(client, tgt, detection.probe_oids(profiles.values()))
    if forced:
        choice = detection.Choice(profiles[forced], "forced", "--profile")
    else:
        choice = detection.by_identity(profiles.values(), oid, descr)
        if choice.profile is None:
            choice = detection.by_probes(profiles.values(), found)
    doc: dict[str, Any] = {
        "host": tgt.host,
        "port": tgt.port,
        "sysdescr": descr,
        "sysobjectid": oid,
        "sysuptime_s": uptime / 100 if isinstance(uptime, int) else None,
        "profile": choice.profile.name if choice.profile else None,
        "mib": choice.profile.mib if choice.profile else None,
        "chosen_by": choice.how,
        "why": choice.why,
        "also_answers": sorted(
            {p.name for p in profiles.values() if p.probe_score(found)}
            - {choice.profile.name if choice.profile else ""}
        ),
        "rows": [],
        "status": [],
        "missing": [],
    }
    missing: list[str] = doc["missing"]
    if not isinstance(uptime, int):
        missing.append("sysUpTime.0: not answered (polled anyway; reboot detection degraded)")
    prof = choice.profile
    if prof is None:
        missing.append(
            "a profile: no sysObjectID prefix, sysDescr substring or probed MIB matches; "
            "write one (docs/snmp-profiles.md) or set `profile:`"
        )
        return doc
    done_groups: set[str] = set()
    for table in prof.tables:
        if table.group and table.group in done_groups:
            continue
        walked = await client.walk_columns(tgt, table.walk_roots())
        found_rows = screen(rows(table, walked), max_power_w)
        if not found_rows:
            if not table.group:  # a group's absence is said once, below
                missing.append(f"table {table.name} ({table.oid}): no rows")
            continue
        if table.group:
            done_groups.add(table.group)
        for r in found_rows:
            doc["rows"].append(_row(r, table))
            if r.power_w is None and not r.rejected and table.power_w is not None:
                missing.append(f"{r.table}:{r.index}: no power reading")
    for group in {t.group for t in prof.tables if t.group} - done_groups:
        missing.append(f"tables of group {group}: none answered")
    if prof.modelled:
        await _modelled(client, tgt, oid, doc, missing)
    if prof.status:
        scalars = [x.oid for x in prof.status if not x.column]
        got = await client.get(tgt, scalars) if scalars else {}
        columns = [x.oid for x in prof.status if x.column]
        if columns:
            got.update(await client.walk_columns(tgt, columns))
        readings = status_readings(prof.status, got)
        doc["status"] = [
            {"reading": spec.name, "index": index, "value": value}
            for spec, index, value in readings
        ]
        seen = {spec.name for spec, _, _ in readings}
        missing += [
            f"status {s.name} ({s.oid}): not answered or not a reading"
            for s in prof.status
            if s.name not in seen
        ]
    counted = [r for r in doc["rows"] if r["counted"] and r["power_w"] is not None]
    doc["total_w"] = sum(r["power_w"] for r in counted) if counted else None
    return doc


async def _modelled(
    client: Client, tgt: Target, oid: Any, doc: dict[str, Any], missing: list[str]
) -> None:
    """Network gear without a PSU sensor: which entry of the model table it matches and how,
    its basis, how it is powered, and the row polling would add (the shipped table only: a
    site's snmp.network_models and powered_by are not known here)."""
    from prometheus_client import CollectorRegistry

    from collector.sources.snmp.network_models import (
        ENT_MODEL_NAME,
        NetworkModels,
        modelled_row,
    )
    from collector.sources.snmp.profiles import Row

    have = [Row(r["table"], r["index"], r["label"], r["power_w"], None) for r in doc["rows"]]
    if any(r.table == "psu" and r.power_w is not None for r in have):
        return
    names = await client.walk(tgt, ENT_MODEL_NAME)
    m = NetworkModels({}, CollectorRegistry(), None).match(oid, [str(v) for v in names.values()])
    doc["network_model"] = {
        "entry": m.entry,
        "model": m.model,
        "matched_by": m.how,
        "typical_w": m.watts,
        "basis": m.basis,
        "source": m.source or None,
        "powered_by": m.powered_by,
        "powered_by_from": m.why_powered,
        "counted": m.counted,
    }
    row = modelled_row(have, m)
    if row is not None:
        doc["rows"].append(
            {
                **_row(row, None),
                "energy": "modelled, integrated (estimated)"
                if m.counted
                else "modelled, recorded; inside its switch's PoE (not added)",
            }
        )
    missing.append(
        "a power sensor (ENTITY-SENSOR / CISCO-ENTITY-SENSOR watts): modelled as "
        f"{m.model or 'an unknown model'} ({m.basis})"
        + (
            "; no power figure for it: set snmp.network_models"
            + (", PoE only is counted" if m.counted else "")
            if m.basis == "poe_only"
            else ""
        )
    )


def _row(r: Any, table: Any) -> dict[str, Any]:
    if not r.account:
        energy = "not counted (part of the device's input)"
    elif r.energy_wh is not None:
        energy = "register"
    elif r.power_w is not None:
        energy = "integrated from power (estimated)"
    else:
        energy = "none"
    return {
        "table": r.table,
        "index": r.index,
        "label": r.label,
        "power_w": r.power_w,
        "energy_wh": r.energy_wh,
        "energy": energy,
        "counted": r.account and not r.breakdown,
        "breakdown": r.breakdown,
        "shown_only": not r.account,
        "not_readings": [{"field": f, "reason": why, "raw": raw} for f, why, raw in r.rejected],
    }


def render(doc: dict[str, Any]) -> str:
    up = doc["sysuptime_s"]
    lines = [
        f"device {doc['host']}:{doc['port']}  sysObjectID {doc['sysobjectid']}  "
        f"sysUpTime {'—' if up is None else f'{up:.0f} s'}",
        f"sysDescr: {(doc['sysdescr'] or '').strip()}",
    ]
    if doc["profile"]:
        lines.append(
            f"profile: {doc['profile']} ({doc['mib']}), chosen by {doc['chosen_by']}: {doc['why']}"
        )
    else:
        lines.append(f"profile: none ({doc['why']})")
    if doc["also_answers"]:
        lines.append("also answers the probes of: " + ", ".join(doc["also_answers"]))
    if doc["rows"]:
        lines += ["", f"{'table':<10}{'index':<10}{'label':<22}{'W':>10}{'Wh':>14}  energy, role"]
        for r in doc["rows"]:
            w = "—" if r["power_w"] is None else f"{r['power_w']:.1f}"
            wh = "—" if r["energy_wh"] is None else f"{r['energy_wh']:.0f}"
            role = "counted" if r["counted"] else "breakdown" if r["breakdown"] else "shown only"
            lines.append(
                f"{r['table']:<10}{r['index']:<10}{(r['label'] or '—')[:21]:<22}{w:>10}{wh:>14}"
                f"  {r['energy']}, {role}"
            )
            for bad in r["not_readings"]:
                lines.append(
                    f"{'':<20}{bad['field']} = {bad['raw']!r} is not a reading ({bad['reason']})"
                )
        if doc.get("total_w") is not None:
            lines.append(f"device total now: {doc['total_w']:.1f} W (counted rows)")
    nm = doc.get("network_model")
    if nm:
        fig = "no power figure" if nm["typical_w"] is None else f"{nm['typical_w']:g} W"
        lines += [
            "",
            f"network model: {nm['model'] or 'unknown'} (table entry "
            f"{nm['entry'] or 'none'}, matched by {nm['matched_by']}): {fig} + PoE delivered, "
            f"basis {nm['basis']}" + (f" [{nm['source']}]" if nm["source"] else ""),
            f"powered by {nm['powered_by']} ({nm['powered_by_from']}): "
            + (
                "counted"
                if nm["counted"]
                else "inside the PoE of the switch feeding it: recorded, not added"
            ),
        ]
    if doc["status"]:
        lines += ["", "status:"]
        lines += [f"  {s['reading']}[{s['index']}] = {s['value']:.6g}" for s in doc["status"]]
    lines += ["", "missing:" if doc["missing"] else "missing: nothing"]
    lines += [f"  - {m}" for m in doc["missing"]]
    return "\n".join(lines)


def add_parser(sub: Any) -> None:
    """`energy-collector snmp probe …` (wired by collector/cli.py)."""
    snmp = sub.add_parser("snmp", help="SNMP tools: probe a device")
    tools = snmp.add_subparsers(dest="snmp_command", required=True)
    p = tools.add_parser(
        "probe",
        help="which profile a device gets, why, and what each row would read",
        description=__doc__,
    )
    p.add_argument("host")
    p.add_argument("--port", type=int, default=161)
    p.add_argument("--community", default="public", help="v2c community")
    p.add_argument("--version", dest="snmp_version", choices=("2c", "3"), default=None)
    p.add_argument("--user", help="v3 user (implies --version 3)")
    p.add_argument("--auth-protocol", choices=sorted(AUTH), default="SHA")
    p.add_argument("--auth-key")
    p.add_argument("--priv-protocol", choices=sorted(PRIV), default="AES")
    p.add_argument("--priv-key")
    p.add_argument("--context", default="", help="v3 context name")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    p.add_argument("--retries", type=int, default=1)
    p.add_argument("--profile", help="force a profile instead of detecting one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args: argparse.Namespace) -> int:
    profiles = load_profiles()
    if args.profile and args.profile not in profiles:
        print(
            f"energy-collector snmp probe: --profile {args.profile!r}: unknown; one of "
            + ", ".join(sorted(profiles)),
            file=sys.stderr,
        )
        return 2
    version = args.snmp_version or ("3" if args.user else "2c")
    tgt = Target(
        args.host,
        args.port,
        version,
        args.community,
        args.user,
        args.auth_protocol,
        args.auth_key,
        args.priv_protocol,
        args.priv_key,
        args.context,
        args.timeout,
        args.retries,
    )
    client = Client()
    loop = asyncio.new_event_loop()
    try:
        doc = loop.run_until_complete(probe(client, tgt, profiles, args.profile))
    except SnmpError as exc:
        print(f"energy-collector snmp probe: {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
        if client.engine.transport_dispatcher is not None:  # v3: pysnmp's transport
            client.engine.close_dispatcher()
        loop.run_until_complete(asyncio.sleep(0))  # let pysnmp's cancelled timer end
        loop.close()
    print(json.dumps(doc, indent=2, default=str) if args.json else render(doc))
    return 0 if doc["profile"] and doc["rows"] else 1
