"""The collector's HTTP server: keep-alive latency and ingest latency, this checkout beside
an earlier revision (its http.server-based server) in the same run.

    .venv/bin/python bench/http_server.py --baseline 8126690 --requests 400

Each collector runs `energy-collector run` with a SQLite ledger and HTTP only. One client
keeps one connection open (http.client) and sends, one after another: GET /healthz, then
POST /api/v1/reports of simulator reports (each answered after its ledger commit). Reported:
median and 95th percentile latency per request, and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from services import free_port, stop_process, wait_port  # noqa: E402

from collector.simulate import SimConfig, Simulation  # noqa: E402


def start(root: Path, work: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cfg = {
        "state_dir": str(work / name),
        "ledger": {"url": f"sqlite:{work / name / 'l.db'}"},
        "http": {"port": port},
        "log_level": "warning",
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "collector.cli", "run", "-c", str(path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stderr=open(work / f"{name}.log", "wb"),
    )
    wait_port(port, 30)
    return proc, port


def measure(port: int, bodies: list[bytes]) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    get, post = [], []
    for _ in range(len(bodies)):
        t0 = time.perf_counter()
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        get.append(time.perf_counter() - t0)
    for b in bodies:
        t0 = time.perf_counter()
        conn.request(
            "POST", "/api/v1/reports", body=b, headers={"Content-Type": "application/json"}
        )
        r = conn.getresponse()
        doc = json.loads(r.read())
        assert doc.get("result") == "accepted", doc
        post.append(time.perf_counter() - t0)
    conn.close()

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[int(p * (len(xs) - 1))] * 1000

    return {
        "get_median_ms": statistics.median(get) * 1000,
        "get_p95_ms": q(get, 0.95),
        "post_median_ms": statistics.median(post) * 1000,
        "post_p95_ms": q(post, 0.95),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, help="git revision to compare with")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--out", default=str(ROOT / "bench/results/http_server.json"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    base = work / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
        check=True,
        capture_output=True,
    )
    sim = Simulation(SimConfig(agents=20, days=1, seed=3))
    bodies = [b for _, _, _, b in sim.reports()][: args.requests]
    out: dict[str, dict[str, float]] = {}
    try:
        for name, root in (("baseline", base), ("current", ROOT)):
            proc, port = start(root, work, name)
            try:
                out[name] = measure(port, bodies)
            finally:
                stop_process(proc, signal.SIGTERM, 20)
            print(name, json.dumps({k: round(v, 3) for k, v in out[name].items()}), flush=True)
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
            check=False,
            capture_output=True,
        )
    ratio = {k: out["current"][k] / out["baseline"][k] for k in out["current"]}
    result = {"requests": len(bodies), "baseline": args.baseline, **out, "ratio": ratio}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("current / baseline:", json.dumps({k: round(v, 3) for k, v in ratio.items()}))


if __name__ == "__main__":
    main()
