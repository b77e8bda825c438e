"""The timeline: suspend measured exactly, active/idle from input, contiguity, energy split."""

from __future__ import annotations

import itertools

import pytest

from agent.platform import Clocks, CpuTimes
from agent.timeline import Sample, Timeline, activity

T0 = 1_790_000_000.0


def sample(
    wall: float,
    running: float,
    since_boot: float,
    busy: float = 0.0,
    total: float = 0.0,
    last_input: float | None = None,
) -> Sample:
    return Sample(Clocks(wall, running, since_boot), CpuTimes(busy, total), last_input)


def assert_contiguous(segs):
    for a, b in itertools.pairwise(segs):
        assert a.end == pytest.approx(b.start, abs=1e-9)


def test_suspend_between_samples_has_exactly_the_injected_length():
    tl = Timeline(T0)
    a = sample(T0, 100.0, 100.0, 0, 0)
    # 15 s of running time and 3,723.5 s asleep between the two samples
    b = sample(T0 + 15 + 3723.5, 115.0, 115.0 + 3723.5, 1.5, 60)
    adv = tl.advance(a, b)
    segs = tl.take()
    assert adv.woke
    assert [s.state for s in segs] == ["idle", "suspended", "idle"]
    sus = segs[1]
    assert sus.duration == pytest.approx(3723.5, abs=1e-6)
    # placed within the running time, ends inside the interval
    assert T0 <= sus.start <= T0 + 15
    assert segs[0].start == T0 and segs[-1].end == T0 + 15 + 3723.5
    assert_contiguous(segs)


def test_clock_noise_below_threshold_is_not_a_suspend():
    tl = Timeline(T0, suspend_threshold_s=2.0)
    adv = tl.advance(sample(T0, 0, 0), sample(T0 + 15.5, 15, 15.5))
    assert not adv.woke
    assert [s.state for s in tl.take()] == ["idle"]


def test_os_recorded_sleep_times_are_used_when_they_agree():
    tl = Timeline(T0)
    exact = (T0 + 3.25, T0 + 3.25 + 600)
    tl.advance(sample(T0, 0, 0), sample(T0 + 615, 15, 615), known_sleeps=[exact])
    segs = tl.take()
    assert (segs[1].start, segs[1].end) == exact


def test_input_makes_active_until_threshold_then_idle():
    tl = Timeline(T0, idle_threshold_s=300)
    # last input 100 s after T0, seen at the sample 600 s later
    tl.advance(
        sample(T0, 0, 0, last_input=T0 - 50), sample(T0 + 600, 600, 600, last_input=T0 + 100)
    )
    segs = tl.take()
    # input 50 s before T0 keeps it active; the input at +100 keeps it active until +400
    assert [(s.state, s.start - T0, s.end - T0) for s in segs] == [
        ("active", 0, 400),
        ("idle", 400, 600),
    ]


def test_activity_splits_at_new_input_after_idle():
    pieces = activity(0, 100, last_prev=-1000, last_cur=60, threshold=30)
    assert pieces == [(0, 60, "idle"), (60, 90, "active"), (90, 100, "idle")]


def test_without_session_cpu_decides():
    tl = Timeline(T0, busy_cpu_threshold=0.25)
    tl.advance(sample(T0, 0, 0, 0, 0), sample(T0 + 60, 60, 60, busy=30, total=60))
    tl.advance(sample(T0 + 60, 60, 60, 30, 60), sample(T0 + 120, 120, 120, busy=31, total=120))
    segs = tl.take()
    assert [(s.state, round(s.cpu_util, 3)) for s in segs] == [("active", 0.5), ("idle", 0.017)]


def test_same_state_segments_merge_with_weighted_cpu_mean():
    tl = Timeline(T0)
    tl.advance(sample(T0, 0, 0, 0, 0), sample(T0 + 10, 10, 10, 1, 10))  # util 0.1
    tl.advance(sample(T0 + 10, 10, 10, 1, 10), sample(T0 + 40, 40, 40, 1.6, 40))  # util 0.02
    (seg,) = tl.take()
    assert seg.duration == 40
    assert seg.cpu_util == pytest.approx((0.1 * 10 + 0.02 * 30) / 40)


def test_measured_energy_spread_over_running_time_only():
    tl = Timeline(T0)
    tl.advance(sample(T0, 0, 0), sample(T0 + 20 + 100, 20, 120), energy=(200.0, "rapl"))
    segs = tl.take()
    assert segs[1].state == "suspended" and segs[1].energy_j is None
    assert sum(s.energy_j or 0 for s in segs) == pytest.approx(200.0)
    assert {s.energy_source for s in segs if s.state != "suspended"} == {"rapl"}


def test_wall_clock_stepping_back_keeps_timeline_contiguous():
    tl = Timeline(T0)
    tl.advance(sample(T0, 0, 0), sample(T0 + 30, 30, 30))
    tl.advance(sample(T0 + 30, 30, 30), sample(T0 + 20, 45, 45))  # NTP stepped back 25 s
    tl.advance(sample(T0 + 20, 45, 45), sample(T0 + 50, 75, 75))
    segs = tl.take()
    assert_contiguous(segs)
    assert segs[0].start == T0 and segs[-1].end == T0 + 50
