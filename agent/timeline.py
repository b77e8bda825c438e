"""The state timeline: turns successive samples of the clocks, CPU and input into segments.

Pure logic, no I/O: the agent feeds it `Sample`s, tests feed it invented ones. Times are POSIX
seconds (UTC). Rules, from docs/agent.md:
- suspend length between two samples is the growth of (since_boot − running): exact. Where the
  OS records exact sleep/wake times (Windows event log) they are used; otherwise the suspended
  span is centred in the running time between the samples, so its ends are placed within half a
  sample interval of the truth.
- a machine is `active` while its last user input is less than `idle_threshold_s` old, else
  `idle`; with no interactive session it is `active` only while CPU utilisation exceeds
  `busy_cpu_threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.platform import Clocks, CpuTimes
from energy_common.schema import Segment


@dataclass(frozen=True, slots=True)
class Sample:
    clocks: Clocks
    cpu: CpuTimes
    last_input: float | None  # wall time of last user input; None: no interactive session


@dataclass(slots=True)
class _Open:
    """A segment under construction (mutable; frozen into schema.Segment when taken)."""

    start: float
    end: float
    state: str
    clean: bool | None = None
    util_seconds: float = 0.0  # sum of util × duration, for the duration-weighted mean
    util_duration: float = 0.0
    energy_j: float | None = None
    energy_source: str | None = None

    def freeze(self) -> Segment:
        util = self.util_seconds / self.util_duration if self.util_duration > 0 else None
        return Segment(
            start=self.start,
            end=self.end,
            state=self.state,
            clean=self.clean,
            cpu_util=util,
            energy_j=self.energy_j,
            energy_source=self.energy_source,
        )


@dataclass(frozen=True, slots=True)
class Advance:
    """What one step did: whether the machine woke from suspend and whether state changed."""

    woke: bool
    state_changed: bool
    suspended_s: float


def activity(
    a: float, b: float, last_prev: float | None, last_cur: float | None, threshold: float
) -> list[tuple[float, float, str]]:
    """Split [a, b] into active/idle pieces from the last-input times at both samples."""
    pieces: list[tuple[float, float, str]] = []

    def classify(p: float, q: float, last: float | None) -> None:
        if q <= p:
            return
        edge = p if last is None else min(max(last + threshold, p), q)
        if edge > p:
            pieces.append((p, edge, "active"))
        if q > edge:
            pieces.append((edge, q, "idle"))

    if last_cur is not None and last_cur > a:
        cut = min(last_cur, b)
        classify(a, cut, last_prev)
        classify(cut, b, last_cur)
    else:
        classify(a, b, last_cur)
    return pieces


class Timeline:
    def __init__(
        self,
        start: float,
        *,
        idle_threshold_s: float = 300.0,
        busy_cpu_threshold: float = 0.25,
        suspend_threshold_s: float = 2.0,
    ) -> None:
        self.cursor = start  # end of the last segment: the timeline is contiguous up to here
        self.idle_threshold_s = idle_threshold_s
        self.busy_cpu_threshold = busy_cpu_threshold
        self.suspend_threshold_s = suspend_threshold_s
        self._open: list[_Open] = []
        self.last_state: str | None = None

    # -- building ---------------------------------------------------------------------------

    def add(
        self,
        start: float,
        end: float,
        state: str,
        *,
        clean: bool | None = None,
        cpu_util: float | None = None,
        energy: tuple[float, str] | None = None,
    ) -> None:
        """Append a segment. Its start is clamped to the cursor so the timeline stays
        contiguous whatever the wall clock did."""
        start = self.cursor
        if end <= start:
            return
        dur = end - start
        last = self._open[-1] if self._open else None
        same_energy = (
            last is not None
            and (last.energy_source is None) == (energy is None)
            and (energy is None or last.energy_source == energy[1])
        )
        if (
            last is not None
            and last.state == state
            and last.clean == clean
            and same_energy
            and abs(last.end - start) < 1e-6
        ):
            seg = last
            seg.end = end
        else:
            seg = _Open(start=start, end=end, state=state, clean=clean)
            if energy is not None:
                seg.energy_j, seg.energy_source = 0.0, energy[1]
            self._open.append(seg)
        if cpu_util is not None:
            seg.util_seconds += cpu_util * dur
            seg.util_duration += dur
        if energy is not None and seg.energy_j is not None:
            seg.energy_j += energy[0]
        self.cursor = end
        if state != self.last_state:
            self.last_state = state

    def advance(
        self,
        prev: Sample,
        cur: Sample,
        *,
        energy: tuple[float, str] | None = None,
        known_sleeps: list[tuple[float, float]] | None = None,
    ) -> Advance:
        """Account for the time between two samples.

        `energy`: joules measured over the interval and their source, spread over its
        running time. `known_sleeps`: exact (sleep, wake) wall times from the OS, if any.
        """
        t0, t1 = max(prev.clocks.wall, self.cursor), cur.clocks.wall
        before = self.last_state
        if t1 <= t0:
            return Advance(False, False, 0.0)  # wall clock stepped back: wait for it
        suspended = cur.clocks.suspended_total - prev.clocks.suspended_total
        suspended = min(max(suspended, 0.0), t1 - t0)
        sleep_span: tuple[float, float] | None = None
        if suspended >= self.suspend_threshold_s:
            sleep_span = self._place_sleep(t0, t1, suspended, known_sleeps or [])
        d_total = cur.cpu.total - prev.cpu.total
        util = (cur.cpu.busy - prev.cpu.busy) / d_total if d_total > 0 else 0.0
        util = min(max(util, 0.0), 1.0)
        if cur.last_input is None:
            busy = util > self.busy_cpu_threshold
            pieces = [(t0, t1, "active" if busy else "idle")]
        else:
            last_prev = prev.last_input
            pieces = activity(t0, t1, last_prev, cur.last_input, self.idle_threshold_s)
        running = (t1 - t0) - (sleep_span[1] - sleep_span[0] if sleep_span else 0.0)
        for p, q, state in pieces:
            if sleep_span is None or q <= sleep_span[0] or p >= sleep_span[1]:
                self._add_on(p, q, state, util, energy, running)
                continue
            self._add_on(p, sleep_span[0], state, util, energy, running)
            if self.cursor < sleep_span[1]:
                self.add(self.cursor, sleep_span[1], "suspended")
            self._add_on(sleep_span[1], q, state, util, energy, running)
        return Advance(
            woke=sleep_span is not None,
            state_changed=before is not None and self.last_state != before,
            suspended_s=suspended if sleep_span else 0.0,
        )

    def _add_on(
        self,
        p: float,
        q: float,
        state: str,
        util: float,
        energy: tuple[float, str] | None,
        running: float,
    ) -> None:
        p = max(p, self.cursor)
        if q <= p:
            return
        share = None
        if energy is not None and running > 0:
            share = (energy[0] * (q - p) / running, energy[1])
        self.add(p, q, state, cpu_util=util, energy=share)

    @staticmethod
    def _place_sleep(
        t0: float, t1: float, suspended: float, known: list[tuple[float, float]]
    ) -> tuple[float, float]:
        for s, w in known:
            s, w = max(s, t0), min(w, t1)
            # trust the OS record when it agrees with the measured length (within 2 s)
            if w > s and abs((w - s) - suspended) <= 2.0:
                return (s, w)
        running = (t1 - t0) - suspended
        start = t0 + running / 2
        return (start, min(start + suspended, t1))

    # -- taking -----------------------------------------------------------------------------

    def pending(self) -> list[Segment]:
        return [s.freeze() for s in self._open]

    def take(self) -> list[Segment]:
        """Hand over the segments so far (for a report) and start afresh at the cursor."""
        out = self.pending()
        self._open.clear()
        return out

    def restore(self, segments: list[Segment]) -> None:
        """Reload segments saved by a previous run (crash recovery)."""
        for s in segments:
            self.cursor = s.start
            energy = (
                None
                if s.energy_j is None or s.energy_source is None
                else (s.energy_j, s.energy_source)
            )
            self.add(s.start, s.end, s.state, clean=s.clean, cpu_util=s.cpu_util, energy=energy)
