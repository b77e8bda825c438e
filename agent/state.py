"""What the agent keeps between runs: its id, the next sequence number, last-alive time.

`state.json` is rewritten atomically at every report and heartbeat, and at a clean stop with
`clean_stop: true`. It also carries the last sample and the segments not yet reported, so a
crash loses at most one heartbeat interval, which is then reported as `unknown`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.platform import Clocks, CpuTimes
from agent.timeline import Sample
from energy_common.schema import Segment, parse_time, segment_to_json

log = logging.getLogger("energy_agent.state")


def load_agent_id(state_dir: Path) -> str:
    """The agent's stable id: a random UUID made on first start (hostnames change)."""
    path = state_dir / "agent_id"
    try:
        text = path.read_text(encoding="ascii").strip()
        return str(uuid.UUID(text))
    except (OSError, ValueError):
        pass
    state_dir.mkdir(parents=True, exist_ok=True)
    new = str(uuid.uuid4())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new + "\n", encoding="ascii")
    os.replace(tmp, path)
    return new


def new_incarnation() -> str:
    return uuid.uuid4().hex[:16]


def _incarnation(value: Any) -> str:
    if isinstance(value, str) and 8 <= len(value) <= 32 and all(c in HEX for c in value):
        return value
    return new_incarnation()


HEX = frozenset("0123456789abcdef")


@dataclass
class AgentState:
    next_seq: int = 0
    boot_time: float | None = None
    last_alive: float | None = None
    clean_stop: bool = False
    last_sample: Sample | None = None
    pending: list[Segment] = field(default_factory=list)
    spool_dropped: int = 0
    # made afresh whenever next_seq is (first start, lost or corrupt state.json): the collector
    # keys reports by (agent_id, incarnation, seq), so a restarted sequence is never taken for
    # a replay of the old one
    incarnation: str = field(default_factory=new_incarnation)

    def to_json(self) -> dict[str, Any]:
        s = self.last_sample
        return {
            "next_seq": self.next_seq,
            "incarnation": self.incarnation,
            "boot_time": self.boot_time,
            "last_alive": self.last_alive,
            "clean_stop": self.clean_stop,
            "spool_dropped": self.spool_dropped,
            "last_sample": None
            if s is None
            else {
                "wall": s.clocks.wall,
                "running": s.clocks.running,
                "since_boot": s.clocks.since_boot,
                "cpu_busy": s.cpu.busy,
                "cpu_total": s.cpu.total,
                "last_input": s.last_input,
            },
            "pending": [segment_to_json(x) for x in self.pending],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AgentState:
        s = d.get("last_sample")
        sample = None
        if s:
            sample = Sample(
                Clocks(s["wall"], s["running"], s["since_boot"]),
                CpuTimes(s["cpu_busy"], s["cpu_total"]),
                s.get("last_input"),
            )
        pending = []
        for p in d.get("pending", []):
            e = p.get("energy_j")
            pending.append(
                Segment(
                    parse_time(p["start"]),
                    parse_time(p["end"]),
                    p["state"],
                    p.get("clean"),
                    p.get("cpu_util"),
                    None if e is None else e["value"],
                    None if e is None else e["source"],
                )
            )
        return cls(
            next_seq=int(d.get("next_seq", 0)),
            boot_time=d.get("boot_time"),
            last_alive=d.get("last_alive"),
            clean_stop=bool(d.get("clean_stop")),
            last_sample=sample,
            pending=pending,
            spool_dropped=int(d.get("spool_dropped", 0)),
            # a state from before incarnations continues its sequence: no new one needed,
            # but every state has one from now on
            incarnation=_incarnation(d.get("incarnation")),
        )


def load_state(state_dir: Path) -> AgentState | None:
    path = state_dir / "state.json"
    try:
        return AgentState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("state: %s unreadable (%s); starting afresh", path, exc)
        return None


def save_state(state_dir: Path, state: AgentState, durable: bool) -> None:
    path = state_dir / "state.json"
    tmp = path.with_suffix(".tmp")
    data = json.dumps(state.to_json(), separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
