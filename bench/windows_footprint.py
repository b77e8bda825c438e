"""The Windows agent's footprint: the MSI installed under Wine, its service running at default
intervals and publishing over MQTT with TLS, measured side by side in one run with the Linux
agent (`energy-agent run`, same broker, same intervals) and with a bare Windows `python.exe`
under the same Wine (Wine's own share of the figures). Prints a Markdown table for
BENCHMARKS.md and writes JSON next to it.

    .venv/bin/python bench/windows_footprint.py --minutes 10

Wine is not Windows: the RSS of a process under Wine counts Wine's own libraries (ntdll, the
PE loader, wineserver's shared memory is not counted); the bare interpreter row says how much.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from services import Mosquitto, free_port, make_tls, mosquitto_tls_conf, wait_port  # noqa: E402
from wine import WinePrefix, winpath  # noqa: E402


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def find(pattern: str, timeout: float = 60) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            if pattern in " ".join(p.info["cmdline"] or []):
                return p
        time.sleep(0.5)
    raise TimeoutError(f"no process matching {pattern!r}")


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def sample(procs: dict[str, psutil.Process], seconds: float, warmup: float) -> dict:
    time.sleep(warmup)
    start = {k: cpu_s(p) for k, p in procs.items()}
    rss: dict[str, list[float]] = {k: [] for k in procs}
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for k, p in procs.items():
            rss[k].append(p.memory_info().rss / 2**20)
        time.sleep(10)
    elapsed = time.monotonic() - t0
    return {
        k: {
            "rss_median_mib": round(statistics.median(rss[k]), 1),
            "rss_max_mib": round(max(rss[k]), 1),
            "cpu_s_per_hour": round((cpu_s(p) - start[k]) / elapsed * 3600, 2),
        }
        for k, p in procs.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds ignored at start")
    ap.add_argument("--out", default=str(ROOT / "bench/results/windows_footprint.json"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="winbench-"))
    certs = make_tls(tmp / "tls")
    tls_port = free_port()
    broker = Mosquitto(tmp / "broker", extra_conf=mosquitto_tls_conf(tls_port, certs)).start()
    wait_port(tls_port)
    msi_dir = tmp / "msi"
    subprocess.run(
        ["bash", str(ROOT / "scripts/build-msi.sh")],
        check=True,
        env={**os.environ, "OUT_DIR": str(msi_dir)},
        capture_output=True,
    )
    (msi,) = msi_dir.glob("*.msi")
    prefix = WinePrefix(tmp / "prefix").start()
    linux = None
    idle = None
    try:
        # Wine's own cost: a bare interpreter started and left idle, and `-c pass` timings
        installed = prefix.drive_c() / "Program Files" / "EnergyAgent" / "python"
        done = prefix.run(
            [
                "msiexec",
                "/i",
                winpath(msi),
                "/qn",
                "TRANSPORT=mqtt",
                "MQTT_HOST=localhost",
                f"MQTT_PORT={tls_port}",
                "MQTT_TLS=1",
                f"CA_FILE={winpath(certs['ca'])}",
                "SITE=bench",
            ],
            timeout=300,
        )
        assert done.returncode == 0, done.stdout
        service = find("agent service")
        starts = []
        for _ in range(5):
            t = time.perf_counter()
            prefix.run([str(installed / "python.exe"), "-c", "pass"])
            starts.append(time.perf_counter() - t)
        linux_starts = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)
            linux_starts.append(time.perf_counter() - t)
        idle = prefix.popen([str(installed / "python.exe"), "-c", "import time; time.sleep(86400)"])
        idle_proc = find("time.sleep(86400)")
        cfg = tmp / "linux-agent.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "state_dir": str(tmp / "linux-state"),
                    "transport": "mqtt",
                    "site": "bench",
                    "mqtt": {
                        "host": "localhost",
                        "port": tls_port,
                        "tls": {"enabled": True, "ca_file": str(certs["ca"])},
                    },
                }
            )
        )
        linux = subprocess.Popen(
            [str(ROOT / ".venv/bin/energy-agent"), "run", "-c", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        figures = sample(
            {
                "windows_service": service,
                "linux_agent": psutil.Process(linux.pid),
                "bare_python_under_wine": idle_proc,
            },
            args.minutes * 60,
            args.warmup,
        )
        result = {
            "minutes": args.minutes,
            "msi_kib": msi.stat().st_size // 1024,
            "installed_mib": round(du(installed.parent) / 2**20, 1),
            "python_c_pass_s": {
                "wine_median": round(statistics.median(starts), 3),
                "linux_median": round(statistics.median(linux_starts), 3),
            },
            **figures,
        }
    finally:
        if linux is not None:
            linux.terminate()
            linux.wait(20)
        if idle is not None:
            idle.kill()
            idle.wait()
        prefix.stop()
        broker.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    w, lx, bare = result["windows_service"], result["linux_agent"], result["bare_python_under_wine"]
    print("| measure | Windows service (under Wine) | Linux agent | bare python.exe under Wine |")
    print("|---|---|---|---|")
    print(
        f"| steady RSS, median | **{w['rss_median_mib']} MiB** | {lx['rss_median_mib']} MiB "
        f"| {bare['rss_median_mib']} MiB |"
    )
    maxes = (w["rss_max_mib"], lx["rss_max_mib"], bare["rss_max_mib"])
    print("| RSS max | {} MiB | {} MiB | {} MiB |".format(*maxes))
    print(
        f"| CPU s per hour | **{w['cpu_s_per_hour']}** | {lx['cpu_s_per_hour']} "
        f"| {bare['cpu_s_per_hour']} |"
    )
    ps = result["python_c_pass_s"]
    print(f"| `python -c pass`, median of 5 | {ps['wine_median']} s | {ps['linux_median']} s | |")
    print(f"| MSI | {result['msi_kib']} KiB | | |")
    print(f"| installed (Program Files) | {result['installed_mib']} MiB | | |")


if __name__ == "__main__":
    main()
