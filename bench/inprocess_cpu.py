"""CPU per message of the collector's ingest paths in-process, without MQTT: the agents'
pipeline (`Pipeline.process`, simulator reports) and the LoRaWAN processor
(`LoraProcessor.process`, Adeunis Pulse uplinks), SQLite ledger. Give one or more checkouts
to compare them in the same run, alternating:

    .venv/bin/python bench/inprocess_cpu.py . /tmp/other-checkout --rounds 2

Each measurement runs in a fresh interpreter with that checkout first on sys.path, and
freezes the start-up heap as `energy-collector run` does (`--no-freeze`: not); the time spent
in the cyclic garbage collector is printed beside the total.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time, tempfile
from pathlib import Path
root, what = sys.argv[1], sys.argv[2]
for p in (root + "/bench", root + "/tests", root):
    sys.path.insert(0, p)
from collector_helpers import make_config
from collector.app import Collector
tmp = Path(tempfile.mkdtemp())
if what == "agents":
    from collector.simulate import SimConfig, Simulation
    items = []
    for _, _, _, body in Simulation(SimConfig(agents=400, days=1, seed=42)).reports():
        items.append((body, None))
        if len(items) >= 15000:
            break
    c = Collector(make_config(tmp, tsdb={"enabled": True, "url": "http://127.0.0.1:9"}))
    run = c.pipeline.process
else:
    import lorawan_throughput as lt
    items = [(t, b, None) for t, b in lt.uplinks(200, 60)]
    lora = {"enabled": True, "profiles": [{"name": "pulse4", "match": "Pulse 4", "fields": [
        {"name": "chA", "path": "bytes.counterValues[0]", "meaning": "pulse_count",
         "wh_per_pulse": 10}]}],
        "meters": [{"device_profile": "Pulse 4", "field": "chA", "role": "building",
                    "site": "s"}]}
    c = Collector(make_config(tmp, lorawan=lora))
    run = c.lora.process
import gc, collector.app
if len(sys.argv) < 4 or sys.argv[3] != "no-freeze":
    # as `energy-collector run` does, where the checkout does it (older ones: nothing)
    getattr(collector.app, "freeze_startup_heap", lambda: None)()
in_gc, mark = [0.0], [0.0]
def clock(phase, info):
    if phase == "start":
        mark[0] = time.perf_counter()
    else:
        in_gc[0] += time.perf_counter() - mark[0]
gc.callbacks.append(clock)
t0 = time.process_time()
for i in range(0, len(items), 2000):
    run(items[i : i + 2000])
print(in_gc[0] / len(items) * 1e6)
print((time.process_time() - t0) / len(items) * 1e6)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the start-up heap to the cyclic collector (the service freezes it)",
    )
    args = ap.parse_args()
    for what in ("agents", "lorawan"):
        got: dict[str, list[float]] = {c: [] for c in args.checkouts}
        gc_us: dict[str, list[float]] = {c: [] for c in args.checkouts}
        for _ in range(args.rounds):
            for c in args.checkouts:
                root = str(Path(c).resolve())
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, root, what]
                    + (["no-freeze"] if args.no_freeze else []),
                    capture_output=True,
                    text=True,
                    check=True,
                    env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"},
                )
                lines = out.stdout.strip().splitlines()
                got[c].append(float(lines[-1]))
                gc_us[c].append(float(lines[-2]))
        for c, us in got.items():
            print(
                f"{what:8s} {c}: "
                + " · ".join(f"{u:.1f}" for u in us)
                + " µs CPU each, of which in the cyclic garbage collector "
                + " · ".join(f"{u:.1f}" for u in gc_us[c])
            )


if __name__ == "__main__":
    main()
