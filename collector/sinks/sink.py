"""What a sink is: it receives the figures of accepted batches after the ledger's commit and
makes them durable before anything is acknowledged (time-series writers implement it)."""

from __future__ import annotations

from collector.accounting import Figure
from collector.records import RecordBatch


class Sink:
    """Receives the figures of accepted batches (time-series writers implement this)."""

    def write(self, batch: RecordBatch, figures: list[Figure]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        """Make what `write` received durable: called once per ingest batch, after the ledger
        commit and before any acknowledgement."""
