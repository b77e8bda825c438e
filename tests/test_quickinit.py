"""Frozen records built through their slots (collector/quickinit.py) behave as dataclasses'."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from collector.ledger import HostRow
from collector.records import Entity, Interval, RecordBatch


def test_quick_init_keeps_defaults_factories_equality_and_frozenness():
    a, b = Entity("id", "pc", "desktop"), Entity("id", "pc", "desktop")
    assert a == b
    assert a.tags == {} and a.tags is not b.tags  # a fresh dict each, as default_factory
    assert Entity(id="id", name="pc", kind="vm", cpus=2).cpus == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Entity("id")  # type: ignore[call-arg]
    iv = Interval(0.0, 10.0, "idle")
    assert hash(iv) == hash(Interval(0.0, 10.0, "idle"))
    assert dataclasses.replace(iv, end=5.0) == Interval(0.0, 5.0, "idle")
    batch = RecordBatch("agent", 1, a, (iv,), 10.0)
    assert pickle.loads(pickle.dumps(batch)) == batch
    row = HostRow(
        "h",
        "agent",
        "pc",
        "desktop",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        {},
        0.0,
        1.0,
        "idle",
        1.0,
    )
    assert (row.spool_dropped, row.wake, row.hardware) == (0, None, None)
