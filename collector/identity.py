"""One agent id, two timelines: a VM template cloned with its agent id, a restored disk image,
a reinstall that kept the id. Each copy has its own incarnation (its own `stream`), so their
reports are all new to the exactly-once keys, and their time ranges overlap.

Every second of a host is counted once: the ledger keeps, per host and stream, the spans its
committed reports covered (`host_spans`, merged as they grow), and a report's intervals are cut
where another stream of the same host already covered them; the first to arrive keeps them.
The seconds cut are added to the host's `duplicate_s`; past `duplicate_identity_min_s` (a
reinstall that backfilled from boot overlaps once, a clone keeps overlapping) the host is
flagged as a duplicated identity on /metrics, in the status and in the morning report, so that
ops can fix the image (give each copy its own id: delete `agent_id` and `state.json`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from collector.records import Interval, RecordBatch

if TYPE_CHECKING:
    from collector.ledger import Ledger

Span = tuple[float, float]


def subtract(
    intervals: Sequence[Interval], covered: Sequence[Span]
) -> tuple[list[Interval], float]:
    """The parts of `intervals` outside `covered`, and the seconds taken out. A cut interval
    keeps its state and CPU; its measured energy is shared in proportion to time."""
    spans = sorted((a, b) for a, b in covered if b > a)
    out: list[Interval] = []
    removed = 0.0
    for iv in intervals:
        pieces = [(iv.start, iv.end)]
        for a, b in spans:
            if b <= iv.start or a >= iv.end:
                continue
            nxt = []
            for s, e in pieces:
                if b <= s or a >= e:
                    nxt.append((s, e))
                    continue
                if s < a:
                    nxt.append((s, a))
                if b < e:
                    nxt.append((b, e))
            pieces = nxt
        kept = sum(e - s for s, e in pieces)
        removed += iv.seconds - kept
        if kept == iv.seconds:
            out.append(iv)
            continue
        for s, e in pieces:
            share = (e - s) / iv.seconds if iv.seconds > 0 else 0.0
            j = iv.measured_j * share if iv.measured_j is not None else None
            out.append(replace(iv, start=s, end=e, measured_j=j))
    return out, removed


def span_of(batch: RecordBatch) -> Span | None:
    if not batch.intervals:
        return None
    return batch.intervals[0].start, batch.intervals[-1].end


class Timelines:
    """Cuts each agent batch against what other streams of its host already covered: the
    committed spans (read from the ledger for the batch's hosts, one query) and the batches
    before it in the same commit."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def trim(self, batches: Sequence[RecordBatch]) -> list[tuple[RecordBatch, float]]:
        agents = [b for b in batches if b.source == "agent" and b.intervals]
        spans = self.ledger.spans_of({b.entity.id for b in agents}) if agents else {}
        out: list[tuple[RecordBatch, float]] = []
        for b in batches:
            own = span_of(b)
            if b.source != "agent" or own is None:
                out.append((b, 0.0))
                continue
            host = spans.setdefault(b.entity.id, [])
            others = [(s, e) for stream, s, e in host if stream != b.stream and e > own[0]]
            kept, removed = subtract(b.intervals, others) if others else (list(b.intervals), 0.0)
            host.append((b.stream, own[0], own[1]))
            out.append((replace(b, intervals=tuple(kept)) if removed else b, removed))
        return out
