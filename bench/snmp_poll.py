"""SNMP polling: one full cycle over N simulated PDUs (APC rPDU2 recording: device, phase,
banks and 24 metered outlets each), wall time and CPU per device, measured in the same run as
Prometheus snmp_exporter (Debian prometheus-snmp-exporter 0.21, with a module written for the
same tables) polling the same devices. Also reports the simulator's own CPU share: snmpsim
is single-threaded.

    .venv/bin/python bench/snmp_poll.py --devices 500 --repeats 3

Devices are distinct UDP ports of one snmpsim process (same recording), 127.0.0.1 only.
Both clients poll with concurrency 50, timeout 5 s, 1 retry, max-repetitions 25. The
collector's figure is its second cycle in one process (steady state, as it runs: the row
counts of the first are known); the cold first cycle and the same poller on the pysnmp stack
(`stack: pysnmp`) are reported beside it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from services import free_port, require_binary, stop_process, wait_port  # noqa: E402

# device status, metered outlets, phases and banks: what the apc-rpdu2 profile reads
TABLES = [
    "1.3.6.1.4.1.318.1.1.26.4.3.1",
    "1.3.6.1.4.1.318.1.1.26.9.4.3.1",
    "1.3.6.1.4.1.318.1.1.26.6.3.1",
    "1.3.6.1.4.1.318.1.1.26.8.3.1",
]
ONE_CYCLE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from energy_common.configspec import load
from collector.sources.snmp.settings import SnmpConfig
from collector.ledger import Ledger
from collector.sources.snmp.poller import Poller
from prometheus_client import CollectorRegistry
ports = json.loads(sys.argv[2])
cfg = load(SnmpConfig, {"concurrency": 50, "devices": [
    {"name": f"pdu-{p}", "host": "127.0.0.1", "port": p, "community": "apc-rpdu2",
     "timeout_s": 5, "retries": 1, "max_repetitions": 25, "datacenter": "dc1",
     "stack": sys.argv[4]}
    for p in ports]}, "<bench>")
led = Ledger(f"sqlite:{sys.argv[3]}")
p = Poller(cfg, led, CollectorRegistry())
out = []
for _ in range(int(sys.argv[5])):  # the first cycle is cold (no row counts known yet)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    polls = p.run_cycle()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    out.append({"wall": wall, "cpu": cpu, "ok": len(polls),
                "rows": sum(len(x.rows) for x in polls)})
    time.sleep(1)
p.close()
print(json.dumps(out))
"""


