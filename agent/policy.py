"""The off-hours sleep policy on the PC: what the collector sent, and what to do now.

The collector sends a policy document over the agent's authenticated channel (the MQTT ack
topic bound to this agent, or the answer to its HTTP report); the agent keeps the last one in
`<state_dir>/policy.json` and follows it offline. The document carries the off-hours windows
of the next days already computed from the site's calendar (holidays, closures, maintenance
windows taken out), so the agent needs no calendar of its own.

`Engine.tick()` is pure decision logic (no I/O): given the time, how long the user has been
away, the sleep blockers and the user's answers, it says whether to warn, withdraw a warning,
act, or note what it would have done (advise mode). Every step is counted; the counts and the
actions (time and kind only: never a user name) go out with the next report.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from energy_common.schema import POLICY_ACTIONS as ACTIONS
from energy_common.schema import POLICY_EVENTS as EVENTS
from energy_common.schema import POLICY_MODES as MODES

log = logging.getLogger("energy_agent.policy")

__all__ = ["ACTIONS", "EVENTS", "MODES", "Engine", "Policy", "PolicyError", "Step"]
MAX_ACTIONS_PER_REPORT = 32
USER_ANSWERS = ("postpone", "not_tonight")
MAX_OVERRIDE_S = 24 * 3600.0  # a user's override never outlives a day


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Policy:
    version: str
    rule: str = ""
    mode: str = "off"
    action: str = "sleep"
    idle_s: float = 1800.0
    warn_s: float = 300.0
    postpone_s: float = 3600.0
    allow_not_tonight: bool = True
    honour: tuple[str, ...] = ("*",)  # sleep blockers (fnmatch on app or what) that hold it
    windows: tuple[tuple[float, float], ...] = ()  # off-hours to act in, POSIX seconds
    opt_out_until: float | None = None

    @classmethod
    def from_json(cls, doc: Any) -> Policy:
        """A policy document as the collector sends it; PolicyError names what is wrong."""
        if not isinstance(doc, dict):
            raise PolicyError("policy: not an object")

        def num(key: str, default: float, lo: float, hi: float) -> float:
            v = doc.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise PolicyError(f"policy.{key}: a number from {lo} to {hi}")
            return float(v)

        version = doc.get("version")
        if not isinstance(version, str) or not 1 <= len(version) <= 64:
            raise PolicyError("policy.version: a string of 1 to 64 characters")
        mode = doc.get("mode", "off")
        if mode not in MODES:
            raise PolicyError(f"policy.mode: one of {', '.join(MODES)}")
        action = doc.get("action", "sleep")
        if action not in ACTIONS:
            raise PolicyError(f"policy.action: one of {', '.join(ACTIONS)}")
        honour = doc.get("honour", ["*"])
        if not isinstance(honour, list) or not all(isinstance(h, str) and h for h in honour[:64]):
            raise PolicyError("policy.honour: a list of patterns")
        windows = []
        raw = doc.get("windows", [])
        if not isinstance(raw, list) or len(raw) > 64:
            raise PolicyError("policy.windows: a list of at most 64 [start, end] pairs")
        for i, w in enumerate(raw):
            ok = (
                isinstance(w, list)
                and len(w) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in w)
                and w[0] < w[1]
            )
            if not ok:
                raise PolicyError(f"policy.windows[{i}]: [start, end] in POSIX seconds")
            windows.append((float(w[0]), float(w[1])))
        opt_out = doc.get("opt_out_until")
        if opt_out is not None and (
            isinstance(opt_out, bool) or not isinstance(opt_out, (int, float))
        ):
            raise PolicyError("policy.opt_out_until: POSIX seconds or null")
        not_tonight = doc.get("allow_not_tonight", True)
        if not isinstance(not_tonight, bool):
            raise PolicyError("policy.allow_not_tonight: true or false")
        rule = doc.get("rule", "")
        return cls(
            version=version,
            rule=rule if isinstance(rule, str) else "",
            mode=mode,
            action=action,
            idle_s=num("idle_s", 1800.0, 5.0, 86400.0),
            warn_s=num("warn_s", 300.0, 0.0, 3600.0),
            postpone_s=num("postpone_s", 3600.0, 5.0, MAX_OVERRIDE_S),
            allow_not_tonight=not_tonight,
            honour=tuple(honour[:64]),
            windows=tuple(sorted(windows)),
            opt_out_until=float(opt_out) if opt_out is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "rule": self.rule,
            "mode": self.mode,
            "action": self.action,
            "idle_s": self.idle_s,
            "warn_s": self.warn_s,
            "postpone_s": self.postpone_s,
            "allow_not_tonight": self.allow_not_tonight,
            "honour": list(self.honour),
            "windows": [list(w) for w in self.windows],
            "opt_out_until": self.opt_out_until,
        }

    def window_at(self, t: float) -> tuple[float, float] | None:
        for a, b in self.windows:
            if a <= t < b:
                return a, b
        return None

    def honoured(self, blockers: list[dict[str, str]]) -> list[dict[str, str]]:
        return [
            b
            for b in blockers
            if any(
                fnmatch.fnmatchcase(b.get("app", "").lower(), p.lower())
                or fnmatch.fnmatchcase(b.get("what", "").lower(), p.lower())
                for p in self.honour
            )
        ]


@dataclass(frozen=True)
class Step:
    """What the agent does now: nothing, warn (until `deadline`), withdraw, act, or advise."""

    kind: str  # none | warn | withdraw | act | advise
    action: str = ""
    deadline: float = 0.0
    why: str = ""


@dataclass
class Engine:
    policy: Policy | None = None
    postponed_until: float = 0.0
    not_tonight_until: float = 0.0
    warned_at: float | None = None
    window_done: float | None = None  # advise: the window already noted (once per window)
    awake_since: float = 0.0  # last boot, wake or action: idle time never counts from before
    noted: dict[str, float] = field(default_factory=dict)  # event -> window it was counted in
    events: Counter[str] = field(default_factory=Counter)  # not yet reported
    actions: list[dict[str, Any]] = field(default_factory=list)  # not yet reported

    # -- what the collector and the user say --------------------------------------------------
    def update(self, policy: Policy) -> bool:
        """Take a new policy; True if it differs from the one held."""
        if self.policy is not None and self.policy.version == policy.version:
            return False
        self.policy = policy
        log.info(
            "policy %s (%s): %s, %s after %.0f min idle, %d off-hours window(s) ahead",
            policy.version[:12],
            policy.rule or "-",
            policy.mode,
            policy.action,
            policy.idle_s / 60,
            len(policy.windows),
        )
        return True

    def answer(self, what: str, now: float) -> Step:
        """The user's answer to a warning: `postpone` (one more `postpone_s`) or
        `not_tonight` (until the end of this off-hours window). Both end within 24 h."""
        p = self.policy
        if p is None or what not in USER_ANSWERS:
            return Step("none")
        window = p.window_at(now)
        if what == "postpone":
            self.postponed_until = now + min(p.postpone_s, MAX_OVERRIDE_S)
            self.events["postponed"] += 1
        elif p.allow_not_tonight:
            end = window[1] if window else now
            self.not_tonight_until = min(end, now + MAX_OVERRIDE_S)
            self.events["declined"] += 1
        else:
            return Step("none", why="not tonight is not allowed by this policy")
        was_warned = self.warned_at is not None
        self.warned_at = None
        return Step("withdraw", why=what) if was_warned else Step("none")

    def woke(self, at: float) -> None:
        """The machine woke (or booted) at `at`: it gets `idle_s` again from then. A PC woken
        at 03:00 for patching has had no input since the evening; without this it would be
        warned, and slept, seconds after waking. Input after the wake restarts the count as
        always (the caller's idle time)."""
        # a warning on show before the sleep is withdrawn at the next tick (idle is short)
        self.awake_since = max(self.awake_since, at)

    # -- the decision ----------------------------------------------------------------------------
    def _window_idle(
        self, p: Policy, now: float, idle_for_s: float
    ) -> tuple[tuple[float, float] | None, float]:
        """The window `now` is in, and the idle time that counts in it: from the start of
        the window at the earliest (the afternoon before it is not off-hours), and from the
        last boot, wake or action."""
        window = p.window_at(now)
        if window is None:
            return None, 0.0
        return window, min(idle_for_s, now - window[0], now - self.awake_since)

    def deciding(self, now: float, idle_for_s: float) -> bool:
        """Inside a window and idle long enough for the blockers to matter now."""
        p = self.policy
        if p is None or p.mode == "off":
            return False
        window, idle = self._window_idle(p, now, idle_for_s)
        return window is not None and idle >= p.idle_s

    def tick(self, now: float, idle_for_s: float, blockers: list[dict[str, str]] | None) -> Step:
        """`blockers`: None when they could not be read; then a policy that honours any
        blocker does not act (never blind), and the window counts as `blocked`."""
        p = self.policy
        if p is None or p.mode == "off":
            return self._withdraw("no policy")
        window, idle = self._window_idle(p, now, idle_for_s)
        if window is None:
            self.postponed_until = self.not_tonight_until = 0.0  # overrides end with the night
            return self._withdraw("working hours")
        if p.opt_out_until is not None and now < p.opt_out_until:
            self._note("opted_out", window)
            return self._withdraw("opted out")
        if now < self.not_tonight_until:
            return Step("none", why="not tonight")
        if now < self.postponed_until:
            return Step("none", why="postponed")
        if p.mode == "advise" and self.window_done == window[0]:
            return Step("none", why="advised in this window")
        if idle < p.idle_s:
            return self._withdraw("user present")
        held = self._held(p, blockers)
        if held:
            self._note("blocked", window)
            return self._withdraw(f"held by {held}")
        if p.mode == "advise":
            if idle < p.idle_s + p.warn_s:
                return Step("none", why="advise: would warn")
            self.window_done = window[0]
            self.events["advised"] += 1
            self._record(now, "advise")
            return Step("advise", p.action)
        if self.warned_at is None:
            if p.warn_s > 0:
                self.warned_at = now
                self.events["warned"] += 1
                return Step("warn", p.action, now + p.warn_s)
        elif now < self.warned_at + p.warn_s:
            return Step("none", p.action, self.warned_at + p.warn_s, "warning shown")
        self.warned_at = None
        return Step("act", p.action)

    @staticmethod
    def _held(p: Policy, blockers: list[dict[str, str]] | None) -> str | None:
        """The application holding the action, if a honoured blocker (or unreadable
        blockers, for a policy that honours any) does."""
        if not p.honour:
            return None
        if blockers is None:
            return "(unreadable)"
        held = p.honoured(blockers)
        return held[0].get("app", "?") if held else None

    def last_look(self, now: float, blockers: list[dict[str, str]] | None) -> bool:
        """Just before a `Step("act")`: still clear with the blockers read now? If not, the
        window counts as `blocked` and nothing is done."""
        p = self.policy
        if p is None:
            return False
        if self._held(p, blockers) is None:
            return True
        window = p.window_at(now)
        if window is not None:
            self._note("blocked", window)
        return False

    def acted(self, now: float, action: str, error: str | None) -> None:
        """The outcome of the OS call for a `Step("act")`."""
        if error is None:
            self.awake_since = max(self.awake_since, now)
            self.events["acted"] += 1
            self._record(now, "active", action)
        else:
            self.events["failed"] += 1
            log.warning("policy: %s refused by the system: %s", action, error)

    def _record(self, now: float, mode: str, action: str | None = None) -> None:
        p = self.policy
        assert p is not None
        if len(self.actions) < MAX_ACTIONS_PER_REPORT:
            self.actions.append({"at": round(now, 3), "action": action or p.action, "mode": mode})

    def _note(self, event: str, window: tuple[float, float]) -> None:
        """Count `event` once per window."""
        if self.noted.get(event) != window[0]:
            self.noted[event] = window[0]
            self.events[event] += 1

    def _withdraw(self, why: str) -> Step:
        if self.warned_at is None:
            return Step("none", why=why)
        self.warned_at = None
        self.events["withdrawn"] += 1
        return Step("withdraw", why=why)

    # -- the report ------------------------------------------------------------------------------
    def take_report(self) -> dict[str, Any] | None:
        """The report's `policy` field: the version held, new counts and actions."""
        if self.policy is None and not self.events:
            return None
        out: dict[str, Any] = {"version": self.policy.version if self.policy else ""}
        if self.policy is not None:
            out["mode"] = self.policy.mode
        events = {k: v for k, v in sorted(self.events.items()) if v}
        if events:
            out["events"] = events
        if self.actions:
            out["actions"] = list(self.actions)
        self.events = Counter()
        self.actions = []
        return out

    # -- keeping it across restarts ------------------------------------------------------------
    def save(self, path: Path) -> None:
        doc = {
            "policy": self.policy.to_json() if self.policy else None,
            "postponed_until": self.postponed_until,
            "not_tonight_until": self.not_tonight_until,
            "window_done": self.window_done,
            "noted": self.noted,
            "events": dict(self.events),
            "actions": self.actions,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Engine:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            policy = Policy.from_json(doc["policy"]) if doc.get("policy") else None
            now = time.time()
            return cls(
                policy=policy,
                # an override read back from disk still ends within a day
                postponed_until=min(float(doc.get("postponed_until", 0)), now + MAX_OVERRIDE_S),
                not_tonight_until=min(float(doc.get("not_tonight_until", 0)), now + MAX_OVERRIDE_S),
                window_done=doc.get("window_done"),
                noted={str(k): float(v) for k, v in dict(doc.get("noted", {})).items()},
                events=Counter({k: int(v) for k, v in dict(doc.get("events", {})).items()}),
                actions=list(doc.get("actions", []))[:MAX_ACTIONS_PER_REPORT],
            )
        except FileNotFoundError:
            return cls()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("policy: %s unreadable (%s); waiting for the collector's", path, exc)
            return cls()
