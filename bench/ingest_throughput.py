"""Collector ingest throughput, end to end (MQTT → validation → ledger + TSDB sink + /metrics),
measured in the same run, on the same broker and the same backlog, as `mosquitto_sub`'s raw
delivery rate and a minimal paho-mqtt subscriber that only json-decodes (the ceiling for one
Python consumer). Then 100,000 simulated agents held by one collector: its RSS.

    .venv/bin/python bench/ingest_throughput.py --repeats 3 --baseline 8126690

`--baseline REV` also runs the collector of git revision REV (checked out in a temporary
worktree, same virtualenv) on the same backlog in the same run, for a before/after ratio.
The current collector answers every report on the agent's ack topic (QoS 1), as in
production; older collectors do not.

Each consumer drains a backlog of N simulator reports queued at QoS 1 for its persistent
session (published before it connects). Consumers run pinned to CPU 1 (`taskset`), the broker
to CPU 0. The collector runs as `energy-collector run` with the SQLite ledger and the TSDB sink
writing to a local VictoriaMetrics.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from services import Mosquitto, VictoriaMetrics, free_port, wait_port  # noqa: E402

from collector.simulate import SimConfig, Simulation, send_mqtt  # noqa: E402
from energy_common.schema import Host, Report, Segment, encode_report  # noqa: E402

TOPIC = "energy/v1/agents"
PIN = ["taskset", "-c", "1"] if shutil.which("taskset") and psutil.cpu_count() > 1 else []


def session(port: int, client_id: str, topic: str) -> None:
    """Create a persistent session with its subscription, then leave: the broker queues."""
    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = 3600
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port, clean_start=False, properties=p)
    c.loop_start()
    c.subscribe(topic, 1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def backlog(port: int, payloads: list[tuple[str, bytes]]) -> None:
    send_mqtt(iter(payloads), "127.0.0.1", port)
    time.sleep(0.5)


def run_mosquitto_sub(port: int, n: int, cid: str, topic: str = f"{TOPIC}/+/report") -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            *PIN,
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-c",
            "-i",
            cid,
            "-t",
            topic,
            "-C",
            str(n),
            "-V",
            "mqttv5",
            "-x",
            "3600",
        ],
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=600,
    )
    return n / (time.perf_counter() - t0)


MINIMAL = r"""
import json, sys, time, threading
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
port, n, cid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
count = [0]; done = threading.Event(); t = [0.0]
def on_message(c, u, m):
    json.loads(m.payload)
    count[0] += 1
    if count[0] == 1: t[0] = time.perf_counter()
    if count[0] >= n: done.set()
