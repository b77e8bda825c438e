"""One night's compliance and the morning report for 100,000 hosts, from the ledger, on SQLite
and on PostgreSQL: wall time and peak RSS of the computation (targets ≤ 10 s, ≤ 1 GiB).

    .venv/bin/python bench/compliance_report.py --hosts 100000 --repeats 3

The ledger is filled first (hosts, 7 off-hours periods each, ~20 % left on, sleep blockers),
then each measurement runs `morning_report` in a fresh process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from collector.compliance.periods import Compliance  # noqa: E402
from collector.compliance.report import (  # noqa: E402
    Rules,
    morning_report,
    previous_periods,
    report_time,
)
from collector.compliance.settings import ComplianceConfig, build_calendars  # noqa: E402
from collector.ledger import Ledger  # noqa: E402
from collector.model.carbon import CarbonModel  # noqa: E402
from energy_common.configspec import load  # noqa: E402

DAY = date(2026, 11, 19)  # a Thursday: the report covers Wednesday night


def setup() -> tuple[Compliance, Rules, float]:
    cc = load(ComplianceConfig, {}, "<bench>")
    cals = build_calendars(cc)
    comp = Compliance(
        cals,
        "default",
        {},
        {},
        ["vm", "server"],
        ["always_on=true"],
        0.2,
        CarbonModel(0.052, "static"),
    )
    rules = Rules(900, 0.9, 3, 0.2)
    return comp, rules, report_time(DAY, "09:30", cals["default"])


def fill(url: str, hosts: int) -> None:
    comp, _rules, at = setup()
    cal = comp.calendars["default"]
    last = cal.period_at(report_time(DAY - timedelta(days=0), "07:00", cal))
    assert last is not None
    starts = previous_periods(cal, last, 7)
    periods = {s: cal.period_at(s + 1) for s in starts}
    rng = random.Random(5)
    led = Ledger(url)
    host_rows, period_rows, blockers = [], [], []
    for i in range(hosts):
        hid = f"{i:08d}-0000-4000-8000-000000000000"
        site, dept = f"site-{i % 40}", f"dept-{i % 25}"
        kind = "laptop" if i % 3 == 0 else "desktop"
        host_rows.append(
            (
                hid,
                "agent",
                f"PC-{i:06d}",
                kind,
                "OptiPlex 7080",
                "Windows 11",
                site,
                dept,
                "2021-04",
                8,
                16 << 30,
                "{}",
                at - 30 * 86400,
                at,
                "active",
                at,
                0,  # spool_dropped
                0.0,  # duplicate_s
                None,  # wake
                None,  # hardware
            )
        )
        left_on = rng.random() < 0.2
        for s in starts:
            p = periods[s]
            assert p is not None
            length = p.end - p.start
            on = length - 1800 if left_on else rng.choice((0.0, 0.0, 300.0))
            period_rows.append(
                (
                    hid,
                    p.start,
                    p.end,
                    p.day,
                    p.kind,
                    "default",
                    site,
                    dept,
                    kind,
                    on,
                    1800.0 if left_on else 0.0,
                    length,
                    on * 23.5 / 3600,
                    on * 23.5 / 3600 / 1000 * 0.2,
                    on * 23.5 / 3600 / 1000 * 0.052,
                )
            )
            if left_on and rng.random() < 0.5:
                blockers.append(
                    (
                        hid,
                        p.start,
                        rng.choice(("Teams.exe", "chrome.exe", "backup.exe")),
                        "display:process",
                    )
                )
    with led.transaction() as tx:
        for table, rows in (
            ("hosts", host_rows),
            ("host_periods", period_rows),
            ("period_blockers", blockers),
        ):
            tx.load(table, rows)
    led.close()


def measure(url: str) -> None:
    comp, rules, at = setup()
    led = Ledger(url)
    t0 = time.perf_counter()
    rep = morning_report(led, comp, rules, at)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": dt,
                "peak_rss_mib": peak,
                "hosts": rep["summary"]["hosts"],
                "left_on": rep["summary"]["noncompliant"],
                "repeat_offenders": len(rep["repeat_offenders"]),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench/results/compliance_report.json"))
    args = ap.parse_args()
    if args.measure:
        measure(args.measure)
        return
    from services import Postgres, fresh_database

    work = Path(tempfile.mkdtemp(prefix="bench-compliance-"))
    pg = Postgres().start()
    results = {}
    try:
        for backend, url in (
            ("sqlite", f"sqlite:{work / 'ledger.db'}"),
            ("postgresql", fresh_database(pg.url(), "bench")),
        ):
            t0 = time.perf_counter()
            fill(url, args.hosts)
            fill_s = time.perf_counter() - t0
            runs = []
            for _ in range(args.repeats):
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", url],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout))
            results[backend] = {
                "fill_seconds": round(fill_s, 1),
                "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
                "runs_seconds": [round(r["seconds"], 2) for r in runs],
                "peak_rss_mib": round(max(r["peak_rss_mib"] for r in runs)),
                **{k: runs[0][k] for k in ("hosts", "left_on", "repeat_offenders")},
            }
            print(backend, results[backend], flush=True)
    finally:
        pg.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print("\n| ledger | hosts | median s (runs) | peak RSS MiB | left on | repeat offenders |")
    print("|---|---|---|---|---|---|")
    for b, r in results.items():
        runs = ", ".join(str(x) for x in r["runs_seconds"])
        print(
            f"| {b} | {r['hosts']} | {r['median_seconds']} ({runs}) | {r['peak_rss_mib']} | "
            f"{r['left_on']} | {r['repeat_offenders']} |"
        )


if __name__ == "__main__":
    main()
