"""The one normalised record type every source yields; nothing downstream knows its origin.

A `RecordBatch` is what one source message becomes: an entity (a host, later a device or a
meter), the intervals it accounts for, and an idempotency key so that at-least-once delivery
counts exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.quickinit import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    kind: str
    model: str | None = None
    os: str | None = None
    site: str | None = None
    department: str | None = None
    manufactured: str | None = None
    cpus: int | None = None
    memory_bytes: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float
    state: str
    cpu_util: float | None = None
    measured_j: float | None = None
    measured_source: str | None = None
    clean: bool | None = None

    @property
    def seconds(self) -> float:
        return self.end - self.start


@quick_init
@dataclass(frozen=True, slots=True)
class RecordBatch:
    source: str  # namespace of the idempotency key ("agent", "snmp", "lorawan"…)
    key: int  # strictly increasing per (source, entity): the report's seq
    entity: Entity
    intervals: tuple[Interval, ...]
    sent_at: float
    sleep_blockers: tuple[dict[str, str], ...] = ()
    # the key space of `key` within the entity: an agent's incarnation (its seq restarts when
    # its state is lost, so the same seq in two incarnations is two reports)
    stream: str = ""
    spool_dropped: int = 0  # reports the sender dropped before sending (its running total)
    unreadable: tuple[str, ...] = ()  # probes the sender could not read for this report
    policy: dict[str, Any] | None = None  # an agent's sleep-policy counts (collector/policy/)
    wake: dict[str, Any] | None = None  # whether and how an agent's machine can be woken
    # what matches an agent's machine to the asset register (serial, uuid, macs)
    hardware: dict[str, Any] | None = None

    @property
    def dedup_entity(self) -> str:
        return f"{self.entity.id}/{self.stream}" if self.stream else self.entity.id
