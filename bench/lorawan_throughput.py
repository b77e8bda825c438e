"""LoRaWAN uplinks processed per second end to end on one core (MQTT → parse → dedup → meter
registers → ledger + /metrics), measured in the same run, on the same broker and backlog, as
`mosquitto_sub`'s raw rate and a minimal paho-mqtt subscriber that only json-decodes.

    .venv/bin/python bench/lorawan_throughput.py --repeats 3

The backlog: ChirpStack v4 uplinks built from the Adeunis Pulse 4 fixture for 500 metered
devices (a realistic ~1.5 KB message with two gateways in rxInfo), queued at QoS 1 for each
consumer's persistent session, then drained. Consumers pinned to CPU 1, the broker to CPU 0.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from ingest_throughput import PIN, run_minimal, run_mosquitto_sub, session  # noqa: E402
from services import Mosquitto, free_port, wait_port  # noqa: E402

TOPIC = "application/8e2f41a0/device/{}/event/up"
FILTER = "application/+/device/+/event/up"


def uplinks(devices: int, per_device: int) -> list[tuple[str, bytes]]:
    base = json.loads(
        (
            ROOT / "tests/fixtures/lorawan/chirpstack-v4_event-up_adeunis-pulse4-0x46-counters.json"
        ).read_text()
    )
    t0 = time.time() - per_device * 600
    out = []
    for k in range(per_device):
        for d in range(devices):
            dev = f"0018b21000{d:06x}"
            m = copy.deepcopy(base)
            m["deviceInfo"]["devEui"] = dev
            m["deviceInfo"]["deviceName"] = f"meter-{d}"
            m["deduplicationId"] = f"{d}-{k}"
            m["time"] = datetime.fromtimestamp(t0 + k * 600 + d, timezone.utc).isoformat()
            m["object"]["bytes"]["counterValues"] = [1000.0 + 5 * k, 0.0]
            out.append((TOPIC.format(dev), json.dumps(m).encode()))
    return out


def publish(port: int, msgs: list[tuple[str, bytes]], window: int = 100) -> None:
    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id="bench-ns",
        protocol=mqtt.MQTTv5,
    )
    sem = threading.Semaphore(window)
    c.on_publish = lambda *a: sem.release()
    c.connect("127.0.0.1", port)
    c.loop_start()
    for topic, body in msgs:
        sem.acquire()
        c.publish(topic, body, qos=1)
    for _ in range(window):
        sem.acquire()
    c.disconnect()
    c.loop_stop()
    time.sleep(0.5)


def lora_count(port: int) -> float:
    total = 0.0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("energy_lora_uplinks_total{"):
                total += float(line.split()[-1])
    return total


def run_collector(work: Path, port: int, n: int, cid: str, devices: int) -> float:
    http_port = free_port()
    cfg = {
        "state_dir": str(work / cid),
        "ledger": {"url": f"sqlite:{work / cid / 'l.db'}"},
        "http": {"port": http_port},
        "log_level": "warning",
        "lorawan": {
            "enabled": True,
            "topics": [FILTER],
            "mqtt": {"host": "127.0.0.1", "port": port, "client_id": cid, "group": cid},
            "profiles": [
                {
                    "name": "pulse4",
                    "match": "Pulse 4",
                    "fields": [
                        {
                            "name": "chA",
                            "path": "bytes.counterValues[0]",
                            "meaning": "pulse_count",
                            "wh_per_pulse": 1,
                        }
                    ],
                }
            ],
            "meters": [
                {
                    "device_profile": "Pulse 4",
                    "role": "facility",
                    "datacenter": "dc1",
                    "site": "dc1",
                }
            ],
        },
    }
    path = work / f"{cid}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [*PIN, str(ROOT / ".venv/bin/energy-collector"), "run", "-c", str(path)],
        stderr=open(work / f"{cid}.log", "wb"),
    )
    wait_port(http_port, 30)
    first_t, first_n = None, 0.0
    deadline = time.monotonic() + 600
    got = 0.0
    while time.monotonic() < deadline:
        got = lora_count(http_port)
        now = time.perf_counter()
        if first_t is None and got > 0:
            first_t, first_n = now, got
        if got >= n:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"collector processed {got} of {n}")
    proc.terminate()
    proc.wait(30)
    assert first_t is not None
    return (n - first_n) / max(now - first_t, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--per-device", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench/results/lorawan_throughput.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    broker = Mosquitto(work / "broker")
    bp = subprocess.Popen(
        (["taskset", "-c", "0"] if PIN else []) + [broker.binary, "-c", str(broker.conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(broker.port)
    msgs = uplinks(args.devices, args.per_device)
    n = len(msgs)
    size = statistics.median(len(b) for _, b in msgs)
    results: dict[str, list[float]] = {"mosquitto_sub": [], "paho_json_only": [], "collector": []}
    try:
        for r in range(args.repeats):
            for name in results:
                cid = f"lora-{name}-{r}"
                topic = f"$share/{cid}/{FILTER}" if name == "collector" else FILTER
                session(broker.port, cid, topic)
                publish(broker.port, msgs)
                if name == "mosquitto_sub":
                    rate = run_mosquitto_sub(broker.port, n, cid, FILTER)
                elif name == "paho_json_only":
                    rate = run_minimal(broker.port, n, cid)
                else:
                    rate = run_collector(work, broker.port, n, cid, args.devices)
                c = mqtt.Client(
                    callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                    client_id=cid,
                    protocol=mqtt.MQTTv5,
                )
                c.connect("127.0.0.1", broker.port, clean_start=True)
                c.disconnect()
                results[name].append(rate)
                print(f"run {r + 1}: {name:15s} {rate:10.0f} msg/s", flush=True)
    finally:
        bp.terminate()
        bp.wait(20)
    med = {k: statistics.median(v) for k, v in results.items()}
    out = {
        "backlog_uplinks": n,
        "message_bytes_median": size,
        "rates_msg_s": results,
        "median_msg_s": med,
        "pinned": bool(PIN),
        "collector_vs_mosquitto_sub": med["collector"] / med["mosquitto_sub"],
        "collector_vs_paho_json_only": med["collector"] / med["paho_json_only"],
        "cpu_count": psutil.cpu_count(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(
        f"\n| consumer (QoS 1 backlog of {n} uplinks, median {size:.0f} B) | median msg/s | "
        "runs |\n|---|---|---|"
    )
    for k, v in results.items():
        print(f"| {k} | {med[k]:.0f} | {', '.join(f'{x:.0f}' for x in v)} |")
    print(
        f"\ncollector / mosquitto_sub = {out['collector_vs_mosquitto_sub']:.3f}; "
        f"collector / paho json-only = {out['collector_vs_paho_json_only']:.3f}"
    )


if __name__ == "__main__":
    main()
