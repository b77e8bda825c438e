"""Time-series sink: InfluxDB v2 write API (influxdb-client), explicit timestamps.

Each accepted interval becomes one point at its *start* time, so a segment reported after a
wake lands where it happened. Points are batched in memory and written by one thread; a batch
the TSDB does not take goes to an on-disk buffer (`<state_dir>/tsdb-buffer/*.lp`), drained
oldest first, with backoff, once the TSDB answers again. The buffer is bounded; past the bound
the oldest files are dropped and counted (`energy_sink_dropped_points`).

Series (VictoriaMetrics names them `<measurement>_<field>`):
- `energy_host` fields `wh`, `seconds`, `watts`, `kgco2e`; tags `host`, `site`,
  `department`, `kind`, `state`, `provenance`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from collector.accounting import Figure
from collector.config import TsdbConfig
from collector.lineprotocol import tag as _tag
from collector.metrics import Metrics
from collector.pipeline import Sink
from collector.records import RecordBatch

log = logging.getLogger("energy_collector.tsdb")


def lines_for(batch: RecordBatch, figures: list[Figure]) -> list[str]:
    e = batch.entity
    base = (
        f"energy_host,host={_tag(e.name)},site={_tag(e.site or '')},"
        f"department={_tag(e.department or '')},kind={_tag(e.kind)}"
    )
    out = []
    for f in figures:
        iv = f.interval
        secs = iv.seconds
        watts = f.energy.wh * 3600.0 / secs if secs > 0 else 0.0
        out.append(
            f"{base},state={iv.state},provenance={f.provenance} "
            f"wh={f.energy.wh:.6g},seconds={secs:.3f},watts={watts:.6g},"
            f"kgco2e={f.kgco2e:.6g} {round(iv.start * 1000)}"
        )
    return out


class TsdbSink(Sink):
    def __init__(self, cfg: TsdbConfig, state_dir: Path, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.dir = state_dir / "tsdb-buffer"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pending: deque[str] = deque()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.written = 0
        self._backoff = 0.0
        self._retry_at = 0.0
        self._seq = 0
        token = cfg.token
        if cfg.token_file:
            token = Path(cfg.token_file).read_text().splitlines()[0].strip()
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.client = InfluxDBClient(
            url=cfg.url, token=token or "unused", org=cfg.org, timeout=int(cfg.timeout_s * 1000)
        )
        self.api = self.client.write_api(write_options=SYNCHRONOUS)
        self.thread = threading.Thread(target=self._run, name="tsdb", daemon=True)
        self._update_gauge()

    def start(self) -> None:
        self.thread.start()

    def write(self, batch: RecordBatch, figures: list[Figure]) -> None:
        lines = lines_for(batch, figures)
        with self.lock:
            self.pending.extend(lines)
            big = len(self.pending) >= self.cfg.batch_size
        if big:
            self.wake.set()

    def write_lines(self, lines: list[str]) -> None:
        """Points already in line protocol (other sources: LoRaWAN meters)."""
        with self.lock:
            self.pending.extend(lines)
            big = len(self.pending) >= self.cfg.batch_size
        if big:
            self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout)
        with self.lock:
            if self.pending:  # whatever could not be written goes to disk, never lost
                self._spill(list(self.pending))
                self.pending.clear()
        self.client.close()

    # -- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.cfg.flush_interval_s)
            self.wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        if time.monotonic() < self._retry_at and not self.stopping.is_set():
            with self.lock:
                if len(self.pending) > self.cfg.batch_size * 4:
                    self._spill(list(self.pending))
                    self.pending.clear()
            return
        for path in sorted(self.dir.glob("*.lp")):
            data = path.read_text()
            if not self._send(data.splitlines()):
                self._spill_pending()
                return
            path.unlink()
            self._update_gauge()
        while True:
            with self.lock:
                if not self.pending:
                    return
                n = min(len(self.pending), self.cfg.batch_size)
                batch = [self.pending.popleft() for _ in range(n)]
            if not self._send(batch):
                self._spill(batch)
                self._spill_pending()
                return

    def _send(self, lines: list[str]) -> bool:
        if not lines:
            return True
        from influxdb_client import WritePrecision

        try:
            self.api.write(
                bucket=self.cfg.bucket,
                org=self.cfg.org,
                record=lines,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except Exception as exc:
            self.metrics.sink_errors.labels("tsdb").inc()
            self._backoff = min(max(self._backoff * 2, 1.0), 60.0)
            self._retry_at = time.monotonic() + self._backoff
            log.warning(
                "tsdb: write of %d points failed (%s); buffered, retry in %.0f s",
                len(lines),
                str(exc).splitlines()[0][:200],
                self._backoff,
            )
            return False
        self._backoff = 0.0
        self.written += len(lines)
        return True

    def _spill_pending(self) -> None:
        with self.lock:
            if self.pending:
                self._spill(list(self.pending))
                self.pending.clear()

    def _spill(self, lines: list[str]) -> None:
        self._seq += 1
        path = self.dir / f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.lp"
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
        self._enforce_bound()
        self._update_gauge()

    def _enforce_bound(self) -> None:
        files = sorted(self.dir.glob("*.lp"))
        total = sum(p.stat().st_size for p in files)
        while files and total > self.cfg.buffer_max_bytes:
            victim = files.pop(0)
            size = victim.stat().st_size
            n = sum(1 for _ in victim.open())
            victim.unlink()
            total -= size
            self.metrics.sink_dropped.labels("tsdb").inc(n)
            log.error(
                "tsdb: buffer over %d bytes: dropped %d oldest points", self.cfg.buffer_max_bytes, n
            )

    def buffered_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("*.lp"))

    def _update_gauge(self) -> None:
        self.metrics.sink_buffer.labels("tsdb").set(self.buffered_bytes())
