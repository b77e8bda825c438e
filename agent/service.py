"""The agent's main loop: sample, build the timeline, spool reports, let the transport send.

Reports go out every `report_interval_s`, and at once on boot, on wake from suspend, and on a
state change (no closer than `min_report_interval_s`). Every report is spooled before sending.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from agent import __version__
from agent.config import AgentConfig
from agent.energy import EnergyMeter
from agent.notice import NoticeBoard
from agent.platform import Clocks, CpuTimes, HostFacts, Platform, get_platform, lan_interfaces
from agent.policy import Engine, Policy, PolicyError, Step
from agent.reload import Reloader, changed_keys, moves_transport
from agent.spool import Spool
from agent.state import AgentState, load_agent_id, load_state, save_state
from agent.timeline import Sample, Timeline
from agent.transport import NoDestination, Transport, make_transport
from energy_common import wol
from energy_common.schema import Host, Report, encode_report, format_time

log = logging.getLogger("energy_agent")

WAKE_FACTS_INTERVAL_S = 3600.0  # interfaces and wake settings change rarely
MAX_WAKES_PER_MESSAGE = 256
NEW_BOOT_TOLERANCE_S = 5.0  # boot_time jitters by a second or so between readings
FIRST_RUN_BACKFILL_S = 3600.0  # on first install, time since boot is reported if this recent


class Agent:
    def __init__(
        self,
        cfg: AgentConfig,
        platform: Platform | None = None,
        transport: Transport | None = None,
        reload: Callable[[], AgentConfig] | None = None,
        console: bool = True,
    ) -> None:
        """`reload`: reads the settings again (taken up while running, agent/reload.py);
        `console`: False for a service, which has no standard output to report to."""
        self.cfg = cfg
        self.platform = platform or get_platform()
        self.state_dir = cfg.state_path
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.agent_id = load_agent_id(self.state_dir)
        self.spool = Spool(self.state_dir / "spool", cfg.spool.max_bytes, cfg.spool.max_age_s)
        self.console = console
        self.reloader = Reloader(reload) if reload is not None else None
        self._said_no_destination = False
        self.transport = transport or self._make_transport()
        self.meter = EnergyMeter()
        self.state = AgentState()
        self.timeline = Timeline(
            0.0,
            idle_threshold_s=cfg.idle_threshold_s,
            busy_cpu_threshold=cfg.busy_cpu_threshold,
            suspend_threshold_s=cfg.suspend_threshold_s,
        )
        self.facts: HostFacts | None = None
        self.boot_time = 0.0
        self.last: Sample | None = None
        self.blockers: list[dict[str, str]] = []
        self.unreadable: set[str] = set()  # probes that could not be read (schema PROBES)
        self._last_input: float | None = None
        self._next_idle_poll = 0.0
        self._next_blockers = 0.0
        self._next_heartbeat = 0.0
        self._last_report = 0.0
        self._stop = threading.Event()
        self.policy_path = self.state_dir / "policy.json"
        self.policy = Engine.load(self.policy_path) if cfg.policy.enabled else Engine()
        self.notice: NoticeBoard | None = None
        self.wake_facts: dict[str, Any] | None = None
        self._next_wake_facts = 0.0
        self._wake_unsent = False
        self._next_policy = 0.0
        self._blockers_at = -1e9

    def _make_transport(self) -> Transport:
        transport = make_transport(self.cfg, self.agent_id, __version__, self.console)
        if isinstance(transport, NoDestination) and not self._said_no_destination:
            self._said_no_destination = True  # once: the event log is read by people
            log.warning(
                "no destination configured (transport: %s, and a service has no standard "
                "output): reports are kept in the spool in %s until the settings name one "
                "(the MSI's TRANSPORT, Group Policy, agent.yaml), read again every %.0f s",
                self.cfg.transport,
                self.state_dir,
                self.cfg.reload_interval_s,
            )
        return transport

    def take_settings(self, new: AgentConfig) -> None:
        """Settings changed while running: site, tags, intervals and policy options apply
        from now; a new destination gets a new transport, which sends the spool."""
        keys = changed_keys(self.cfg, new)
        self.cfg = new
        self.timeline.idle_threshold_s = new.idle_threshold_s
        self.timeline.busy_cpu_threshold = new.busy_cpu_threshold
        self.timeline.suspend_threshold_s = new.suspend_threshold_s
        logging.getLogger().setLevel(new.log_level.upper())
        log.info("settings changed (%s): taken up", ", ".join(keys))
        if moves_transport(keys):
            self.transport.stop(clean=True)
            self.transport = self._make_transport()
            self.transport.start()
            log.info("reports now go %s", _destination(new, self.transport))
        if self.last is not None and {"site", "department", "tags", "kind"} & set(keys):
            self.step()
            self.report()  # the collector learns the machine's new place at once

    # -- sampling ----------------------------------------------------------------------------

    def sample(self, clocks: Clocks | None = None) -> Sample:
        clocks = clocks or self.platform.clocks()
        if clocks.running >= self._next_idle_poll:
            self._last_input = self.platform.last_input(clocks, self.cfg.idle_threshold_s)
            self._next_idle_poll = clocks.running + self.cfg.idle_poll_interval_s
        return Sample(clocks, self.platform.cpu_times(), self._last_input)

    def _measure(self, prev: Sample, cur: Sample, suspended: bool) -> tuple[float, str] | None:
        if not self.cfg.measure_energy:
            return None
        running = cur.clocks.running - prev.clocks.running
        energy = self.meter.step(
            self.platform.rapl(), self.platform.battery_discharge_watts(), running
        )
        # counters may be reset or frozen across a suspend: never trust that interval
        if energy is None or suspended or running <= 0:
            return None
        if energy[0] / running > 2000.0:  # no office machine draws 2 kW: a bogus reading
            log.warning(
                "energy: implausible %s reading (%.0f W) ignored", energy[1], energy[0] / running
            )
            return None
        return energy

    def step(self, clocks: Clocks | None = None) -> bool:
        """Take one sample and extend the timeline. Returns True if a report is due now."""
        assert self.last is not None
        cur = self.sample(clocks)
        prev = self.last
        suspended = cur.clocks.suspended_total - prev.clocks.suspended_total
        energy = self._measure(prev, cur, suspended >= self.cfg.suspend_threshold_s)
        known = []
        if suspended >= self.cfg.suspend_threshold_s:
            known = self.platform.suspend_intervals(prev.clocks.wall, cur.clocks.wall)
        adv = self.timeline.advance(prev, cur, energy=energy, known_sleeps=known)
        self.last = cur
        now = cur.clocks.wall
        if adv.woke:
            log.info("woke after %.1f s suspended", adv.suspended_s)
            self.policy.woke(now)  # idle time counts from the wake (docs/policy.md)
        since = now - self._last_report
        return (
            adv.woke
            or since >= self.cfg.report_interval_s
            or (adv.state_changed and since >= self.cfg.min_report_interval_s)
        )

    # -- start and stop ----------------------------------------------------------------------

    def startup(self) -> None:
        """Recover from the previous run: off period, crash gap, unsent segments."""
        self.facts = self.platform.host_facts()
        clocks = self.platform.clocks()
        self.boot_time = self.platform.boot_time()
        cpu = self.platform.cpu_times()
        prev = load_state(self.state_dir)
        max_spooled = self.spool.max_seq()
        if prev is None:
            # first start, or state.json lost or corrupt: a new incarnation (self.state made
            # one), so seqs restarting below the old ones are new reports, not duplicates
            log.info("state: new report sequence (incarnation %s)", self.state.incarnation)
            if max_spooled is not None:
                # reports of the old incarnation still spooled keep their files and names
                self.state.next_seq = max_spooled + 1
        else:
            self.state.incarnation = prev.incarnation
            self.state.spool_dropped = prev.spool_dropped
            self.state.next_seq = max(
                prev.next_seq, (max_spooled + 1) if max_spooled is not None else 0
            )
            if max_spooled is not None and max_spooled >= prev.next_seq:
                # crashed between spooling a report and saving state: those segments left
                prev.pending = []
        at_boot = Sample(Clocks(self.boot_time, 0.0, 0.0), CpuTimes(0.0, 0.0), None)
        if prev is None or prev.last_alive is None:
            # first run: account from boot if it was recent, else from now
            recent = clocks.wall - self.boot_time <= FIRST_RUN_BACKFILL_S
            self.timeline.cursor = self.boot_time if recent else clocks.wall
            base = at_boot if recent else None
        else:
            self.timeline.cursor = prev.pending[0].start if prev.pending else prev.last_alive
            self.timeline.restore(prev.pending)
            self.timeline.cursor = max(self.timeline.cursor, prev.last_alive)
            new_boot = (
                prev.boot_time is None
                or abs(self.boot_time - prev.boot_time) > NEW_BOOT_TOLERANCE_S
            )
            if new_boot:
                clean = self.platform.shutdown_was_clean(self.boot_time)
                if clean is None:
                    clean = prev.clean_stop
                off_end = max(self.boot_time, prev.last_alive)
                self.timeline.add(prev.last_alive, off_end, "off", clean=clean)
                log.info(
                    "machine was off from %s (%s shutdown)",
                    time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(prev.last_alive)),
                    "clean" if clean else "unclean",
                )
                base = at_boot
            elif prev.last_sample is not None:
                base = self._bridge_gap(prev.last_sample, clocks, cpu)
            else:
                base = None
        cur = Sample(clocks, cpu, None)
        if base is not None:
            self.timeline.advance(base, cur)
        elif clocks.wall > self.timeline.cursor:
            self.timeline.add(self.timeline.cursor, clocks.wall, "unknown")
        self.last = self.sample(clocks)
        self.meter.step(self.platform.rapl(), self.platform.battery_discharge_watts(), 0.0)
        self.state.boot_time = self.boot_time
        self.state.clean_stop = False
        self.policy.woke(self.boot_time)  # a PC started in the night gets idle_s too

    def _bridge_gap(self, last: Sample, clocks: Clocks, cpu: CpuTimes) -> Sample | None:
        """Same boot, agent was down. Suspended time in the gap is still exact; the rest is
        `unknown` unless the gap is as short as a normal sample interval."""
        gap = clocks.wall - last.clocks.wall
        if gap <= 2 * self.cfg.sample_interval_s:
            return last
        suspended = max(clocks.suspended_total - last.clocks.suspended_total, 0.0)
        start = self.timeline.cursor
        running = max(gap - suspended, 0.0)
        if suspended >= self.cfg.suspend_threshold_s:
            mid = start + running / 2
            self.timeline.add(start, mid, "unknown")
            self.timeline.add(mid, mid + suspended, "suspended")
        self.timeline.add(self.timeline.cursor, clocks.wall, "unknown")
        return None

    def report(self) -> Report | None:
        segments = self.timeline.take()
        if not segments or self.facts is None:
            return None
        f = self.facts
        kind = f.detected_kind if self.cfg.kind == "auto" else self.cfg.kind
        host = Host(
            hostname=f.hostname,
            kind=kind,
            model=f.model,
            os=f.os,
            site=self.cfg.site,
            department=self.cfg.department,
            manufactured=f.manufactured,
            cpus=f.cpus,
            memory_bytes=f.memory_bytes,
            tags=dict(self.cfg.tags),
            serial=f.serial if self.cfg.report_hardware_ids else None,
            smbios_uuid=f.smbios_uuid if self.cfg.report_hardware_ids else None,
            macs=f.macs if self.cfg.report_hardware_ids else (),
        )
        seq = self.state.next_seq
        sent_at = segments[-1].end
        report = Report(
            agent_id=self.agent_id,
            seq=seq,
            sent_at=sent_at,
            host=host,
            boot_time=self.boot_time,
            segments=tuple(segments),
            sleep_blockers=tuple(self.blockers),
            agent_version=__version__,
            spool_dropped=self.state.spool_dropped + self.spool.dropped,
            incarnation=self.state.incarnation,
            unreadable=tuple(sorted(self.unreadable)),
            policy=self._policy_report(),
            # once an hour (the collector keeps the last): reports stay small
            wake=self.wake_facts if self._wake_unsent else None,
        )
        # spool first, then state: a crash in between is detected at start (see startup)
        self.spool.put(seq, encode_report(report))
        self.state.next_seq = seq + 1
        self._last_report = sent_at
        self._wake_unsent = False
        self.save(durable=True)
        if report.policy and ("events" in report.policy or "actions" in report.policy):
            self.policy.save(self.policy_path)  # its counts went out with this report
        return report

    # -- the off-hours policy and the wake proxy (docs/policy.md) ---------------------------

    def _policy_report(self) -> dict[str, Any] | None:
        doc = self.policy.take_report()
        if doc and "actions" in doc:
            doc["actions"] = [{**a, "at": format_time(a["at"])} for a in doc["actions"]]
        return doc

    def refresh_wake_facts(self, running: float) -> None:
        if running < self._next_wake_facts or not self.cfg.policy.report_wake:
            return
        self._next_wake_facts = running + WAKE_FACTS_INTERVAL_S
        try:
            self.wake_facts = dict(self.platform.wake_facts()) or None
            self._wake_unsent = self.wake_facts is not None
        except Exception:  # a probe must never stop the agent
            log.exception("wake facts: probe failed")

    def handle_control(self) -> None:
        """What the collector sent on this agent's channel: a policy, wake requests."""
        while self.transport.control:
            doc = self.transport.control.popleft()
            if "policy" in doc and self.cfg.policy.enabled:
                try:
                    policy = Policy.from_json(doc["policy"])
                except PolicyError as exc:
                    log.warning("policy from the collector refused: %s", exc)
                else:
                    if self.policy.update(policy):
                        self.policy.save(self.policy_path)
            if "wake" in doc:
                self.wake_for_collector(doc["wake"])

    def wake_for_collector(self, wakes: Any) -> None:
        if not isinstance(wakes, list):
            return
        if not self.cfg.policy.wake_proxy:
            log.info("wake: %d request(s) ignored (policy.wake_proxy is off)", len(wakes))
            return
        interfaces = (self.wake_facts or {}).get("interfaces") or lan_interfaces()
        for w in wakes[:MAX_WAKES_PER_MESSAGE]:
            try:
                mac, subnet = str(w["mac"]), str(w["subnet"])
                local = wol.local_on(subnet, interfaces)
                if local is None:
                    log.warning("wake: not on %s; %s not woken", subnet, mac)
                    continue
                wol.send(mac, local, limited=bool(w.get("limited", True)))
                self.policy.events["wake_sent"] += 1
                log.info("wake: magic packet for %s sent on %s", mac, local)
            except (KeyError, TypeError, ValueError, OSError) as exc:
                log.warning("wake: request %r not done: %s", w, exc)

    def policy_tick(self, now: float) -> Step:
        """Check the policy now: answers from the user's session, then the decision."""
        engine = self.policy
        if engine.policy is None or not self.cfg.policy.enabled:
            return Step("none")
        if self.notice is None:
            self.notice = NoticeBoard(self.cfg.notice_path, self.cfg.policy.lang)
        for answer in self.notice.answers():
            if engine.answer(answer, now).kind == "withdraw":
                self.notice.withdraw()
            log.info("policy: the user answered %s", answer)
        last = self._last_input
        idle_for = now - last if last is not None else float("inf")
        read_now = engine.deciding(now, idle_for) and (
            time.monotonic() - self._blockers_at >= self.cfg.policy.check_interval_s
        )
        if read_now:
            self.refresh_blockers()  # about to decide: blockers as they are now
        step = engine.tick(now, idle_for, self._readable_blockers())
        if step.kind == "warn":
            p = engine.policy
            self.notice.post(step.action, step.deadline, True, p.allow_not_tonight)
            log.info("policy: warning posted, %s at %s", step.action, format_time(step.deadline))
        elif step.kind == "withdraw":
            self.notice.withdraw()
            log.info("policy: warning withdrawn (%s)", step.why)
        elif step.kind == "advise":
            log.info("policy (advise): would %s now", step.action)
        elif step.kind == "act":
            self.notice.withdraw()
            if not read_now:
                self.refresh_blockers()  # a last look: they may have changed since
            if engine.last_look(now, self._readable_blockers()):
                self.act(now, step.action)
        if step.kind != "none":
            engine.save(self.policy_path)
        return step

    def _readable_blockers(self) -> list[dict[str, str]] | None:
        """The blockers as last read; None when they could not be read."""
        return None if "sleep_blockers" in self.unreadable else self.blockers

    def act(self, now: float, action: str) -> None:
        """Report first (the timeline up to now leaves before the machine sleeps), then ask
        the OS."""
        assert self.last is not None
        self.step()
        error = self.platform.power_action(action)
        self.policy.acted(now, action, error)
        self.report()
        self.transport.pump(self.spool)
        if error is None:
            log.info("policy: %s requested", action)

    def save(self, durable: bool = False) -> None:
        assert self.last is not None
        self.state.last_alive = self.last.clocks.wall
        self.state.last_sample = self.last
        self.state.pending = self.timeline.pending()
        dropped_now = self.spool.dropped
        save_state(
            self.state_dir,
            AgentState(
                next_seq=self.state.next_seq,
                boot_time=self.state.boot_time,
                last_alive=self.state.last_alive,
                clean_stop=self.state.clean_stop,
                last_sample=self.last,
                pending=self.state.pending,
                spool_dropped=self.state.spool_dropped + dropped_now,
                incarnation=self.state.incarnation,
            ),
            durable,
        )

    def refresh_blockers(self) -> None:
        if not self.cfg.sleep_blockers.enabled:
            return
        self._blockers_at = time.monotonic()
        try:
            found = self.platform.sleep_blockers(self.cfg.sleep_blockers.reasons)
        except Exception:  # a platform probe must never stop the agent
            log.exception("sleep blockers: probe failed")
            found = None
        if found is None:
            # said in each report until read again: an empty list would claim "none"
            self.blockers = []
            self.unreadable.add("sleep_blockers")
            return
        self.unreadable.discard("sleep_blockers")
        self.blockers = [
            {k: v for k, v in (("app", b.app), ("what", b.what), ("reason", b.reason)) if v}
            for b in found[:64]
        ]

    def stop(self, *_: Any) -> None:
        self._stop.set()
        self.transport.wake.set()

    # -- the loop ----------------------------------------------------------------------------

    def run(self, handle_signals: bool = True) -> None:
        """Until stop(). `handle_signals`: SIGTERM/SIGINT stop it (the main thread only; the
        Windows service's stop comes from the SCM instead)."""
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self.stop)
        self.startup()
        log.info(
            "energy-agent %s on %s: agent id %s (incarnation %s), state in %s, reports %s",
            __version__,
            self.platform.name,
            self.agent_id,
            self.state.incarnation,
            self.state_dir,
            _destination(self.cfg, self.transport),
        )
        self.transport.start()
        self.refresh_blockers()
        self.refresh_wake_facts(self.platform.clocks().running)
        self.report()  # at once on start: boot, or back after a stop
        assert self.last is not None
        next_sample = self.last.clocks.running + self.cfg.sample_interval_s
        self._next_heartbeat = self.last.clocks.running + self.cfg.heartbeat_interval_s
        self._next_blockers = self.last.clocks.running + self.cfg.sleep_blockers.interval_s
        if self.reloader is not None:
            self.reloader.next_at = self.last.clocks.running + self.cfg.reload_interval_s
        while not self._stop.is_set():
            self.transport.pump(self.spool)
            self.handle_control()
            running = self.platform.clocks().running
            new = self.reloader.check(self.cfg, running) if self.reloader else None
            if new is not None:
                self.take_settings(new)
            if running >= self._next_policy:
                self._next_policy = running + self.cfg.policy.check_interval_s
                self.refresh_wake_facts(running)
                self.policy_tick(self.platform.clocks().wall)
            if running >= next_sample:
                due = self.step()
                next_sample = running + self.cfg.sample_interval_s
                if running >= self._next_blockers:
                    self.refresh_blockers()
                    self._next_blockers = running + self.cfg.sleep_blockers.interval_s
                if due:
                    self.report()
                    self.transport.pump(self.spool)
                elif running >= self._next_heartbeat:
                    self.save()
                if running >= self._next_heartbeat:
                    self._next_heartbeat = running + self.cfg.heartbeat_interval_s
            self.transport.wake.wait(max(next_sample - self.platform.clocks().running, 0.01))
            self.transport.wake.clear()
        self.shutdown()

    def shutdown(self) -> None:
        """Clean stop: close the timeline, spool a last report, mark the stop clean."""
        self.step()
        self.report()
        self.state.clean_stop = True
        self.save(durable=True)
        self.transport.flush(self.spool, 3.0)
        self.transport.stop(clean=True)
        log.info("stopped cleanly; %d report(s) left in the spool", len(self.spool))


def _destination(cfg: AgentConfig, transport: Transport) -> str:
    if isinstance(transport, NoDestination):
        return "nowhere yet (kept in the spool)"
    if cfg.transport == "mqtt":
        m = cfg.mqtt
        tls = "TLS" if m.tls.enabled else "no TLS"
        return f"over MQTT to {m.host}:{m.port} ({tls}, topic {m.topic_prefix}/<id>/report)"
    if cfg.transport == "http":
        return f"over HTTP to {cfg.http.url}"
    return "to standard output (transport: stdout)"
