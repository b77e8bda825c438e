"""Time-series sink: InfluxDB v2 write API (influxdb-client), explicit timestamps.

Each accepted interval becomes one point at its *start* time, so a segment reported after a
wake lands where it happened. Points go to an on-disk journal (`<state_dir>/tsdb-buffer/*.lp`)
before the reports they come from are acknowledged, and one thread writes them to the TSDB,
oldest first, with backoff while it does not answer. The journal is bounded; past the bound
the oldest files are dropped and counted (`energy_sink_dropped_points`).

Series (VictoriaMetrics names them `<measurement>_<field>`):
- `energy_host` fields `wh`, `seconds`, `watts`, `kgco2e`; tags `host`, `site`,
  `department`, `kind`, `state`, `provenance`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from collector.accounting import Figure
from collector.lineprotocol import tag as _tag
from collector.metrics import Metrics
from collector.records import RecordBatch
from collector.sinks.settings import TsdbConfig
from collector.sinks.sink import Sink

log = logging.getLogger("energy_collector.tsdb")


def lines_for(batch: RecordBatch, figures: list[Figure]) -> list[str]:
    e = batch.entity
    key = (e.name, e.site, e.department, e.kind)
    base = _bases.get(key)
    if base is None:  # a host's tags are the same report after report: escaped once
        if len(_bases) >= 100_000:
            _bases.clear()
        base = _bases[key] = (
            f"energy_host,host={_tag(e.name)},site={_tag(e.site or '')},"
            f"department={_tag(e.department or '')},kind={_tag(e.kind)}"
        )
    out = []
    for f in figures:
        iv = f.interval
        secs = iv.seconds
        wh = f.energy.wh
        watts = wh * 3600.0 / secs if secs > 0 else 0.0
        out.append(
            f"{base},state={iv.state},provenance={f.provenance} "
            f"wh={wh:.6g},seconds={secs:.3f},watts={watts:.6g},"
            f"kgco2e={f.kgco2e:.6g} {round(iv.start * 1000)}"
        )
    return out


_bases: dict[tuple[str, str | None, str | None, str], str] = {}


class TsdbSink(Sink):
    """Every point is on disk before anything it came from is acknowledged.

    `write` collects an ingest batch's lines; `commit` (called by the pipeline after the
    ledger commit, before the acks) writes them as one journal file in `tsdb-buffer/`;
    `write_lines` (SNMP, LoRaWAN) writes its own file at once. One thread sends the files,
    oldest first, several per request, and deletes each only once the TSDB took it. A
    collector killed at any point finds its points there at the next start (a process crash
    loses nothing; files are renamed into place whole, so a half-written one never counts).
    """

    def __init__(self, cfg: TsdbConfig, state_dir: Path, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.dir = state_dir / "tsdb-buffer"
        self.dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)  # interrupted before its rename: its batch was never acked
        self.lock = threading.Lock()
        self._batch: list[str] = []  # lines of the ingest batch being processed
        # journal files not yet written to the TSDB, oldest first: (path, lines, bytes)
        self.files: deque[tuple[Path, int, int]] = deque(
            (p, _count_lines(p), p.stat().st_size) for p in sorted(self.dir.glob("*.lp"))
        )
        self._bytes = sum(size for _, _, size in self.files)
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
        if self.files:
            log.info("tsdb: %d points from before the last stop to write", self.pending)
        self._update_gauge()

    @property
    def pending(self) -> int:
        """Points on disk not yet taken by the TSDB."""
        with self.lock:
            return sum(n for _, n, _ in self.files)

    def start(self) -> None:
        self.thread.start()

    def write(self, batch: RecordBatch, figures: list[Figure]) -> None:
        lines = lines_for(batch, figures)
        with self.lock:
            self._batch.extend(lines)

    def commit(self) -> None:
        with self.lock:
            lines, self._batch = self._batch, []
        self.write_lines(lines)

    def write_lines(self, lines: list[str]) -> None:
        """Journal points (already in line protocol) before their source acknowledges them."""
        if not lines:
            return
        self._journal(lines)
        if self.pending >= self.cfg.batch_size:
            self.wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout)
        self.client.close()

    # -- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.cfg.flush_interval_s)
            self.wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Send journal files, oldest first, up to `batch_size` points per request."""
        while True:
            if time.monotonic() < self._retry_at and not self.stopping.is_set():
                return
            with self.lock:
                take: list[tuple[Path, int, int]] = []
                n = 0
                for item in self.files:
                    if take and n + item[1] > self.cfg.batch_size:
                        break
                    take.append(item)
                    n += item[1]
            if not take:
                return
            lines: list[str] = []
            for path, _, _ in take:
                with contextlib.suppress(FileNotFoundError):  # dropped by the bound meanwhile
                    lines.extend(path.read_text(encoding="utf-8").splitlines())
            if not self._send(lines):
                return
            with self.lock:
                for item in take:
                    item[0].unlink(missing_ok=True)
                    with contextlib.suppress(ValueError):  # dropped by the bound meanwhile
                        self.files.remove(item)
                        self._bytes -= item[2]
            self._update_gauge()
            if self.stopping.is_set() and time.monotonic() < self._retry_at:
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
                "tsdb: write of %d points failed (%s); kept on disk, retry in %.0f s",
                len(lines),
                str(exc).splitlines()[0][:200],
                self._backoff,
            )
            return False
        self._backoff = 0.0
        self.written += len(lines)
        return True

    def _journal(self, lines: list[str]) -> None:
        with self.lock:
            self._seq += 1
            path = self.dir / f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.lp"
        tmp = path.with_suffix(".tmp")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        with self.lock:
            self.files.append((path, len(lines), len(data)))
            self._bytes += len(data)
        self._enforce_bound()
        self._update_gauge()

    def _enforce_bound(self) -> None:
        with self.lock:
            while len(self.files) > 1 and self._bytes > self.cfg.buffer_max_bytes:
                path, n, size = self.files.popleft()
                path.unlink(missing_ok=True)
                self._bytes -= size
                self.metrics.sink_dropped.labels("tsdb").inc(n)
                log.error(
                    "tsdb: buffer over %d bytes: dropped %d oldest points",
                    self.cfg.buffer_max_bytes,
                    n,
                )

    def buffered_bytes(self) -> int:
        with self.lock:
            return self._bytes

    def _update_gauge(self) -> None:
        self.metrics.sink_buffer.labels("tsdb").set(self.buffered_bytes())


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)
