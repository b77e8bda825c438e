"""The agent across suspend, reboot, crash and restart, on a fake machine (no MQTT here)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from fakes import FakePlatform

from agent.config import AgentConfig
from agent.service import Agent
from agent.transport import Transport
from energy_common.schema import parse_report


class Collecting(Transport):
    """Keeps what it is given, like a collector that always answers."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[dict] = []

    def pump(self, spool) -> bool:
        for seq in spool.seqs():
            data = spool.read(seq)
            self.reports.append(json.loads(data))
            parse_report(data)  # everything sent passes the collector's parser
            spool.remove(seq)
        return True


def make(tmp_path: Path, platform: FakePlatform, **overrides) -> tuple[Agent, Collecting]:
    cfg = AgentConfig(
        state_dir=str(tmp_path / "state"), sample_interval_s=15, report_interval_s=300, **overrides
    )
    t = Collecting()
    return Agent(cfg, platform=platform, transport=t), t


def segments(reports: list[dict]) -> list[dict]:
    return [s for r in reports for s in r["segments"]]


def test_report_after_wake_carries_the_suspended_segment_with_exact_length(tmp_path):
    p = FakePlatform()
    agent, t = make(tmp_path, p)
    agent.startup()
    agent.report()
    p.run(10)
    assert not agent.step()
    p.run(5)
    p.suspend(7261.25)  # laptop lid closed for 2 h 1 min 1.25 s
    p.run(0.5)
    assert agent.step(), "a report is due at once on wake"
    agent.report()
    agent.transport.pump(agent.spool)
    sus = [s for s in t.reports[-1]["segments"] if s["state"] == "suspended"]
    assert len(sus) == 1
    r = parse_report(json.dumps(t.reports[-1]))
    (seg,) = [s for s in r.segments if s.state == "suspended"]
    assert seg.duration == pytest.approx(7261.25, abs=0.002)
    assert p.wall - 0.5 - 7261.25 - 15 <= seg.start <= p.wall - 7261.25


def test_reports_are_contiguous_across_reports_and_seq_increases(tmp_path):
    p = FakePlatform()
    agent, t = make(tmp_path, p)
    agent.startup()
    agent.report()
    for _ in range(60):
        p.run(15)
        if agent.step():
            agent.report()
    agent.transport.pump(agent.spool)
    assert [r["seq"] for r in t.reports] == list(range(len(t.reports)))
    segs = segments(t.reports)
    for a, b in itertools.pairwise(segs):
        assert a["end"] == b["start"]
    assert len(t.reports) >= 3


@pytest.mark.parametrize("clean", [True, False])
def test_reboot_produces_off_segment_with_clean_flag(tmp_path, clean):
    p = FakePlatform()
    agent, _ = make(tmp_path, p)
    agent.startup()
    agent.report()
    p.run(120)
    agent.step()
    if clean:
        agent.shutdown()  # SIGTERM at system shutdown
        last_alive = p.wall
    else:
        agent.save()  # heartbeat, then power cut: no stop
        last_alive = p.wall
        p.run(20)  # ran a bit after the last heartbeat
    p.reboot(off_seconds=9 * 3600, up_seconds=40)
    agent2, t2 = make(tmp_path, p)
    agent2.startup()
    agent2.report()
    agent2.transport.pump(agent2.spool)
    # after a power cut the previous run's unsent report goes first: nothing is lost
    assert [r["seq"] for r in t2.reports] == ([2] if clean else [0, 1])
    first = t2.reports[-1]
    off = [s for s in first["segments"] if s["state"] == "off"]
    assert len(off) == 1
    assert off[0]["clean"] is clean
    r = parse_report(json.dumps(first))
    (seg,) = [s for s in r.segments if s.state == "off"]
    assert seg.start == pytest.approx(last_alive, abs=0.002)
    assert seg.end == pytest.approx(p.boot, abs=0.002)
    assert r.segments[-1].end == pytest.approx(p.wall, abs=0.002)


