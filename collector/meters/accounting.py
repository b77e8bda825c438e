"""One transaction's meter readings, for every meter source alike: registers stepped from the
ledger's committed state, energy spread over clock hours, facts and server power saved at the
end, and the effects outside the ledger (metrics, in-memory state, time-series lines) kept
aside and applied only once the transaction has committed, so a retried batch never counts
twice and never loses an interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from collector.ledger import Ledger, Transaction
from collector.meters import store
from collector.meters.registers import FieldSpec, RegisterState, Step, step
from collector.meters.store import MeterFacts
from collector.metrics import Increments

Effect = Callable[[], None]
T = TypeVar("T")


class MeterBatch:
    def __init__(self, tx: Transaction) -> None:
        self.tx = tx
        self.states: dict[str, RegisterState] = {}
        self.hours: store.Hours = {}
        self.server_hours: store.ServerHours = {}
        self.facts: dict[str, MeterFacts] = {}
        self.effects: list[Effect] = []
        self.lines: list[str] = []  # time-series lines, handed on after the commit
        # metric samples to apply after the commit, summed (counters) or last (gauges) per
        # metric and label values: one labels() lookup per series and batch, not per reading
        self.counts = Increments()
        self.gauges: dict[tuple[Any, tuple[str, ...]], float] = {}

    def step(
        self,
        spec: FieldSpec,
        name: str,
        t: float,
        value: float,
        max_power_w: float,
        max_gap_s: float,
        restarted: bool = False,
    ) -> Step:
        """Advance the meter's register (read from the ledger once per batch)."""
        st = self.states.get(name)
        if st is None:
            st = self.states[name] = store.load_state(self.tx, name)
        return step(spec, st, t, value, max_power_w, max_gap_s, restarted)

    def spread(self, name: str, res: Step) -> None:
        store.spread(self.hours, name, res)

    def integrate(
        self, server: str, outlet: str, t0: float, w0: float, t1: float, w1: float
    ) -> None:
        store.integrate(self.server_hours, server, outlet, t0, w0, t1, w1)

    def fact(self, f: MeterFacts) -> None:
        self.facts[f.name] = f

    def count(self, metric: Any, labels: tuple[str, ...], amount: float = 1.0) -> None:
        """Add to a counter once committed."""
        self.counts.add(metric, labels, amount)

    def gauge(self, metric: Any, labels: tuple[str, ...], value: float) -> None:
        """Set a gauge once committed (the batch's last value for these labels)."""
        self.gauges[(metric, labels)] = value

    def apply(self) -> None:
        """The effects outside the ledger, once the transaction has committed."""
        self.counts.apply()
        for (metric, labels), value in self.gauges.items():
            (metric.labels(*labels) if labels else metric).set(value)
        for effect in self.effects:
            effect()

    def after(self, effect: Effect) -> None:
        """Something outside the ledger to do once this batch is committed."""
        self.effects.append(effect)

    def save(self) -> None:
        store.save(self.tx, self.facts.values(), self.states, self.hours, self.server_hours)


def account(ledger: Ledger, fill: Callable[[MeterBatch], T]) -> tuple[T, MeterBatch]:
    """Run `fill` in one ledger transaction and save what it read; then, committed, apply its
    effects. A failure rolls everything back and applies nothing: the caller may retry."""
    with ledger.transaction() as tx:
        batch = MeterBatch(tx)
        result = fill(batch)
        batch.save()
    batch.apply()
    return result, batch
