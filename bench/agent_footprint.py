"""Agent footprint: `energy-agent run` at default intervals against a local Mosquitto over
TLS, measured side by side with Prometheus node_exporter scraped every 60 s (the reference
for a light agent). Prints a Markdown table for BENCHMARKS.md and writes JSON next to it.

    .venv/bin/python bench/agent_footprint.py --minutes 15

Steady RSS is the median of samples after a warm-up; CPU is seconds per hour of wall time
after the warm-up; report size is the median payload seen by a subscriber.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from services import (  # noqa: E402
    Mosquitto,
    free_port,
    make_tls,
    mosquitto_tls_conf,
    require_binary,
    wait_port,
)


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def baseline_import_rss() -> float:
    code = (
        "import psutil, paho.mqtt.client, ssl, yaml, json, resource, sys;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout) / 1024  # KiB -> MiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds ignored at start")
    ap.add_argument("--out", default=str(ROOT / "bench/results/agent_footprint.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    certs = make_tls(work / "tls")
    tls_port = free_port()
    broker = Mosquitto(work / "broker", extra_conf=mosquitto_tls_conf(tls_port, certs)).start()
    wait_port(tls_port)

    sizes: list[int] = []
    sub = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="bench-sub",
        protocol=mqtt.MQTTv5,
    )
    sub.tls_set(ca_certs=str(certs["ca"]))
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("energy/v1/agents/+/report", 1)
    sub.on_message = lambda c, u, m: sizes.append(len(m.payload))
    sub.connect("localhost", tls_port)
    sub.loop_start()

    cfg = {
        "transport": "mqtt",
        "state_dir": str(work / "state"),
        "site": "bench",
        "department": "DSI",
        "tags": {"floor": "3"},
        "mqtt": {
            "host": "localhost",
            "port": tls_port,
            "tls": {"enabled": True, "ca_file": str(certs["ca"])},
        },
    }
    (work / "agent.yaml").write_text(yaml.safe_dump(cfg))
    agent = subprocess.Popen(
        [str(ROOT / ".venv/bin/energy-agent"), "run", "-c", str(work / "agent.yaml")],
        stderr=open(work / "agent.log", "wb"),
    )

    ne_port = free_port()
    ne = subprocess.Popen(
        [require_binary("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{ne_port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(ne_port)
    stop = threading.Event()
    scrapes = {"n": 0, "bytes": 0}

    def scrape() -> None:
        while not stop.is_set():
            with urllib.request.urlopen(f"http://127.0.0.1:{ne_port}/metrics") as r:
                scrapes["bytes"] += len(r.read())
                scrapes["n"] += 1
            stop.wait(60)

    threading.Thread(target=scrape, daemon=True).start()

    pa, pn = psutil.Process(agent.pid), psutil.Process(ne.pid)
    time.sleep(args.warmup)
    t0 = time.monotonic()
    c0a, c0n = cpu_s(pa), cpu_s(pn)
    rss_a: list[float] = []
    rss_n: list[float] = []
    end = t0 + args.minutes * 60
    while time.monotonic() < end:
        rss_a.append(pa.memory_info().rss / 2**20)
        rss_n.append(pn.memory_info().rss / 2**20)
        time.sleep(10)
    elapsed = time.monotonic() - t0
    ca, cn = cpu_s(pa) - c0a, cpu_s(pn) - c0n
    stop.set()
    agent.terminate()
    agent.wait(20)
    ne.terminate()
    ne.wait(10)
    sub.loop_stop()
    broker.stop()

    result = {
        "minutes_measured": round(elapsed / 60, 1),
        "agent": {
            "rss_median_mib": round(statistics.median(rss_a), 1),
            "rss_max_mib": round(max(rss_a), 1),
            "cpu_s_per_hour": round(ca / elapsed * 3600, 2),
            "reports": len(sizes),
            "report_bytes_median": int(statistics.median(sizes)) if sizes else None,
            "report_bytes_max": max(sizes) if sizes else None,
        },
        "node_exporter": {
            "rss_median_mib": round(statistics.median(rss_n), 1),
            "rss_max_mib": round(max(rss_n), 1),
            "cpu_s_per_hour": round(cn / elapsed * 3600, 2),
            "scrapes": scrapes["n"],
            "scrape_bytes": scrapes["bytes"] // max(scrapes["n"], 1),
        },
        "python_import_baseline_mib": round(baseline_import_rss(), 1),
        "tls": True,
        "ssl_version": ssl.OPENSSL_VERSION,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    a, n = result["agent"], result["node_exporter"]
    print(
        f"| measure | energy-agent (MQTT over TLS) | node_exporter (scraped every 60 s) |\n"
        f"|---|---|---|\n"
        f"| steady RSS, median (MiB) | {a['rss_median_mib']} | {n['rss_median_mib']} |\n"
        f"| RSS max (MiB) | {a['rss_max_mib']} | {n['rss_max_mib']} |\n"
        f"| CPU seconds per hour | {a['cpu_s_per_hour']} | {n['cpu_s_per_hour']} |\n"
        f"| payload | {a['report_bytes_median']} B per report (median of {a['reports']}) "
        f"| {n['scrape_bytes']} B per scrape |\n"
        f"\nimport baseline (psutil, paho-mqtt, ssl, yaml): "
        f"{result['python_import_baseline_mib']} MiB; measured over "
        f"{result['minutes_measured']} min after {args.warmup:.0f} s warm-up"
    )


if __name__ == "__main__":
    main()
