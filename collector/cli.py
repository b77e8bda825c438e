"""`energy-collector`: run the collector, show the fleet, check a configuration, simulate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from collector import __version__
from collector.config import CollectorConfig, load_config
from energy_common.configspec import ConfigError

DEFAULT_CONFIG = "/etc/energy-collector/collector.yaml"


def _config_path(arg: str | None) -> str | None:
    path = arg or os.environ.get("ENERGY_COLLECTOR_CONFIG")
    if path:
        return path
    return DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None


def cmd_run(args: argparse.Namespace) -> int:
    from collector.app import Collector

    cfg = load_config(_config_path(args.config))
    logging.basicConfig(
        level=cfg.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    Collector(cfg).run()
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from collector.model.carbon import load_eco2mix
    from collector.model.profiles import ProfileBook
    from energy_common.configspec import read_secret

    path = _config_path(args.config)
    cfg = load_config(path)
    # every secret the collector reads at start: a missing file or a blank first line is an
    # error now, not at the first start of the service
    h, en = cfg.http, cfg.enrolment
    for value, file, what in (
        (h.token, h.token_file, "http.token_file"),
        (h.read_token, h.read_token_file, "http.read_token_file"),
        (None, en.secret_file, "enrolment.secret_file"),
        (None, en.previous_secret_file, "enrolment.previous_secret_file"),
        (cfg.mqtt.password, cfg.mqtt.password_file, "mqtt.password_file"),
        (None, cfg.web.ops_token_file if cfg.web.enabled else None, "web.ops_token_file"),
    ):
        if value is not None or file is not None:
            read_secret(value, file, what)
    book = ProfileBook.load(cfg.profiles_path())
    if cfg.lorawan.enabled or cfg.lorawan.meters:
        from collector.sources.lorawan.explain import meter_plan

        print("\n".join(meter_plan(cfg.lorawan)))
    if cfg.snmp.network_models or cfg.snmp.network_powered_by:
        from collector.sources.snmp.network_models import override_plan

        print("\n".join(override_plan(cfg.snmp.network_models, cfg.snmp.network_powered_by)))
    if cfg.carbon.hourly_file:
        load_eco2mix(cfg.carbon.hourly_file)
    if cfg.inventory.enabled:
        from collector.inventory.checks import check_inventory

        check_inventory(cfg.inventory)
    print(
        f"{path or '<built-in defaults>'}: OK (ledger {cfg.ledger.url.split('@')[-1]}, "
        f"profiles {book.source}, MQTT {'on' if cfg.mqtt.enabled else 'off'}, "
        f"TSDB {'on' if cfg.tsdb.enabled else 'off'})"
    )
    return 0


def cmd_lorawan(args: argparse.Namespace) -> int:
    from collector.sources.lorawan.explain import explain

    cfg = load_config(_config_path(args.config))
    try:
        payload = Path(args.uplink).read_bytes()
    except OSError as exc:
        print(f"energy-collector: {args.uplink}: {exc.strerror}", file=sys.stderr)
        return 2
    text, ok = explain(cfg.lorawan, payload)
    print(f"{args.uplink}:\n{text}")
    return 0 if ok else 1


def _hm(iso: str) -> str:
    """'2026-11-23T18:45:00+01:00' → '2026-11-23 18:45' (the collector's local time)."""
    return iso[:10] + " " + iso[11:16]


def status_table(doc: dict) -> str:
    lines = [f"Fleet now ({doc['hosts']} hosts)", ""]
    lines.append(f"{'state':<12}{'hosts':>8}")
    since = doc.get("asleep_since") or {}
    for state in ("active", "idle", "suspended", "off", "unknown"):
        line = f"{state:<12}{doc['by_state'].get(state, 0):>8}"
        if state in since:  # asleep and off stay so until the host reports again
            first, last = since[state]["earliest"], since[state]["latest"]
            line += f"  since {_hm(first)}" + (f" (first), {_hm(last)} (latest)" * (first != last))
        lines.append(line)
    lines += [
        "",
        f"power now          {doc['power_w']:>12.1f} W",
        f"today ({doc['day']})  {doc['today_kwh']:>12.3f} kWh",
        f"today CO2e         {doc['today_kgco2e']:>12.3f} kg ({doc['carbon_basis']})",
        f"reporting today    {doc['hosts_reporting_today']:>12d} hosts",
    ]
    night = doc.get("compliance")
    if night:
        days = ", ".join(f"{d} ({k})" for d, k in night["periods"]) or "—"
        rate = "—" if night["rate"] is None else f"{night['rate'] * 100:.1f} %"
        lines += [
            "",
            f"last night {days}: {rate} compliant ({night['compliant']}/{night['hosts']}), "
            f"{night['noncompliant']} left on, {night['unknown']} unknown",
        ]
        for p in night["in_progress"]:
            lines.append(f"in progress {p['period_day']} ({p['period_kind']}): not judged yet")
    if doc.get("datacenters"):
        lines.append(
            f"datacenters today {doc['today_datacenters_kwh']:>12.3f} kWh (site meters, else IT; "
            "not added to the agents' figure above)"
        )

    def fig(x: float | None, fmt: str) -> str:
        return "—" if x is None else format(x, fmt)

    def why(dc: dict[str, object], period: str) -> str:
        """Why a datacenter's PUE is missing (collector/datacenter/facility.py), if it is."""
        missing = dc.get(f"pue_{period}_missing")
        return f" [{str(missing).replace('_', ' ')}]" if missing else ""

    for name, dc in sorted((doc.get("datacenters") or {}).items()):
        live = (
            f"{dc['up']}/{dc['devices']} devices answering, IT {fig(dc['it_w'], '.0f')} W, "
            f"facility {fig(dc['facility_w'], '.0f')} W, "
            if dc["devices"]
            else "no device polled, "
        )
        lines += [
            "",
            f"datacenter {name}: {live}PUE today {fig(dc['pue_today'], '.2f')}"
            f"{why(dc, 'today')} (site {dc['facility_basis_today'] or '—'}), this month "
            f"{fig(dc['pue_month'], '.2f')}{why(dc, 'month')} "
            f"(site {dc['facility_basis_month'] or '—'})",
        ]
        if dc.get("no_sysuptime"):
            lines.append(
                "  no sysUpTime (reboot detection degraded): " + ", ".join(dc["no_sysuptime"])
            )
    ing = doc.get("ingest")
    if ing:
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(ing["rejected"].items())) or "none"
        lines += [
            "",
            f"ledger             {ing['ledger']:>12}",
            f"queued             {ing['queued']:>12d} reports",
            f"rejected           {rejected}",
            f"spool drops        {ing['reports_dropped_by_agents']:>12d} reports "
            f"({ing['agents_with_spool_drops']} agents)",
        ]
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    cfg: CollectorConfig = load_config(_config_path(args.config))
    host = "127.0.0.1" if cfg.http.listen in ("0.0.0.0", "::") else cfg.http.listen
    scheme = "https" if cfg.http.tls_cert else "http"
    url = args.url or f"{scheme}://{host}:{cfg.http.port}/api/v1/status"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            doc = json.load(resp)
    except (urllib.error.URLError, OSError) as exc:
        print(f"energy-collector status: no collector answering at {url} ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2) if args.json else status_table(doc))
    return 0


def cmd_import_readings(args: argparse.Namespace) -> int:
    from collector.datacenter.readings import import_readings
    from collector.ledger import Ledger

    cfg = load_config(_config_path(args.config))
    ledger = Ledger(cfg.ledger.url)
    try:
        # every file in one transaction: a refused line leaves the ledger as it was
        readings = import_readings(
            ledger, list(args.files), max_power_w=cfg.snmp.max_power_w, replace=args.replace
        )
    finally:
        ledger.close()
    for path in args.files:
        mine = [r for r in readings if r.where.rsplit(":", 1)[0] == str(path)]
        print(f"{path}: {len(mine)} readings, {sum(r.kwh for r in mine):.1f} kWh")
    total = sum(r.kwh for r in readings)
    print(f"imported {len(readings)} readings, {total:.1f} kWh")
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    """Enrolled agents: list, revoke one (refused from now on, within 30 s on every
    collector), reset one (its id may enrol again: a PC restored with its old state)."""
    from collector.ledger import Ledger
    from collector.web import enrolment

    cfg = load_config(_config_path(args.config))
    ledger = Ledger(cfg.ledger.url)
    try:
        if args.action == "list":
            for agent_id, host, enrolled, revoked in enrolment.listing(ledger):
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(enrolled))
                state = "revoked" if revoked is not None else "active"
                print(f"{agent_id}  {state:<8} {when}  {host}")
            return 0
        if not args.agent_id:
            print(f"energy-collector agents {args.action}: give an agent id", file=sys.stderr)
            return 2
        fn = enrolment.revoke if args.action == "revoke" else enrolment.reset
        if not fn(ledger, args.agent_id, enrolment.dynsec_for(cfg)):
            print(f"agent {args.agent_id}: not enrolled (or already revoked)", file=sys.stderr)
            return 1
        print(f"agent {args.agent_id}: {args.action} done")
        return 0
    finally:
        ledger.close()


