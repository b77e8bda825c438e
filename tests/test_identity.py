"""One agent id, two timelines (a cloned VM template, a restored image): each second counted
once, the host flagged as a duplicated identity."""

from __future__ import annotations

import json

import pytest
from collector_helpers import make_config, metric, post, running, scrape, url

from collector.identity import subtract
from collector.records import Interval
from collector.simulate import SimConfig, Simulation
from energy_common.schema import parse_time


def test_subtract_cuts_intervals_and_shares_measured_energy():
    ivs = [Interval(0, 100, "active", 0.5, measured_j=1000.0), Interval(100, 200, "idle")]
    kept, removed = subtract(ivs, [(50, 120), (150, 160)])
    assert removed == 80
    assert [(i.start, i.end, i.state) for i in kept] == [
        (0, 50, "active"),
        (120, 150, "idle"),
        (160, 200, "idle"),
    ]
    assert kept[0].measured_j == pytest.approx(500.0)
    assert subtract(ivs, []) == (ivs, 0.0)
    assert subtract(ivs, [(0, 300)]) == ([], 200.0)


def covered(reports: list[dict]) -> list[tuple[float, float]]:
    spans = sorted(
        (parse_time(s["start"]), parse_time(s["end"])) for r in reports for s in r["segments"]
    )
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


@pytest.mark.parametrize("ledger", ["sqlite", "postgres"])
def test_a_cloned_agent_is_counted_once_and_flagged(tmp_path, ledger, request):
    sim = Simulation(SimConfig(agents=1, days=1, seed=5))
    reports = [json.loads(body) for _, _, _, body in sim.reports()]
    t0 = parse_time(reports[0]["segments"][0]["start"])
    # the original until noon; a clone of its image from 6:00 on, with its own incarnation
    original = [r for r in reports if parse_time(r["sent_at"]) <= t0 + 12 * 3600]
    clone = []
    for i, r in enumerate(
        r for r in reports if parse_time(r["segments"][0]["start"]) >= t0 + 6 * 3600
    ):
        c = json.loads(json.dumps(r))
        c["incarnation"] = "c1c1c1c1c1c1c1c1"
        c["seq"] = i
        clone.append(c)
    union = covered(original + clone)
    overlap = (
        sum(b - a for a, b in covered(original))
        + sum(b - a for a, b in covered(clone))
        - sum(b - a for a, b in union)
    )
    assert overlap > 5 * 3600  # the test means something: six hours were reported twice
    url_ = request.getfixturevalue("postgres_url") if ledger == "postgres" else None
    with running(make_config(tmp_path, ledger_url=url_)) as c:
        # interleaved, as two live machines would send them
        for r in sorted(original + clone, key=lambda r: r["sent_at"]):
            assert post(url(c), json.dumps(r).encode())[1]["result"] == "accepted"
        (secs,) = c.ledger.execute("SELECT SUM(seconds) FROM host_days")[0]
        assert secs == pytest.approx(sum(b - a for a, b in union), abs=1.0)
        (dup,) = c.ledger.execute("SELECT duplicate_s FROM hosts")[0]
        assert dup == pytest.approx(overlap, abs=1.0)
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_agent_duplicate_identity_seconds_total") == pytest.approx(
            overlap, abs=1.0
        )
        assert metric(text, "energy_agents_duplicate_identity") == 1
        assert c.status()["duplicate_identities"] == 1


def test_a_reinstall_that_backfills_once_is_not_flagged(tmp_path):
    sim = Simulation(SimConfig(agents=1, days=1, seed=6))
    reports = [json.loads(body) for _, _, _, body in sim.reports()]
    half = len(reports) // 2
    first = reports[:half]
    # state lost mid-day: a new incarnation re-reports the last two reports' time, goes on
    second = []
    for i, r in enumerate(reports[half - 2 :]):
        c = json.loads(json.dumps(r))
        c["incarnation"] = "d2d2d2d2d2d2d2d2"
        c["seq"] = i
        second.append(c)
    with running(make_config(tmp_path)) as c:
        for r in first + second:
            assert post(url(c), json.dumps(r).encode())[1]["result"] == "accepted"
        (secs,) = c.ledger.execute("SELECT SUM(seconds) FROM host_days")[0]
        assert secs == pytest.approx(sum(b - a for a, b in covered(first + second)), abs=1.0)
        (dup,) = c.ledger.execute("SELECT duplicate_s FROM hosts")[0]
        assert 0 < dup < 3600
        assert metric(scrape(url(c, "/metrics")), "energy_agents_duplicate_identity") == 0
        assert c.status()["duplicate_identities"] == 0


def test_spans_written_per_batch_as_one_update_per_report_would():
    """The ledger works out a batch's host spans at once: the rows must be those of one UPDATE
    per report (grow every row the report touches within SPAN_JOIN_S, else insert one)."""
    import random
    import sqlite3

    from collector.ledger import SPAN_JOIN_S, Accounted, HostRow, Ledger

    rnd = random.Random(11)
    for _ in range(150):
        ledger = Ledger("sqlite::memory:")
        ref = sqlite3.connect(":memory:")
        ref.execute('CREATE TABLE s (host_id TEXT, stream TEXT, start REAL, "end" REAL)')
        seq = 0
        for _ in range(rnd.randint(1, 4)):
            items = []
            for _ in range(rnd.randint(1, 12)):
                host, stream = rnd.choice("ab"), rnd.choice(["", "x", "y"])
                start = float(
                    rnd.choice([0, 100, 150, 260, 300, 500, 1000]) + rnd.choice([0, 119, 121])
                )
                end = start + rnd.choice([0, 50, 300])
                seq += 1
                row = HostRow(
                    host,
                    "agent",
                    host,
                    "desktop",
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    {},
                    start,
                    end,
                    "idle",
                    0.0,
                )
                items.append(
                    Accounted("agent", f"{host}/{stream}", seq, row, (), span=(stream, start, end))
                )
                hit = ref.execute(
                    'UPDATE s SET start = min(start, ?), "end" = max("end", ?) '
                    'WHERE host_id = ? AND stream = ? AND start <= ? AND "end" >= ?',
                    (start, end, host, stream, end + SPAN_JOIN_S, start - SPAN_JOIN_S),
                ).rowcount
                if not hit:
                    ref.execute("INSERT INTO s VALUES (?,?,?,?)", (host, stream, start, end))
            ledger.commit(items, 0.0)
        got = sorted(ledger.execute('SELECT host_id, stream, start, "end" FROM host_spans'))
        assert got == sorted(ref.execute("SELECT * FROM s").fetchall())