c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                protocol=mqtt.MQTTv5)
c.on_message = on_message
p = Properties(PacketTypes.CONNECT); p.SessionExpiryInterval = 3600
t0 = time.perf_counter()
c.connect("127.0.0.1", port, clean_start=False, properties=p)
c.loop_start(); done.wait(600); c.loop_stop()
print(n / (time.perf_counter() - t0))
"""


def run_minimal(port: int, n: int, cid: str) -> float:
    out = subprocess.run(
        [*PIN, sys.executable, "-c", MINIMAL, str(port), str(n), cid],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(out.stdout.strip())


def accepted(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('energy_reports_total{result="accepted"}'):
                return float(line.split()[-1])
    return 0.0


def run_collector(
    work: Path,
    port: int,
    vm_url: str,
    n: int,
    cid: str,
    group: str,
    root: Path = ROOT,
    extra: dict | None = None,
    scrape_s: float = 0.5,
) -> tuple[float, float, float]:
    """Returns (reports/s, CPU seconds used, peak RSS MiB). `root`: the checkout to run;
    `extra`: configuration sections on top (the sleep policy variant)."""
    http_port = free_port()
    cfg = {
        "state_dir": str(work / cid),
        "ledger": {"url": f"sqlite:{work / cid / 'l.db'}"},
        "http": {"port": http_port},
        "log_level": "warning",
        "mqtt": {
            "enabled": True,
            "host": "127.0.0.1",
            "port": port,
            "client_id": cid,
            "group": group,
        },
        "tsdb": {"enabled": True, "url": vm_url},
        **(extra or {}),
    }
    path = work / f"{cid}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [*PIN, str(ROOT / ".venv/bin/python"), "-m", "collector.cli", "run", "-c", str(path)],
        stderr=open(work / f"{cid}.log", "wb"),
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    p = psutil.Process(proc.pid)
    wait_port(http_port, 30)
    first_t = None
    first_n = 0.0
    peak = 0.0
    prev_t, prev_n = 0.0, 0.0
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        got = accepted(http_port)
        now = time.perf_counter()
        peak = max(peak, p.memory_info().rss / 2**20)
        if first_t is None and got > 0:
            first_t, first_n = now, got
        if got >= n:
            break
        prev_t, prev_n = now, got
        time.sleep(scrape_s)
    else:
        raise RuntimeError(f"collector processed only {got} of {n}")
    assert first_t is not None
    # the moment the n-th report was counted, between the two scrapes around it (the drain
    # rate is steady over one interval): a scrape is no free observation, each renders the
    # whole registry on the collector's own CPU
    end = now
    if prev_n > first_n and got > prev_n:
        end = prev_t + (n - prev_n) / (got - prev_n) * (now - prev_t)
    rate = (n - first_n) / max(end - first_t, 1e-9)
    cpu = sum(p.cpu_times()[:2])
    proc.terminate()
    proc.wait(30)
    return rate, cpu, peak


def fleet_reports(agents: int, rounds: int, start: float) -> list[tuple[str, bytes]]:
    """`rounds` 5-minute reports from each of `agents` agents (for the 100k-agent test)."""
    out = []
    ids = [str(uuid.UUID(int=i + 1, version=4)) for i in range(agents)]
    for r in range(rounds):
        a, b = start + r * 300, start + (r + 1) * 300
        for i, aid in enumerate(ids):
            host = Host(
                hostname=f"PC-{i:06d}",
                kind="desktop",
                model="OptiPlex 7080",
                os="Windows 11 Pro 23H2",
                site=f"site-{i % 40}",
                department=f"dept-{i % 25}",
                manufactured="2021-04",
                cpus=8,
                memory_bytes=16 << 30,
            )
            rep = Report(
                aid,
                r,
                b,
                host,
                start - 3600,
                (
                    Segment(a, a + 200, "active", cpu_util=0.12),
                    Segment(a + 200, b, "idle", cpu_util=0.02),
                ),
                agent_version="bench",
            )
            out.append((aid, encode_report(rep)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=400, help="simulated agents for the backlog")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fleet", type=int, default=100_000, help="agents for the RSS test")
    ap.add_argument("--out", default=str(ROOT / "bench/results/ingest_throughput.json"))
    ap.add_argument("--baseline", help="git revision whose collector runs beside this one")
    ap.add_argument(
        "--policy",
        action="store_true",
        help="also run the collector with a sleep policy (every answer checked for a policy "
        "document, the first one per agent sent with it)",
    )
    ap.add_argument(
        "--scrape-s",
        type=float,
        default=0.5,
        help="seconds between the /metrics scrapes that watch a collector drain (each renders "
        "the whole registry on the collector's CPU: 0.05, the old value, took 12-18 %% of it)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    base_root = None
    if args.baseline:
        base_root = work / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_root), args.baseline],
            check=True,
            capture_output=True,
        )
    broker = Mosquitto(work / "broker")
    broker_proc = subprocess.Popen(
        ["taskset", "-c", "0", broker.binary, "-c", str(broker.conf)]
        if PIN
        else [broker.binary, "-c", str(broker.conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(broker.port)
    vm = VictoriaMetrics(work / "vm").start()
    sim = Simulation(SimConfig(agents=args.agents, days=1, seed=42))
    payloads = [(aid, body) for _, aid, _, body in sim.reports()]
    n = len(payloads)
    size = statistics.median(len(b) for _, b in payloads)
    names = ["mosquitto_sub", "paho_json_only", "collector"]
    if base_root is not None:
        names.append("collector_baseline")
    if args.policy:
        names.append("collector_policy")
    policy = {
        "policy": {"enabled": True, "rules": [{"name": "all", "mode": "advise"}]},
    }
    results: dict[str, list[float]] = {k: [] for k in names}
    cpu_per_report: dict[str, list[float]] = {
        "collector": [],
        "collector_baseline": [],
        "collector_policy": [],
    }
    for r in range(args.repeats):
        for name in names:
            cid = f"{name}-{r}"
            shared = name.startswith("collector")
            topic = f"$share/{cid}/{TOPIC}/+/report" if shared else f"{TOPIC}/+/report"
            session(broker.port, cid, topic)
            backlog(broker.port, payloads)
            if name == "mosquitto_sub":
                rate = run_mosquitto_sub(broker.port, n, cid)
            elif name == "paho_json_only":
                rate = run_minimal(broker.port, n, cid)
            else:
                root = base_root if name == "collector_baseline" and base_root else ROOT
                rate, cpu, _ = run_collector(
                    work,
                    broker.port,
                    vm.url,
                    n,
                    cid,
                    cid,
                    root,
                    policy if name == "collector_policy" else None,
                    args.scrape_s,
                )
                cpu_per_report[name].append(cpu / n)
            # drop the session so later backlogs are not queued for it too
            c = mqtt.Client(
                callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                client_id=cid,
                protocol=mqtt.MQTTv5,
            )
            c.connect("127.0.0.1", broker.port, clean_start=True)
            c.disconnect()
            results[name].append(rate)
            print(f"run {r + 1}: {name:15s} {rate:10.0f} msg/s", flush=True)

    # 100,000 agents reporting every 5 minutes: two rounds, then the collector's RSS
    fleet_cid = "collector-fleet"
    session(broker.port, fleet_cid, f"$share/{fleet_cid}/{TOPIC}/+/report")
    start = time.time() - 3 * 3600
    fleet = fleet_reports(args.fleet, 2, start)
    backlog(broker.port, fleet)
    fleet_rate, _, fleet_rss = run_collector(
        work, broker.port, vm.url, len(fleet), fleet_cid, fleet_cid
    )
    broker_proc.terminate()
    broker_proc.wait(20)
    vm.stop()

    med = {k: statistics.median(v) for k, v in results.items()}
    out = {
        "backlog_reports": n,
        "report_bytes_median": size,
        "repeats": args.repeats,
        "rates_msg_s": results,
        "median_msg_s": med,
        "collector_vs_mosquitto_sub": med["collector"] / med["mosquitto_sub"],
        "collector_vs_paho_json_only": med["collector"] / med["paho_json_only"],
        "collector_cpu_ms_per_report": statistics.median(cpu_per_report["collector"]) * 1000,
        "baseline": args.baseline,
        "collector_vs_baseline": (
            med["collector"] / med["collector_baseline"] if "collector_baseline" in med else None
        ),
        "collector_policy_vs_collector": (
            med["collector_policy"] / med["collector"] if "collector_policy" in med else None
        ),
        "collector_policy_cpu_ms_per_report": (
            statistics.median(cpu_per_report["collector_policy"]) * 1000
            if cpu_per_report["collector_policy"]
            else None
        ),
        "baseline_cpu_ms_per_report": (
            statistics.median(cpu_per_report["collector_baseline"]) * 1000
            if cpu_per_report["collector_baseline"]
            else None
        ),
        "fleet_agents": args.fleet,
        "fleet_reports": len(fleet),
        "fleet_rate_msg_s": fleet_rate,
        "fleet_peak_rss_mib": fleet_rss,
        "pinned": bool(PIN),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"\n| consumer (QoS 1 backlog of {n} reports, median {size:.0f} B) | median msg/s | "
        f"runs |\n|---|---|---|"
    )
    for k in names:
        runs = ", ".join(f"{x:.0f}" for x in results[k])
        print(f"| {k} | {med[k]:.0f} | {runs} |")
    print(
        f"\ncollector / mosquitto_sub = {out['collector_vs_mosquitto_sub']:.3f}; "
        f"collector / paho json-only = {out['collector_vs_paho_json_only']:.3f}; "
        f"collector CPU {out['collector_cpu_ms_per_report']:.3f} ms per report"
    )
    print(
        f"{args.fleet} agents × 2 reports: {fleet_rate:.0f} reports/s, peak RSS {fleet_rss:.0f} MiB"
    )
    if args.policy:
        cpu_policy = out["collector_policy_cpu_ms_per_report"]
        print(
            f"collector with a sleep policy / collector = "
            f"{out['collector_policy_vs_collector']:.3f}; CPU {cpu_policy:.3f} ms per report"
        )
    if base_root is not None:
        print(
            f"collector / collector@{args.baseline} = {out['collector_vs_baseline']:.3f}; "
            f"CPU {out['baseline_cpu_ms_per_report']:.3f} ms per report at {args.baseline}"
        )
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_root)],
            check=False,
            capture_output=True,
        )


if __name__ == "__main__":
    main()