def cmd_report(args: argparse.Namespace) -> int:
    """The yearly REEN report (and, for the public edition, its open data)."""
    from collector.yearly.build import ReportError, build

    cfg = load_config(_config_path(args.config))
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    try:
        written = build(cfg, args.year, formats, Path(args.out), args.lang, args.edition)
    except ReportError as exc:
        print(f"energy-collector report: {exc}", file=sys.stderr)
        return 1
    for what, path in written.items():
        print(f"{what}: {path}")
    return 0


def cmd_inventory(args: argparse.Namespace) -> int:
    """The asset register: sync it now (GLPI, agents' files, CSV), or list it with matching."""
    from collector.inventory.cli import inventory_list, inventory_sync
    from collector.ledger import Ledger

    cfg = load_config(_config_path(args.config))
    if not cfg.inventory.enabled:
        print("energy-collector inventory: inventory.enabled is false", file=sys.stderr)
        return 2
    ledger = Ledger(cfg.ledger.url)
    try:
        if args.action == "sync":
            return inventory_sync(cfg, ledger, args.full, args.json)
        return inventory_list(cfg, ledger, args.json)
    finally:
        ledger.close()


def cmd_simulate(args: argparse.Namespace) -> int:
    from collector.simulate import main as simulate

    return simulate(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-collector", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("run", cmd_run, "run the collector"),
        ("status", cmd_status, "the fleet now, from a running collector"),
        ("check-config", cmd_check_config, "validate the configuration"),
        (
            "import-readings",
            cmd_import_readings,
            "import manual energy readings (utility bills) from CSV files",
        ),
        ("agents", cmd_agents, "enrolled agents: list, revoke ID, reset ID"),
        ("report", cmd_report, "the yearly REEN report, its open data and NumEcoEval export"),
        ("lorawan", cmd_lorawan, "LoRaWAN devices: explain UPLINK.json"),
        ("inventory", cmd_inventory, "the asset register: sync now, or list it with matching"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "-c",
            "--config",
            help=f"YAML file (default {DEFAULT_CONFIG} if present, "
            "else built-in defaults; or $ENERGY_COLLECTOR_CONFIG)",
        )
        p.set_defaults(func=func)
        if name == "status":
            p.add_argument("--json", action="store_true", help="print JSON")
            p.add_argument("--url", help="status URL (default from the config)")
        if name == "lorawan":
            p.add_argument("action", choices=("explain",))
            p.add_argument(
                "uplink",
                help="an uplink message body as the network server publishes it (The Things "
                "Stack v3 `…/up`, ChirpStack v4/v3 `…/event/up`)",
            )
        if name == "import-readings":
            p.add_argument("files", nargs="+", help="CSV: meter,datacenter,role,start,end,kwh")
            p.add_argument(
                "--replace",
                action="store_true",
                help="readings overlapping different ones already imported replace them "
                "(without it such a file is refused)",
            )
        if name == "agents":
            p.add_argument("action", choices=("list", "revoke", "reset"))
            p.add_argument("agent_id", nargs="?", help="the agent (revoke, reset)")
        if name == "inventory":
            p.add_argument("action", choices=("sync", "list"))
            p.add_argument("--json", action="store_true", help="print JSON")
            p.add_argument(
                "--full", action="store_true", help="sync: read GLPI whole, not only changes"
            )
        if name == "report":
            last = time.localtime().tm_year - 1
            p.add_argument("--year", type=int, default=last, help=f"calendar year (default {last})")
            p.add_argument(
                "--format", default="html", help="html, pdf or json (several: html,pdf,json)"
            )
            p.add_argument("--out", default="reports", help="directory written (default reports)")
            p.add_argument("--lang", choices=("fr", "en"), help="default: yearly.language")
            p.add_argument(
                "--edition",
                choices=("public", "internal"),
                default="public",
                help="public: no host named, with open data; internal: names recurring "
                "offenders, for the IT staff only",
            )
    p = sub.add_parser(
        "simulate",
        help="drive simulated agents against a collector",
        description="Simulated agents (office days in Europe/Paris) sent through the real "
        "transports, with the ground truth of every second.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--agents", type=int, default=50, help="simulated agents")
    p.add_argument("--days", type=int, default=1, help="office days simulated, up to now")
    p.add_argument("--year", type=int, help="simulate this whole calendar year instead")
    p.add_argument(
        "--interval", type=int, default=300, help="report interval while up (s), as the agent's"
    )
    p.add_argument(
        "--datacenters",
        type=int,
        default=0,
        help="also write monthly meter readings of this many datacenters (with --readings; "
        "only months that have ended)",
    )
    p.add_argument("--readings", help="CSV for `import-readings` (with --datacenters)")
    p.add_argument(
        "--seq-start",
        type=int,
        default=0,
        help="first report sequence number (the same fleet going on after an earlier run)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same fleet)")
    p.add_argument("--left-on", type=float, default=0.2, help="share of desktops left on")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per real second (0: as fast as possible)",
    )
    p.add_argument(
        "--url", default="http://127.0.0.1:8750/api/v1/reports", help="collector ingest URL"
    )
    p.add_argument("--token", help="bearer token for the collector (none: open collector)")
    p.add_argument("--mqtt", help="HOST:PORT: publish over MQTT instead of HTTP")
    p.add_argument("--truth", help="write the ground truth (JSON) here")
    p.set_defaults(func=cmd_simulate)
    from collector.sources.snmp.probe import add_parser as add_snmp_parser

    add_snmp_parser(sub)
    args = parser.parse_args(argv)
    from collector.datacenter.readings import ReadingError

    try:
        return int(args.func(args))
    except ReadingError as exc:
        print(f"energy-collector: nothing imported: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"energy-collector: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