def test_os_event_log_overrides_agent_marker_for_clean_flag(tmp_path):
    p = FakePlatform()
    agent, _ = make(tmp_path, p)
    agent.startup()
    agent.report()
    p.run(30)
    agent.shutdown()  # the agent stopped cleanly…
    p.reboot(3600)
    p.clean_from_os = False  # …but Windows logged 6008 (unexpected shutdown)
    agent2, t2 = make(tmp_path, p)
    agent2.startup()
    agent2.report()
    agent2.transport.pump(agent2.spool)
    off = [s for s in segments(t2.reports) if s["state"] == "off"]
    assert off[0]["clean"] is False


def test_crash_without_reboot_keeps_pending_segments_and_reports_gap_unknown(tmp_path):
    p = FakePlatform()
    agent, t = make(tmp_path, p)
    agent.startup()
    agent.report()
    agent.transport.pump(agent.spool)
    p.run(60)
    agent.step()
    agent.save()  # heartbeat with 60 s pending
    p.run(600)
    p.suspend(1800)
    p.run(30)  # agent dead (kill -9) all that time
    agent2, t2 = make(tmp_path, p)
    agent2.startup()
    agent2.report()
    agent2.transport.pump(agent2.spool)
    segs = segments(t.reports) + segments(t2.reports)
    for a, b in itertools.pairwise(segs):
        assert a["end"] == b["start"], "no hole and no overlap across the crash"
    states = [s["state"] for s in segments(t2.reports)]
    assert states == ["idle", "unknown", "suspended", "unknown"]
    r = parse_report(json.dumps(t2.reports[0]))
    sus = next(s for s in r.segments if s.state == "suspended")
    assert sus.duration == pytest.approx(1800, abs=0.002)
    assert t2.reports[0]["seq"] == 1


def test_crash_between_spool_and_state_does_not_repeat_segments(tmp_path):
    p = FakePlatform()
    agent, _t = make(tmp_path, p)
    agent.startup()
    agent.report()
    p.run(60)
    agent.step()
    agent.save()  # state: next_seq 1, 60 s pending
    # the report is spooled but the process dies before state.json is written
    saved_state = (tmp_path / "state/state.json").read_bytes()
    agent.report()
    (tmp_path / "state/state.json").write_bytes(saved_state)
    p.run(5)
    agent2, t2 = make(tmp_path, p)
    agent2.startup()
    agent2.report()
    agent2.transport.pump(agent2.spool)
    seqs = [r["seq"] for r in t2.reports]
    assert seqs == [0, 1, 2]
    segs = segments(t2.reports)
    for a, b in itertools.pairwise(segs):
        assert a["end"] == b["start"]


def test_sleep_blockers_are_reported_without_user_data(tmp_path):
    from agent.platform import SleepBlocker

    p = FakePlatform()
    p.blockers = [SleepBlocker("Firefox", "sleep:idle", "Playing video")]
    agent, t = make(tmp_path, p)
    agent.startup()
    agent.refresh_blockers()
    agent.report()
    agent.transport.pump(agent.spool)
    assert t.reports[0]["sleep_blockers"] == [
        {"app": "Firefox", "what": "sleep:idle", "reason": "Playing video"}
    ]


def test_sleep_blockers_switch_off(tmp_path):
    from agent.config import SleepBlockersConfig
    from agent.platform import SleepBlocker

    p = FakePlatform()
    p.blockers = [SleepBlocker("Firefox", "sleep", None)]
    agent, t = make(tmp_path, p, sleep_blockers=SleepBlockersConfig(enabled=False))
    agent.startup()
    agent.refresh_blockers()
    agent.report()
    agent.transport.pump(agent.spool)
    assert "sleep_blockers" not in t.reports[0]


def test_measured_battery_energy_goes_into_segments(tmp_path):
    p = FakePlatform()
    p.kind = "laptop"
    p.battery_w = 12.0
    agent, t = make(tmp_path, p)
    agent.startup()
    agent.report()
    for _ in range(4):
        p.run(15)
        agent.step()
    agent.report()
    agent.transport.pump(agent.spool)
    seg = t.reports[-1]["segments"][0]
    assert seg["energy_j"] == {"value": pytest.approx(12.0 * 60, abs=0.1), "source": "battery"}
    assert t.reports[-1]["host"]["kind"] == "laptop"
