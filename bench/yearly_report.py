"""The yearly REEN report of 5,000 PCs, 600 VMs and 3 datacenters over a year, on SQLite and
on PostgreSQL: wall time and peak RSS of `energy-collector report` (HTML, JSON, open data
package, NumEcoEval export), each run in a fresh process (targets: under a minute, under
1 GiB).

    .venv/bin/python bench/yearly_report.py --repeats 3

The ledger is filled first with the rows the collector writes for such a year: `hosts`,
`host_days` (one row per host, local day and state: active, idle, off or suspended, with
the modelled or attributed energy), `host_periods` (one off-hours period per host and day,
~20 % of desktops left on), `period_blockers`, and hourly `meter_hours` of each datacenter's
IT and site meters. Pushing the ~4.5 million reports of such a year through ingest would
take ~25 minutes here (3,361 reports/s, BENCHMARKS.md); the ingest path itself is measured
apart and its output checked against the simulator's truth in tests/test_yearly_report.py.
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
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from collector.config import CollectorConfig  # noqa: E402
from collector.ledger import Ledger, Transaction  # noqa: E402
from energy_common.configspec import load  # noqa: E402

YEAR = 2025
PARIS = ZoneInfo("Europe/Paris")
SITES = [f"site-{i:02d}" for i in range(30)]
DEPTS = [f"direction-{i:02d}" for i in range(20)]


def fill(url: str, pcs: int, vms: int, dcs: int) -> dict[str, int]:
    rng = random.Random(3)
    start = datetime.combine(date(YEAR, 1, 1), dtime(0), PARIS).timestamp()
    end = datetime.combine(date(YEAR + 1, 1, 1), dtime(0), PARIS).timestamp()
    led = Ledger(url)
    counts = {"hosts": 0, "host_days": 0, "host_periods": 0, "period_blockers": 0}
    days = [
        date(YEAR, 1, 1) + timedelta(days=i)
        for i in range((date(YEAR + 1, 1, 1) - date(YEAR, 1, 1)).days)
    ]
    day_starts = {d: datetime.combine(d, dtime(0), PARIS).timestamp() for d in days}
    hosts, day_rows, period_rows, blockers = [], [], [], []

    def flush(cur: Transaction) -> None:
        for table, rows in (
            ("host_days", day_rows),
            ("host_periods", period_rows),
            ("period_blockers", blockers),
        ):
            cur.load(table, rows)
            counts[table] += len(rows)
            rows.clear()

    with led.transaction() as cur:
        for i in range(pcs + vms):
            vm = i >= pcs
            kind = "vm" if vm else "laptop" if i % 10 < 3 else "desktop"
            hid = f"{i:08d}-0000-4000-8000-000000000000"
            site, dept = SITES[i % len(SITES)], DEPTS[(i // 3) % len(DEPTS)]
            left_on = kind == "desktop" and rng.random() < 0.2
            hosts.append(
                (
                    hid,
                    "agent",
                    f"{'VM' if vm else 'PC'}-{i:05d}",
                    kind,
                    "OptiPlex 7080",
                    "Windows 11",
                    site,
                    dept,
                    f"{rng.randint(2014, 2025)}-{rng.randint(1, 12):02d}",
                    4,
                    16 << 30,
                    "{}",
                    start - 86400,
                    end - 60,
                    "active",
                    end - 60,
                    0,
                    0.0,
                )
            )
            for d in days:
                ds = day_starts[d]
                length = (day_starts.get(d + timedelta(days=1)) or end) - ds
                work = d.weekday() < 5
                if vm:
                    states = [("active", 10 * 3600), ("idle", length - 10 * 3600)]
                    for st, s in states:
                        wh = s / 3600 * (4 * 1.9 + 16 * 0.392)
                        day_rows.append(
                            (hid, d.isoformat(), st, s, 0.0, 0.0, wh, wh / 1000 * 0.052, "static")
                        )
                    continue
                on = 8.5 * 3600 if work else 0.0
                if left_on:
                    on = length
                rest = length - on
                low = "suspended" if kind == "laptop" else "off"
                for st, s, w in (
                    ("active", on * 0.8, 60.0),
                    ("idle", on * 0.2, 45.0),
                    (low, rest, 1.1),
                ):
                    if s > 0:
                        wh = s / 3600 * w
                        day_rows.append(
                            (hid, d.isoformat(), st, s, 0.0, wh, 0.0, wh / 1000 * 0.052, "static")
                        )
                # the off-hours period that starts this evening (18:00 → 08:00)
                ps = ds + 18 * 3600
                pe = ps + 14 * 3600
                on_s = 14 * 3600.0 if left_on else rng.choice((0.0, 0.0, 0.0, 600.0))
                wh = on_s / 3600 * 45.0
                period_rows.append(
                    (
                        hid,
                        ps,
                        pe,
                        d.isoformat(),
                        "night" if work else "weekend",
                        "default",
                        site,
                        dept,
                        kind,
                        on_s,
                        0.0,
                        pe - ps,
                        wh,
                        wh / 1000 * 0.2,
                        wh / 1000 * 0.052,
                    )
                )
                if left_on and rng.random() < 0.5:
                    blockers.append(
                        (hid, ps, rng.choice(("Teams.exe", "chrome.exe")), "display:process")
                    )
            if len(day_rows) > 200_000:
                flush(cur)
        flush(cur)
        cur.load("hosts", hosts)
        counts["hosts"] = len(hosts)
        meters, hours = [], []
        for k in range(dcs):
            dc = f"dc{k + 1}"
            for role, kw in (("it", 80.0), ("facility", 80.0 * 1.5)):
                name = f"{dc}-{role}"
                meters.append(
                    (name, name, "dsi", dc, role, None, "csv", "energy", 0, None, None, None, None)
                )
                t = start
                while t < end:
                    hours.append((name, t, kw * 1000 * rng.uniform(0.95, 1.05), 3600.0))
                    t += 3600
        cur.load("meters", meters)
        cur.load("meter_hours", hours)
        counts["meter_hours"] = len(hours)
    led.close()
    return counts


def measure(url: str, out: str) -> None:
    from collector.yearly.build import build

    cfg = load(
        CollectorConfig,
        {
            "state_dir": out,
            "ledger": {"url": url},
            "yearly": {
                "objectives": [
                    {"indicator": "total_kwh", "baseline_value": 3.5e6, "change": -0.1},
                    {"indicator": "compliance_rate", "target": 0.9},
                    {"indicator": "pue", "target": 1.4},
                ]
            },
        },
        "<bench>",
    )
    t0 = time.perf_counter()
    written = build(cfg, YEAR, ("html", "json"), Path(out), "fr")
    dt = time.perf_counter() - t0
    doc = json.loads(Path(written["json"]).read_text())
    print(
        json.dumps(
            {
                "seconds": dt,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "hosts_reporting": doc["scope"]["hosts_reporting"],
                "total_kwh": doc["indicators"]["total_kwh"],
                "html_bytes": Path(written["html"]).stat().st_size,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pcs", type=int, default=5000)
    ap.add_argument("--vms", type=int, default=600)
    ap.add_argument("--datacenters", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "bench/results/yearly_report.json"))
    args = ap.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    from services import Postgres, fresh_database

    work = Path(tempfile.mkdtemp(prefix="bench-yearly-"))
    pg = Postgres().start()
    results: dict[str, object] = {}
    try:
        for backend, url in (
            ("sqlite", f"sqlite:{work / 'ledger.db'}"),
            ("postgresql", fresh_database(pg.url(), "bench_yearly")),
        ):
            t0 = time.perf_counter()
            rows = fill(url, args.pcs, args.vms, args.datacenters)
            fill_s = time.perf_counter() - t0
            runs = []
            for r in range(args.repeats):
                done = subprocess.run(
                    [sys.executable, __file__, "--measure", url, str(work / f"{backend}-{r}")],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            results[backend] = {
                "fill_s": round(fill_s, 1),
                "rows": rows,
                "runs": runs,
                "median_s": round(statistics.median(r["seconds"] for r in runs), 2),
                "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
            }
            print(
                backend,
                json.dumps(results[backend]["rows"]),
                "median",
                results[backend]["median_s"],
                "s",
                results[backend]["median_peak_rss_mib"],
                "MiB",
            )
    finally:
        pg.stop()
    Path(args.out).write_text(
        json.dumps({"pcs": args.pcs, "vms": args.vms, "results": results}, indent=1)
    )


if __name__ == "__main__":
    main()
