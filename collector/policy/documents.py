"""Which rule a machine follows, and the policy document the agent receives.

A document is what `agent/policy.py` reads: the rule's mode, action and timings, and the
off-hours windows of the next `horizon_days` computed here from the machine's calendar
(after the grace and any start delay, with maintenance windows cut out), so the agent needs
no calendar and keeps working offline. Its `version` is a hash of the content: the agent
reports the version it holds and is sent a new document only when it differs (a new rule,
an opt-out, a new day of windows).

Delivery rides on the agent's own authenticated channel: the answer to its HTTP report, or
the acknowledgement on its MQTT ack topic, which the broker lets only the collector write.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from collector.compliance.calendar import Calendar
from collector.policy.settings import tag_pairs

if TYPE_CHECKING:
    from collector.compliance.periods import Compliance
    from collector.policy.settings import PolicyConfig, PolicyRuleConfig
    from collector.records import Entity

OFF = "off"


def matches(
    e: Entity, sites: list[str], departments: list[str], kinds: list[str], tags: list[str]
) -> bool:
    return (
        (not sites or (e.site or "") in sites)
        and (not departments or (e.department or "") in departments)
        and (not kinds or e.kind in kinds)
        and all(e.tags.get(k) == v for k, v in tag_pairs(tags, "tags"))
    )


class Policies:
    """Rule lookup and documents, cached per rule, calendar, opt-out and local day."""

    def __init__(self, cfg: PolicyConfig, compliance: Compliance) -> None:
        self.cfg = cfg
        self.compliance = compliance
        self.exempt_tags = tag_pairs(cfg.exempt_tags, "exempt_tags")
        self.opt_outs = {o.agent_id: date.fromisoformat(o.until) for o in cfg.opt_outs}
        self._cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def rule_for(self, e: Entity) -> PolicyRuleConfig | None:
        """The first rule matching the machine, None when exempt or unmatched."""
        if self.compliance.exempt(e) or any(e.tags.get(k) == v for k, v in self.exempt_tags):
            return None
        for r in self.cfg.rules:
            if matches(e, r.sites, r.departments, r.kinds, r.tags):
                return r
        return None

    def document(self, e: Entity, now: float) -> dict[str, Any]:
        rule = self.rule_for(e)
        cal = self.compliance.calendar_for(e.site, e.department)
        today = datetime.fromtimestamp(now, cal.tz).date()
        until = self.opt_outs.get(e.id)
        key = (rule.name if rule else None, cal.name, until, today)
        with self._lock:
            doc = self._cache.get(key)
            if doc is None:
                if len(self._cache) > 4096:
                    self._cache.clear()
                doc = self._cache[key] = self._build(rule, cal, today, until)
        return doc

    def _build(
        self, rule: PolicyRuleConfig | None, cal: Calendar, today: date, until: date | None
    ) -> dict[str, Any]:
        if rule is None or rule.mode == OFF:
            doc: dict[str, Any] = {"rule": rule.name if rule else "", "mode": OFF}
        else:
            first = datetime.combine(today - timedelta(days=1), datetime.min.time(), cal.tz)
            last = first + timedelta(days=self.cfg.horizon_days + 1)
            delay = rule.start_delay_minutes * 60
            doc = {
                "rule": rule.name,
                "mode": rule.mode,
                "action": rule.action,
                "idle_s": rule.idle_minutes * 60,
                "warn_s": rule.warn_minutes * 60,
                "postpone_s": rule.postpone_minutes * 60,
                "allow_not_tonight": rule.allow_not_tonight,
                "honour": list(rule.honour_blockers),
                "windows": [
                    [round(a), round(b)]
                    for a, b in off_hours_windows(cal, first.timestamp(), last.timestamp(), delay)
                ][:64],
            }
            if until is not None:
                end = datetime.combine(until + timedelta(days=1), datetime.min.time(), cal.tz)
                doc["opt_out_until"] = round(end.timestamp())
        doc["version"] = hashlib.sha256(
            json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
        return doc

    def control_for(self, e: Entity, reported: dict[str, Any] | None, now: float) -> Any:
        """The document to send with the answer to this report, or None: the agent holds it
        already (or holds none and there is none to follow)."""
        doc = self.document(e, now)
        held = (reported or {}).get("version") or ""
        if held == doc["version"] or (not held and doc["mode"] == OFF):
            return None
        return doc


def off_hours_windows(
    cal: Calendar, a: float, b: float, delay_s: float = 0.0
) -> list[tuple[float, float]]:
    """Off-hours periods touching [a, b), each starting after the calendar's grace and
    `delay_s`, with the maintenance windows (when machines are expected on) cut out."""
    periods = {}
    for part in cal.parts(a, b):
        periods[part.period.start] = part.period
    out: list[tuple[float, float]] = []
    for p in sorted(periods.values(), key=lambda p: p.start):
        lo, hi = p.start + cal.grace_s + delay_s, p.end
        if lo >= hi:
            continue
        pieces = [(lo, hi)]
        for m0, m1 in cal.maintenance_windows(lo, hi):
            cut = []
            for x, y in pieces:
                if m1 <= x or m0 >= y:
                    cut.append((x, y))
                    continue
                if x < m0:
                    cut.append((x, m0))
                if m1 < y:
                    cut.append((m1, y))
            pieces = cut
        out.extend(pieces)
    return out
