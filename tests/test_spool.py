"""The spool: durable, ordered, bounded, and loud when it drops."""

from __future__ import annotations

import os
import time

from agent.spool import Spool


def test_order_and_survival_across_reopen(tmp_path):
    s = Spool(tmp_path, 1 << 20, 86400)
    for seq in (3, 1, 2):
        s.put(seq, f'{{"seq":{seq}}}'.encode())
    s2 = Spool(tmp_path, 1 << 20, 86400)
    assert s2.seqs() == [1, 2, 3]
    assert s2.read(2) == b'{"seq":2}'
    s2.remove(1)
    assert Spool(tmp_path, 1 << 20, 86400).seqs() == [2, 3]


def test_interrupted_write_leaves_no_half_report(tmp_path):
    (tmp_path / "000000000007.tmp").write_bytes(b'{"seq": 7, "trunc')
    s = Spool(tmp_path, 1 << 20, 86400)
    assert s.seqs() == []
    assert not list(tmp_path.glob("*.tmp"))


def test_size_bound_drops_oldest_and_counts(tmp_path, caplog):
    s = Spool(tmp_path, 64 * 1024, 86400)
    blob = b"x" * 10_000
    for seq in range(10):
        s.put(seq, blob)
    assert s.size_bytes <= 64 * 1024
    assert s.seqs() == list(range(4, 10))
    assert s.dropped == 4
    assert sum("dropped report" in r.message for r in caplog.records) == 4


def test_age_bound(tmp_path):
    s = Spool(tmp_path, 1 << 20, 3600)
    s.put(1, b"{}")
    old = time.time() - 7200
    os.utime(tmp_path / "000000000001.json", (old, old))
    s = Spool(tmp_path, 1 << 20, 3600)
    s.put(2, b"{}")
    assert s.seqs() == [2] and s.dropped == 1
