"""Helpers for collector tests: configs in temp dirs, in-process and subprocess collectors."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from collector.app import Collector
from collector.config import CollectorConfig
from energy_common.configspec import load

ROOT = Path(__file__).resolve().parent.parent


def config_dict(tmp: Path, ledger_url: str | None = None, **sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "state_dir": str(tmp / "collector"),
        "ledger": {"url": ledger_url or f"sqlite:{tmp / 'ledger.db'}"},
        "http": {"port": 0},
    }
    for k, v in sections.items():
        if isinstance(v, dict):
            doc.setdefault(k, {}).update(v)
        else:
            doc[k] = v
    return doc


def make_config(tmp: Path, ledger_url: str | None = None, **sections: Any) -> CollectorConfig:
    return load(CollectorConfig, config_dict(tmp, ledger_url, **sections), "<test>")


@contextlib.contextmanager
def running(cfg: CollectorConfig) -> Iterator[Collector]:
    c = Collector(cfg)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def url(c: Collector, path: str = "/api/v1/reports") -> str:
    return f"http://127.0.0.1:{c.http.port}{path}"


def post(target: str, body: bytes, token: str | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        target, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def mutate(body: bytes | dict, **changes: Any) -> bytes:
    """A report with some fields replaced: `host__site="x"`, `segments__0__state="off"`."""
    d = json.loads(body) if isinstance(body, bytes) else json.loads(json.dumps(body))
    for path, value in changes.items():
        target = d
        keys = path.split("__")
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        target[keys[-1]] = value
    return json.dumps(d).encode()


def processed(ledger_url: str) -> int:
    """Reports the ledger has taken (one row per report key)."""
    from collector.ledger import Ledger

    led = Ledger(ledger_url)
    try:
        return int(led.execute("SELECT COUNT(*) FROM processed")[0][0])
    finally:
        led.close()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of a metric's samples in a Prometheus exposition whose labels match."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def scrape(target: str) -> str:
    with urllib.request.urlopen(target, timeout=10) as r:
        return str(r.read().decode())


def ledger_seconds(ledger: Any) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for hid, day, state, sec in ledger.execute(
        "SELECT host_id, day, state, seconds FROM host_days"
    ):
        out.setdefault(hid, {}).setdefault(day, {})[state] = sec
    return out


def assert_matches_truth(got: dict, truth: dict, tol: float = 0.01) -> None:
    problems = []
    for hid, days in truth.items():
        for day, states in days.items():
            for state, sec in states.items():
                g = got.get(hid, {}).get(day, {}).get(state, 0.0)
                if abs(g - sec) > tol:
                    problems.append((hid[:8], day, state, sec, g))
    extra = {(h, d, s) for h, ds in got.items() for d, ss in ds.items() for s in ss} - {
        (h, d, s) for h, ds in truth.items() for d, ss in ds.items() for s in ss
    }
    assert not problems and not extra, (
        f"{len(problems)} mismatches, e.g. {problems[:5]}; extra rows {list(extra)[:5]}"
    )


class CollectorProcess:
    """`energy-collector run` as a real process (for kill -9 tests)."""

    def __init__(self, tmp: Path, doc: dict[str, Any], name: str = "collector") -> None:
        self.path = tmp / f"{name}.yaml"
        self.path.write_text(yaml.safe_dump(doc))
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> CollectorProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "run", "-c", str(self.path)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),
            env=env,
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(pred: Any, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def check_panel(prom: Any, panel: Any) -> None:
    """Run a dashboard panel's queries (Grafana variables set to test values) against a real
    Prometheus: each returns series carrying the panel's labels, with real numbers (no NaN;
    negative only for signal units such as dBm)."""
    for expr in panel.exprs:
        q = expr.replace("$__range", "10m").replace("$__rate_interval", "1m")
        for var in ("$site", "$department", "$datacenter"):  # the variables at "All"
            q = q.replace(var, ".*")
        result = prom.query(q)
        assert result, f"{panel.en}: {q} returned nothing"
        for series in result:
            assert set(panel.labels) <= set(series["metric"]), (panel.en, series["metric"])
            value = float(series["value"][1])
            assert value == value, (panel.en, q, value)
            assert value >= 0 or panel.unit in ("dBm", "dB") or panel.signed, (panel.en, value)
