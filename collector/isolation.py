"""Commit a batch so that no single item can stall or drop the others.

A batch is committed in one transaction (fast on clean traffic). When that fails, the ledger
is asked whether it is healthy (it commits a one-row probe write). If not, the batch waits
and is retried whole: the ledger is down, nothing is lost, nothing is acknowledged. If it is,
the failure belongs to the batch's contents, which is split in halves until the item that
fails on its own is found. That item is tried once more (a lock that just passed is not its
fault), then handed to `poison` (rejected with a reason, acknowledged, counted, logged);
every other item commits. Halves already committed are never retried: their results stay.

`run` waits while the ledger is down (messages stay unacknowledged meanwhile); `attempt` does
not wait: it hands back what it could not commit, for a scheduled source (SNMP) that must keep
its polling schedule and commit those items with its next cycle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("energy_collector.isolation")


class LedgerUnavailable(RuntimeError):
    """The ledger stayed down while the collector was stopping: the batch is left unacked."""


class IsolatingCommitter:
    def __init__(
        self,
        healthy: Callable[[], bool],
        on_down: Callable[[Exception, float], None],
        stopping: threading.Event | None = None,
        max_delay_s: float = 30.0,
    ) -> None:
        self.healthy = healthy
        self.on_down = on_down
        self.stopping = stopping or threading.Event()
        self.max_delay_s = max_delay_s
        self.down = False  # the ledger is known to be unavailable right now

    def run(
        self,
        items: Sequence[T],
        commit: Callable[[Sequence[T]], R],
        poison: Callable[[T, Exception], None],
    ) -> list[tuple[Sequence[T], R]]:
        """Commit `items` through `commit` (one transaction per call); return each committed
        chunk with its result, in order. Raises LedgerUnavailable only when stopping."""
        done, _ = self._run(items, commit, poison, wait=True)
        return done

    def attempt(
        self,
        items: Sequence[T],
        commit: Callable[[Sequence[T]], R],
        poison: Callable[[T, Exception], None],
    ) -> tuple[list[tuple[Sequence[T], R]], list[T]]:
        """As `run`, but without waiting for a ledger that is down: returns the committed
        chunks and the items left to commit later, in their order."""
        return self._run(items, commit, poison, wait=False)

    def _run(
        self,
        items: Sequence[T],
        commit: Callable[[Sequence[T]], R],
        poison: Callable[[T, Exception], None],
        wait: bool,
    ) -> tuple[list[tuple[Sequence[T], R]], list[T]]:
        done: list[tuple[Sequence[T], R]] = []
        todo: deque[Sequence[T]] = deque([items] if items else [])
        retried: set[int] = set()  # single items given a second chance (a passing lock)
        delay = 0.5
        while todo:
            chunk = todo[0]
            try:
                result = commit(chunk)
            except Exception as exc:
                if not self.healthy():
                    self.down = True
                    if not wait:
                        self.on_down(exc, 0.0)
                        return done, [item for chunk in todo for item in chunk]
                    self.on_down(exc, delay)
                    if self.stopping.is_set() and delay > 4:
                        raise LedgerUnavailable(str(exc)) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, self.max_delay_s)
                    continue
                self.down = False
                if len(chunk) == 1 and id(chunk) not in retried:
                    retried.add(id(chunk))
                    continue
                todo.popleft()
                if len(chunk) == 1:
                    poison(chunk[0], exc)
                else:
                    mid = len(chunk) // 2
                    todo.appendleft(chunk[mid:])
                    todo.appendleft(chunk[:mid])
                continue
            self.down = False
            delay = 0.5
            todo.popleft()
            done.append((chunk, result))
        return done, []