def exporter_config(path: Path) -> None:
    def metric(name: str, oid: str, index: str, kind: str = "gauge") -> dict:
        return {
            "name": name,
            "oid": oid,
            "type": kind,
            "indexes": [{"labelname": index, "type": "gauge"}],
        }

    module = {
        "walk": TABLES,
        "version": 2,
        "max_repetitions": 25,
        "retries": 1,
        "timeout": "5s",
        "auth": {"community": "apc-rpdu2"},
        "metrics": [
            metric("rPDU2DeviceStatusPower", TABLES[0] + ".5", "rPDU2DeviceStatusIndex"),
            metric("rPDU2DeviceStatusEnergy", TABLES[0] + ".9", "rPDU2DeviceStatusIndex"),
            metric(
                "rPDU2OutletMeteredStatusName",
                TABLES[1] + ".3",
                "rPDU2OutletMeteredStatusIndex",
                "DisplayString",
            ),
            metric(
                "rPDU2OutletMeteredStatusPower", TABLES[1] + ".7", "rPDU2OutletMeteredStatusIndex"
            ),
            metric(
                "rPDU2OutletMeteredStatusEnergy", TABLES[1] + ".11", "rPDU2OutletMeteredStatusIndex"
            ),
            *(
                metric(f"rPDU2PhaseStatus{name}", f"{TABLES[2]}.{col}", "rPDU2PhaseStatusIndex")
                for name, col in (("LoadState", 4), ("Current", 5), ("Voltage", 6), ("Power", 7))
            ),
            *(
                metric(f"rPDU2BankStatus{name}", f"{TABLES[3]}.{col}", "rPDU2BankStatusIndex")
                for name, col in (("LoadState", 4), ("Current", 5))
            ),
        ],
    }
    path.write_text(yaml.safe_dump({"apc_rpdu2": module}))


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pysnmp", action="store_true", help="leave out the pysnmp stack")
    ap.add_argument("--out", default=str(ROOT / "bench/results/snmp_poll.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-snmp-"))
    data = work / "data"
    data.mkdir()
    (data / "apc-rpdu2.snmprec").write_text(
        (ROOT / "tests/fixtures/snmprec/apc-rpdu2.snmprec").read_text()
    )
    ports: list[int] = []
    while len(ports) < args.devices:  # free_port() may hand out a port twice: keep them distinct
        port = free_port()
        if port not in ports:
            ports.append(port)
    sim_bin = str(Path(sys.executable).parent / "snmpsim-command-responder")
    sim = subprocess.Popen(
        [
            sim_bin,
            f"--data-dir={data}",
            f"--cache-dir={work / 'cache'}",
            *[f"--agent-udpv4-endpoint=127.0.0.1:{p}" for p in ports],
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "snmpsim.log", "wb"),
        env={**__import__("os").environ, "SNMPSIM_ALLOW_ROOT": "true"},
    )
    time.sleep(3 + args.devices / 200)
    exp_port = free_port()
    conf = work / "snmp.yml"
    exporter_config(conf)
    exp = subprocess.Popen(
        [
            require_binary("prometheus-snmp-exporter"),
            f"--config.file={conf}",
            f"--web.listen-address=127.0.0.1:{exp_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "exporter.log", "wb"),
    )
    wait_port(exp_port, 20)
    psim, pexp = psutil.Process(sim.pid), psutil.Process(exp.pid)
    results: dict[str, list[dict]] = {
        "energy-collector": [],
        "energy-collector (cold cycle)": [],
        "energy-collector, stack pysnmp": [],
        "snmp_exporter": [],
    }

    def ours(stack: str, cycles: int, r: int) -> list[dict]:
        s0 = cpu_s(psim)
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                ONE_CYCLE,
                str(ROOT),
                json.dumps(ports),
                str(work / f"ledger-{stack}-{r}.db"),
                stack,
                str(cycles),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        runs = json.loads(out.stdout)
        runs[-1]["sim_cpu"] = (cpu_s(psim) - s0) / cycles  # the simulator's share, per cycle
        return runs

    try:
        for r in range(args.repeats):
            cold, steady = ours("native", 2, r)
            cold["sim_cpu"] = steady["sim_cpu"]
            results["energy-collector (cold cycle)"].append(cold)
            results["energy-collector"].append(steady)
            if not args.skip_pysnmp:
                results["energy-collector, stack pysnmp"].append(ours("pysnmp", 2, r)[-1])

            s0, e0 = cpu_s(psim), cpu_s(pexp)

            def scrape(port: int) -> int:
                u = f"http://127.0.0.1:{exp_port}/snmp?module=apc_rpdu2&target=127.0.0.1:{port}"
                with urllib.request.urlopen(u, timeout=60) as resp:
                    body = resp.read().decode()
                return sum(
                    1 for ln in body.splitlines() if ln.startswith("rPDU2OutletMeteredStatusPower{")
                )

            t0 = time.perf_counter()
            with ThreadPoolExecutor(50) as pool:
                rows = list(pool.map(scrape, ports))
            wall = time.perf_counter() - t0
            results["snmp_exporter"].append(
                {
                    "wall": wall,
                    "cpu": cpu_s(pexp) - e0,
                    "ok": sum(1 for x in rows if x == 24),
                    "sim_cpu": cpu_s(psim) - s0,
                }
            )
            print(
                f"run {r + 1}: ours {steady['wall']:.2f} s wall, {steady['cpu']:.2f} s CPU, "
                f"{steady['ok']} ok | snmp_exporter {wall:.2f} s wall, "
                f"{results['snmp_exporter'][-1]['cpu']:.2f} s CPU",
                flush=True,
            )
    finally:
        stop_process(exp, 15, 10)
        stop_process(sim, 15, 10)
    n = args.devices
    summary = {}
    for k, runs in results.items():
        if not runs:
            continue
        summary[k] = {
            "wall_s_median": round(statistics.median(x["wall"] for x in runs), 2),
            "cpu_ms_per_device_median": round(
                statistics.median(x["cpu"] for x in runs) / n * 1000, 2
            ),
            "devices_ok": min(x["ok"] for x in runs),
            "simulator_cpu_s_median": round(statistics.median(x["sim_cpu"] for x in runs), 2),
        }
    ratio = summary["energy-collector"]["cpu_ms_per_device_median"] / max(
        summary["snmp_exporter"]["cpu_ms_per_device_median"], 1e-9
    )
    out = {
        "devices": n,
        "results": results,
        "summary": summary,
        "cpu_ratio_collector_to_exporter": round(ratio, 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"\n| client ({n} PDUs, one cycle) | wall s (median) | CPU ms per device | "
        f"devices ok | simulator CPU s |\n|---|---|---|---|---|"
    )
    for k, v in summary.items():
        print(
            f"| {k} | {v['wall_s_median']} | {v['cpu_ms_per_device_median']} | "
            f"{v['devices_ok']} | {v['simulator_cpu_s_median']} |"
        )
    print(f"\nCPU per device, collector / snmp_exporter = {ratio:.2f}")


if __name__ == "__main__":
    main()
