"""The ingest pipeline: validate → normalise → account → ledger (one transaction per batch)
→ sinks and /metrics → acknowledge.

Transports (MQTT, HTTP) hand raw payloads to `Pipeline.submit` with a callback; one worker
thread batches them. A message is acknowledged (MQTT PUBACK, HTTP answer) only after the
batch holding it is committed, so a crash at any point loses nothing: the broker or the agent
sends it again, and the ledger's keys make the repeat harmless. When the ledger is down the
batch is retried with backoff until it commits; nothing is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.schema import Limits, ReportError, parse_report
from collector.accounting import Accountant, Figure
from collector.ledger import Accounted, Ledger
from collector.metrics import Fleet, HostView, Metrics
from collector.records import RecordBatch
from collector.sources.agents.normalise import to_batch

log = logging.getLogger("energy_collector.ingest")


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # accepted | duplicate | rejected
    reason: str | None = None
    detail: str | None = None


Done = Callable[[Outcome], None]


class RateLimitedLog:
    """At most one line per reason per `every_s`, with the count of what was suppressed."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, reason: str, msg: str) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -1e9) >= self.every_s:
            n = self._suppressed.pop(reason, 0)
            extra = f" ({n} more since last message)" if n else ""
            log.warning("rejected report (%s): %s%s", reason, msg, extra)
            self._last[reason] = now
        else:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1


class Sink:
    """Receives the figures of accepted batches (time-series writers implement this)."""

    def write(self, batch: RecordBatch, figures: list[Figure]) -> None:
        raise NotImplementedError


class Pipeline:
    def __init__(
        self,
        ledger: Ledger,
        accountant: Accountant,
        metrics: Metrics,
        fleet: Fleet,
        limits: Limits,
        sinks: list[Sink] | None = None,
        batch_max: int = 2000,
        batch_wait_s: float = 0.05,
    ) -> None:
        self.ledger = ledger
        self.accountant = accountant
        self.metrics = metrics
        self.fleet = fleet
        self.limits = limits
        self.sinks = sinks or []
        self.batch_max = batch_max
        self.batch_wait_s = batch_wait_s
        self.q: queue.Queue[tuple[bytes, Done | None] | None] = queue.Queue()
        self.rejected_log = RateLimitedLog()
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._stopping = threading.Event()
        self.committed_batches = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, payload: bytes, done: Done | None = None) -> None:
        self.q.put((payload, done))

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop."""
        self._stopping.set()
        self.q.put(None)
        self._thread.join(timeout)

    # -- worker ------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self.q.get()
            if first is None:
                return
            items = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(items) < self.batch_max:
                try:
                    nxt = self.q.get(timeout=max(deadline - time.monotonic(), 0))
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)  # stop after this batch
                    break
                items.append(nxt)
            self.metrics.queue.set(self.q.qsize())
            try:
                self.process(items)
            except Exception:  # never let one batch kill ingestion
                log.exception("ingest: unexpected error; batch dropped without ack")

    def process(self, items: list[tuple[bytes, Done | None]]) -> list[Outcome]:
        now = time.time()
        outcomes: list[Outcome | None] = [None] * len(items)
        accounted: list[tuple[int, RecordBatch, Accounted, list[Figure]]] = []
        for i, (payload, _) in enumerate(items):
            try:
                report = parse_report(payload, now=now, limits=self.limits)
            except ReportError as exc:
                outcomes[i] = Outcome("rejected", exc.reason, exc.detail)
                self.metrics.rejections.labels(exc.reason).inc()
                self.metrics.reports.labels("rejected").inc()
                self.rejected_log.warn(exc.reason, exc.detail)
                continue
            batch = to_batch(report)
            if not batch.intervals:
                outcomes[i] = Outcome("rejected", "timeline", "no segment with a duration")
                self.metrics.rejections.labels("timeline").inc()
                self.metrics.reports.labels("rejected").inc()
                continue
            acc, figures = self.accountant.account(batch, now)
            accounted.append((i, batch, acc, figures))
        fresh = self._commit([a for _, _, a, _ in accounted], now)
        seen: set[tuple[str, str, int]] = set()
        for i, batch, acc, figures in accounted:
            key = (acc.source, acc.entity, acc.seq)
            if key in fresh and key not in seen:
                seen.add(key)
                outcomes[i] = Outcome("accepted")
                self.metrics.reports.labels("accepted").inc()
                self._observe(batch, acc, figures, now)
                for sink in self.sinks:
                    try:
                        sink.write(batch, figures)
                    except Exception:
                        log.exception("sink %s failed", type(sink).__name__)
                        self.metrics.sink_errors.labels(type(sink).__name__).inc()
            else:
                outcomes[i] = Outcome("duplicate")
                self.metrics.reports.labels("duplicate").inc()
        final = [o or Outcome("rejected", "internal") for o in outcomes]
        for (_, done), outcome in zip(items, final, strict=True):
            if done is not None:
                try:
                    done(outcome)
                except Exception:
                    log.exception("ingest: acknowledgement failed")
        return final

    def _commit(self, items: list[Accounted], now: float) -> set[tuple[str, str, int]]:
        delay = 0.5
        while True:
            t0 = time.perf_counter()
            try:
                fresh = self.ledger.commit(items, now)
            except Exception as exc:
                self.metrics.ledger_errors.inc()
                log.error("ledger: commit failed (%s); retrying in %.1f s", exc, delay)
                if self._stopping.is_set() and delay > 4:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                with contextlib.suppress(Exception):
                    self.ledger.conn.close()
                try:
                    self.ledger.conn = self.ledger._connect()
                except Exception as exc2:
                    log.error("ledger: reconnect failed: %s", exc2)
                continue
            self.metrics.batch.observe(time.perf_counter() - t0)
            self.metrics.last_commit.set(time.time())
            self.committed_batches += 1
            return fresh

    def _observe(
        self, batch: RecordBatch, acc: Accounted, figures: list[Figure], now: float
    ) -> None:
        e = batch.entity
        site, dept = e.site or "", e.department or ""
        for f in figures:
            labels = (site, dept, e.kind, f.provenance)
            self.metrics.energy.labels(*labels).inc(f.energy.wh)
            self.metrics.co2e.labels(*labels).inc(f.kgco2e)
        self.metrics.lag.observe(max(now - batch.sent_at, 0.0))
        for p in acc.periods:
            if p.wasted_wh:
                self.metrics.wasted_wh.labels(site, dept).inc(p.wasted_wh)
                self.metrics.wasted_eur.labels(site, dept).inc(p.eur)
                self.metrics.wasted_co2e.labels(site, dept).inc(p.kgco2e)
        for b in acc.blockers:
            self.metrics.blockers.labels(b.app, b.what).inc()
        last = figures[-1]
        secs = last.interval.seconds
        power = last.energy.wh * 3600.0 / secs if secs > 0 else 0.0
        comp = self.accountant.compliance
        self.fleet.update(
            e.id,
            HostView(
                site,
                dept,
                e.kind,
                last.interval.state,
                power,
                last.interval.end,
                year=(e.manufactured or "")[:4],
                exempt=comp is not None and comp.exempt(e),
            ),
        )
