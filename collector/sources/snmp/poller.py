"""Polls SNMP devices on a schedule: asyncio, a concurrency limit, per-device timeout and
retries, exponential backoff for dead devices, so one slow or dead device never delays the
others. Each cycle's readings are timestamped at the poll and written in one ledger
transaction through the meter spine (collector/meters/): energy registers (resets, glitches,
wraps: no negative energy), power integrated only where a row has no register (labelled
estimated). Counters, outlets' last power and time-series lines follow the commit. While the
ledger is down the polls are kept and committed, in order, with a later cycle: the schedule
never waits for the ledger, so a server's power keeps every interval.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from collector.isolation import IsolatingCommitter
from collector.ledger import Ledger
from collector.lineprotocol import tag as _tag
from collector.meters.accounting import MeterBatch, account
from collector.meters.registers import FieldSpec
from collector.meters.store import MeterFacts
from collector.model.carbon import CarbonModel
from collector.sources.snmp import detection, interfaces
from collector.sources.snmp.client import Client, SnmpError, Target
from collector.sources.snmp.interfaces import CounterState
from collector.sources.snmp.live import day_indicators, live_power
from collector.sources.snmp.metrics import SnmpMetrics
from collector.sources.snmp.network_models import NetworkModels
from collector.sources.snmp.polls import Poll, mapped, outlet_role
from collector.sources.snmp.profiles import (
    Profile,
    Row,
    load_profiles,
    rows,
    status_readings,
)
from collector.sources.snmp.reboots import (
    SYS_DESCR,
    SYS_OBJECT_ID,
    SYS_UPTIME,
    RebootWatch,
    system_group,
)
from collector.sources.snmp.settings import SnmpConfig, SnmpDeviceConfig
from collector.sources.snmp.validity import Rejections
from energy_common.configspec import read_secret

log = logging.getLogger("energy_collector.snmp")

ENERGY = FieldSpec("energy", "", "energy_index", "Wh")
POWER = FieldSpec("power", "", "power", "W")


@dataclass
class DeviceState:
    failures: int = 0
    next_try: float = 0.0
    uptime: int | None = None
    profile: Profile | None = None
    counters: dict[tuple[str, str], CounterState] = field(default_factory=dict)
    last_power: dict[str, tuple[float, float]] = field(default_factory=dict)  # mapped outlets
    last_start: float = 0.0  # when its last poll began (per-device intervals)
    last_poll: Poll | None = None  # for live totals when devices poll at different times
    unmatched_warned: bool = False
    empty_warned: bool = False  # its profile found no table (said once)


def target(d: SnmpDeviceConfig, where: str = "snmp.devices[]") -> Target:
    """The device's SNMP target, secrets read from their files (ConfigError names a file
    that cannot be read)."""
    return Target(
        d.host,
        d.port,
        d.version,
        read_secret(d.community, d.community_file, f"{where}.community_file") or "",
        d.user,
        d.auth_protocol,
        read_secret(d.auth_key, d.auth_key_file, f"{where}.auth_key_file"),
        d.priv_protocol,
        read_secret(d.priv_key, d.priv_key_file, f"{where}.priv_key_file"),
        d.context,
        d.timeout_s,
        d.retries,
        d.max_repetitions,
        d.stack,
    )


class Poller:
    def __init__(
        self,
        cfg: SnmpConfig,
        ledger: Ledger,
        registry: CollectorRegistry,
        profiles: dict[str, Profile] | None = None,
        carbon: CarbonModel | None = None,
        tsdb_lines: Callable[[list[str]], None] | None = None,
        tz: str = "Europe/Paris",
        pue_coverage_min: float = 0.9,
    ) -> None:
        self.cfg = cfg
        # each side's share of the day a PUE needs (the collector's compliance.coverage_min)
        self.pue_coverage_min = pue_coverage_min
        self.tz = ZoneInfo(tz)
        self.carbon = carbon
        self.tsdb_lines = tsdb_lines
        self.ledger = ledger
        self.metrics = SnmpMetrics(registry)
        self.rejections = Rejections(registry)
        self.reboots = RebootWatch(registry)
        self.network_models = NetworkModels(
            cfg.network_models, registry, None, cfg.network_powered_by
        )
        self.profiles = profiles or load_profiles()
        self.client = Client()
        self.state: dict[str, DeviceState] = {d.name: DeviceState() for d in cfg.devices}
        # secrets read once, at start: a missing file stops the collector with its name
        self.targets = {d.name: target(d, f"snmp.devices[{i}]") for i, d in enumerate(cfg.devices)}
        self._stop = threading.Event()
        self.committer = IsolatingCommitter(ledger.healthy, self._ledger_down, self._stop)
        self.deferred: list[Poll] = []  # polls not yet committed: the ledger was down
        self.max_deferred = max(1000, 100 * len(cfg.devices))
        # pysnmp binds its transport to the loop it first runs on: one loop for all cycles
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="snmp", daemon=True)

    # -- one device ------------------------------------------------------------------------

    def pick_profile(self, d: SnmpDeviceConfig, oid: str | None, descr: str | None) -> Profile:
        if d.profile:
            return self.profiles[d.profile]
        choice = detection.by_identity(self.profiles.values(), oid, descr)
        if choice.profile is not None:
            return choice.profile
        raise SnmpError("garbage", f"{d.name}: no profile for sysObjectID {oid!r}")

    async def probe_profile(self, d: SnmpDeviceConfig, tgt: Target, oid: str | None) -> Profile:
        """No profile claims the device: ask, in one GETBULK of one row, which MIBs it
        speaks (detection.py)."""
        probes = detection.probe_oids(self.profiles.values())
        found = await detection.answered_probes(self.client, tgt, probes)
        choice = detection.by_probes(self.profiles.values(), found)
        if choice.profile is not None:
            log.info(
                "snmp: %s: sysObjectID %s: profile %s: %s",
                d.name,
                oid,
                choice.profile.name,
                choice.why,
            )
            return choice.profile
        raise SnmpError(
            "garbage",
            f"{d.name}: no profile for sysObjectID {oid!r} and none of the MIBs probed "
            "(UPS-MIB, ENTITY-SENSOR-MIB, POWER-ETHERNET-MIB, vendor MIBs); set `profile:` or "
            "add one (docs/snmp-profiles.md; `energy-collector snmp probe` shows what it "
            "answers)",
        )

    async def _other_profile(
        self, d: SnmpDeviceConfig, tgt: Target, current: Profile
    ) -> Profile | None:
        """The profile the device's MIBs fit when the one its sysObjectID chose found no
        table (a vendor's prefix over a product line speaking another MIB), else None."""
        try:
            found = await self.probe_profile(d, tgt, None)
        except SnmpError:
            return None
        return found if found is not current else None

    async def poll_device(self, d: SnmpDeviceConfig) -> Poll:
        st = self.state.setdefault(d.name, DeviceState())
        t0 = time.monotonic()
        tgt = self.targets.get(d.name) or target(d)
        sysinfo = await system_group(self.client, tgt)
        uptime = self.reboots.uptime(d.name, sysinfo.get(SYS_UPTIME))
        if st.profile is None:
            oid, descr = sysinfo.get(SYS_OBJECT_ID), sysinfo.get(SYS_DESCR)
            try:
                st.profile = self.pick_profile(d, oid, descr)
                how = "forced in the config" if d.profile else f"sysObjectID {oid}"
            except SnmpError:
                st.profile = await self.probe_profile(d, tgt, oid)
                how = "standard MIBs it answers"
            log.info("snmp: %s: profile %s (%s)", d.name, st.profile.name, how)
            self.metrics.profile.labels(d.name, st.profile.name).set(1)
        rebooted = st.uptime is not None and uptime is not None and uptime < st.uptime
        poll = Poll(d, time.time(), rebooted=rebooted)
        st.uptime = uptime
        done_groups: set[str] = set()
        for table in st.profile.tables:
            if table.group and table.group in done_groups:
                continue
            walked = await self.client.walk_columns(tgt, table.walk_roots())
            found = rows(table, walked)
            if found and table.group:
                done_groups.add(table.group)
            poll.rows.extend(found)
        poll.rows = self.rejections.screen(d.name, poll.rows, self.cfg.max_power_w)
        poll.rows += await self.network_models.rows(
            d.name, self.client, tgt, st.profile, sysinfo, poll.rows, d.powered_by
        )
        if d.powered_by == "poe":  # fed by a switch's PoE: all of it is inside that switch's
            poll.rows = [replace(r, breakdown=True) if r.account else r for r in poll.rows]
        if not poll.rows and st.profile.tables and not st.empty_warned:
            # a profile (forced, most often) whose tables the device does not have
            st.empty_warned = True
            other = None if d.profile else await self._other_profile(d, tgt, st.profile)
            if other is not None:  # claimed by a vendor prefix, speaking another MIB
                log.warning(
                    "snmp: %s: profile %s found none of its tables; the device answers "
                    "%s: profile %s from the next poll",
                    d.name,
                    st.profile.name,
                    other.mib,
                    other.name,
                )
                self.metrics.profile.labels(d.name, st.profile.name).set(0)
                self.metrics.profile.labels(d.name, other.name).set(1)
                st.profile, st.empty_warned = other, False
            else:
                log.warning(
                    "snmp: %s: profile %s found none of its tables; check snmp.devices[].profile",
                    d.name,
                    st.profile.name,
                )
        self.metrics.rows.labels(d.name).set(len(poll.rows))
        if st.profile.status:
            scalars = [x.oid for x in st.profile.status if not x.column]
            got = await self.client.get(tgt, scalars) if scalars else {}
            columns = [x.oid for x in st.profile.status if x.column]
            if columns:
                got.update(await self.client.walk_columns(tgt, columns))
            poll.status = status_readings(st.profile.status, got)
        if st.profile.interfaces:
            poll.ports = interfaces.ports(await self.client.walk_columns(tgt, interfaces.ROOTS))
        poll.time = time.time()  # readings are stamped at the end of the device's walk
        self.metrics.duration.labels(d.name).set(time.monotonic() - t0)
        return poll

    # -- a cycle ---------------------------------------------------------------------------

    def interval(self, d: SnmpDeviceConfig) -> float:
        return d.interval_s or self.cfg.interval_s

    def tick(self) -> float:
        """The scheduler's period: the shortest device interval."""
        return min([self.cfg.interval_s, *(self.interval(d) for d in self.cfg.devices)])

    async def cycle(self, due_only: bool = False) -> list[Poll]:
        """Poll every device (but those backing off), or with `due_only` those whose own
        interval has come (the scheduled loop)."""
        t0 = time.monotonic()
        sem = asyncio.Semaphore(self.cfg.concurrency)
        now = time.time()
        slack = self.tick() / 2  # a device due within half a tick goes now, not a tick late

        async def one(d: SnmpDeviceConfig) -> Poll | None:
            st = self.state.setdefault(d.name, DeviceState())
            if now < st.next_try:
                return None  # backing off a dead device
            if due_only and now < st.last_start + self.interval(d) - slack:
                return None
            st.last_start = now
            async with sem:
                try:
                    poll = await self.poll_device(d)
                except Exception as exc:  # SnmpError, or a bug: this device only
                    if not isinstance(exc, SnmpError):
                        log.exception("snmp: %s: poll failed", d.name)
                        exc = SnmpError("internal", f"{type(exc).__name__}: {exc}")
                    st.failures += 1
                    delay = min(self.interval(d) * 2 ** (st.failures - 1), self.cfg.backoff_max_s)
                    st.next_try = time.time() + delay
                    self.metrics.errors.labels(d.name, exc.reason).inc()
                    self.metrics.up.labels(d.name).set(0)
                    log.warning("snmp: %s: %s (next try in %.0f s)", d.name, exc, delay)
                    return None
            st.failures = 0
            st.next_try = 0.0
            self.metrics.up.labels(d.name).set(1)
            return poll

        results = await asyncio.gather(*(one(d) for d in self.cfg.devices))
        polls = [p for p in results if p is not None]
        lines: list[str] = []
        self.account(polls, lines)
        for poll in polls:
            self.state[poll.device.name].last_poll = poll
        live_power(self.metrics, self._latest())
        if not self.committer.down:  # today's figures come from the ledger
            try:
                day_indicators(
                    self.metrics, self.ledger, self.cfg.devices, self.tz, self.pue_coverage_min
                )
            except Exception as exc:
                log.warning("snmp: today's PUE not updated: %s", exc)
        self._interfaces(polls, lines)
        self._status(polls, lines)
        if lines and self.tsdb_lines is not None:
            self.tsdb_lines(lines)
        self.metrics.cycle.set(time.monotonic() - t0)
        return polls

    def status(self) -> dict[str, dict[str, Any]]:
        """The datacenter side for `energy-collector status`: per datacenter, devices and how
        many answer, live IT and facility power (today's PUE: collector/datacenter/view.py)."""
        out: dict[str, dict[str, Any]] = {}
        for d in self.cfg.devices:
            if not d.datacenter:
                continue
            dc = out.setdefault(d.datacenter, {"devices": 0, "up": 0})
            dc["devices"] += 1
            st = self.state.get(d.name, DeviceState())
            dc["up"] += st.last_poll is not None and st.failures == 0  # its last poll answered
            if d.name in self.reboots.degraded:
                dc.setdefault("no_sysuptime", []).append(d.name)
        for name, dc in out.items():
            for role in ("it", "facility"):
                dc[f"{role}_w"] = round(self.metrics.dc_power.labels(name, role)._value.get(), 1)
        return out

    def _latest(self) -> list[Poll]:
        """Every device's last good poll, if recent (3 of its intervals): live totals add
        up all devices, not only those polled this tick."""
        now = time.time()
        out = []
        for d in self.cfg.devices:
            last = self.state[d.name].last_poll if d.name in self.state else None
            if last is not None and now - last.time <= 3 * self.interval(d):
                out.append(last)
        return out

    def _status(self, polls: list[Poll], lines: list[str]) -> None:
        for poll in polls:
            d = poll.device
            for spec, index, value in poll.status:
                self.metrics.status.labels(d.name, spec.name, index).set(value)
                for code, state in spec.states:
                    self.metrics.state.labels(d.name, spec.name, index, state).set(
                        1 if value == code else 0
                    )
                lines.append(
                    f"energy_snmp_status,device={_tag(d.name)},reading={_tag(spec.name)},"
                    f"index={_tag(index)},datacenter={_tag(d.datacenter or '')} "
                    f"value={value:.6g} {round(poll.time * 1000)}"
                )

    def _interfaces(self, polls: list[Poll], lines: list[str]) -> None:
        for poll in polls:
            d = poll.device
            st = self.state[d.name]
            for port in poll.ports:
                m = self.metrics
                m.if_up.labels(d.name, port.name).set(1 if port.status == "up" else 0)
                if port.speed_bps is not None:
                    m.if_speed.labels(d.name, port.name).set(port.speed_bps)
                fields = [f"up={1 if port.status == 'up' else 0}"]
                if port.speed_bps is not None:
                    fields.append(f"speed_bps={port.speed_bps:.6g}")
                for direction, value in (("in", port.in_octets), ("out", port.out_octets)):
                    cs = st.counters.setdefault((port.index, direction), CounterState())
                    had = cs.value is not None
                    delta = interfaces.advance(
                        cs,
                        value,
                        poll.time,
                        port.wrap,
                        port.discontinuity,
                        poll.rebooted,
                        port.speed_bps,
                    )
                    if delta is None:
                        if had and value is not None:
                            m.if_segments.labels(d.name).inc()
                        continue
                    m.if_octets.labels(d.name, port.name, direction).inc(delta)
                    fields.append(f"{direction}_octets={delta}")
                lines.append(
                    f"energy_snmp_if,device={_tag(d.name)},interface={_tag(port.name)},"
                    f"datacenter={_tag(d.datacenter or '')} {','.join(fields)} "
                    f"{round(poll.time * 1000)}"
                )

    def account(self, polls: list[Poll], lines: list[str] | None = None) -> None:
        """Store the polls' readings (and those an unavailable ledger left over, first), one
        device's failure isolated from the others'. Never waits for a ledger that is down:
        what it could not commit is kept for the next cycle."""
        todo = self.deferred + polls

        def commit(chunk: Sequence[Poll]) -> None:
            _, batch = account(self.ledger, lambda b: self._fill(b, chunk))
            if lines is not None:
                lines.extend(batch.lines)

        def poison(poll: Poll, exc: Exception) -> None:
            self.metrics.errors.labels(poll.device.name, "ledger").inc()
            log.error(
                "snmp: %s: readings refused (%s: %s); the other devices are stored",
                poll.device.name,
                type(exc).__name__,
                str(exc)[:200],
            )

        _, left = self.committer.attempt(todo, commit, poison)
        if len(left) > self.max_deferred:
            log.error(
                "snmp: ledger down: %d old poll(s) dropped, %d kept",
                len(left) - self.max_deferred,
                self.max_deferred,
            )
            left = left[-self.max_deferred :]
        self.deferred = left

    def _ledger_down(self, exc: Exception, delay: float) -> None:
        log.error(
            "snmp: ledger unavailable (%s); %d poll(s) kept for the next cycle",
            exc,
            len(self.deferred),
        )

    def _fill(self, batch: MeterBatch, polls: Sequence[Poll]) -> None:
        # outlets' last power as this batch moves it; the devices' own state follows the commit
        power: dict[tuple[str, str], tuple[float, float]] = {}
        for poll in polls:
            self._poll_rows(batch, poll, power)

        def moved() -> None:
            for (device, outlet), reading in power.items():
                self.state[device].last_power[outlet] = reading

        batch.after(moved)

    def _poll_rows(
        self, batch: MeterBatch, poll: Poll, power: dict[tuple[str, str], tuple[float, float]]
    ) -> None:
        d = poll.device
        dst = self.state[d.name]
        matched: set[str] = set()
        dc = d.datacenter or ""
        profile_name = dst.profile.name if dst.profile is not None else ""
        base = (
            f"energy_snmp,device={_tag(d.name)},datacenter={_tag(dc)},room={_tag(d.room or '')},"
            f"rack={_tag(d.rack or '')}"
        )
        stamp = round(poll.time * 1000)
        lines = batch.lines
        m = self.metrics
        for row in poll.rows:
            label = row.label or row.index
            name = f"{d.name}:{row.table}:{row.index}"
            fields: list[str] = []
            key, server = mapped(d.outlets, row)
            if server is not None:
                matched.add(key)
                self._server_power(batch, power, server, name, poll, row)
            if row.power_w is not None:
                m.power.labels(d.name, row.table, row.index, label, d.role, dc).set(row.power_w)
                fields.append(f"watts={row.power_w:.6g}")
            use_register = row.energy_wh is not None
            if not row.account or (not use_register and row.power_w is None):
                if fields:
                    lines.append(
                        f"{base},table={_tag(row.table)},index={_tag(row.index)},"
                        f"label={_tag(label)},role={_tag(d.role)},estimated=0,accounted=0 "
                        f"{fields[0]} {stamp}"
                    )
                continue
            spec = ENERGY if use_register else POWER
            if use_register and row.energy_wrap_wh:
                spec = FieldSpec("energy", "", "energy_index", "Wh", wrap_at=row.energy_wrap_wh)
            value = row.energy_wh if use_register else row.power_w
            assert value is not None
            # a breakdown row keeps its own role so a PUE never adds it to the total; an
            # outlet feeding something else takes that role, carved out of the total
            own_role = outlet_role(d, row)
            role = own_role or (f"{d.role}:{row.table}" if row.breakdown else d.role)
            res = batch.step(
                spec,
                name,
                poll.time,
                value,
                self.cfg.max_power_w,
                3 * self.interval(d),
                restarted=poll.rebooted,
            )
            if res.note not in ("ok", "first"):
                batch.count(m.register_events, (d.name, res.note))
            if res.note in ("reset", "rebase"):
                log.warning(
                    "snmp: %s: register %s restarted lower (%s): new segment at %.0f Wh",
                    d.name,
                    name,
                    res.note,
                    value,
                )
            if res.end > res.start and res.note in ("ok", "wrap", "reset", "rebase"):
                # a flat register (coarse resolution) is a valid reading: it covers its time
                batch.spread(name, res)
                fields.append(f"wh={res.wh:.6g}")
            if res.end > res.start and res.wh > 0:
                batch.count(
                    m.energy,
                    (
                        d.name,
                        row.table,
                        role,
                        dc,
                        "0" if use_register else "1",
                        str(d.category) if role == "it" else "",
                    ),
                    res.wh,
                )
                if self.carbon is not None:
                    kg, basis = self.carbon.kg(res.wh / 1000, res.start, res.end)
                    batch.count(m.co2e, (d.name, row.table, role, dc, basis), kg * 1000)
            if fields:
                lines.append(
                    f"{base},table={_tag(row.table)},index={_tag(row.index)},"
                    f"label={_tag(label)},role={_tag(role)},"
                    f"estimated={0 if use_register else 1},accounted=1 {','.join(fields)} {stamp}"
                )
            batch.fact(
                MeterFacts(
                    name,
                    d.name,
                    d.site,
                    d.datacenter,
                    role,
                    label,
                    profile_name,
                    row.table,
                    not use_register,
                    # an outlet carved out of an IT total keeps that total's category
                    d.category if d.role == "it" and (not row.breakdown or own_role) else None,
                    d.room,
                    server,
                    d.role if own_role else None,
                )
            )
        unmatched = sorted(set(d.outlets) - matched)
        if unmatched and poll.rows and not dst.unmatched_warned:
            dst.unmatched_warned = True  # once per run: a typo in config, or a renamed outlet
            log.warning(
                "snmp: %s: outlets %s (snmp.devices[].outlets) match no row of the device",
                d.name,
                ", ".join(unmatched),
            )
        m.unmatched.labels(d.name).set(len(unmatched))

    def _server_power(
        self,
        batch: MeterBatch,
        power: dict[tuple[str, str], tuple[float, float]],
        server: str,
        outlet: str,
        poll: Poll,
        row: Row,
    ) -> None:
        if row.power_w is None:
            return
        d = poll.device
        prev = power.get((d.name, outlet)) or self.state[d.name].last_power.get(outlet)
        power[(d.name, outlet)] = (poll.time, row.power_w)
        if prev is not None and 0 < poll.time - prev[0] <= 3 * self.interval(d):
            batch.integrate(server, outlet, prev[0], prev[1], poll.time, row.power_w)

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        log.info(
            "snmp: polling %d device(s) every %.0f s (%s)",
            len(self.cfg.devices),
            self.tick(),
            ", ".join(f"{d.name}@{d.host}" for d in self.cfg.devices[:10])
            + (" …" if len(self.cfg.devices) > 10 else ""),
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.close()

    def close(self) -> None:
        """Release the SNMP transport and the event loop (no pending tasks left behind)."""
        if self._loop.is_closed():
            return
        try:
            self.client.close()
            if self.client.engine.transport_dispatcher is not None:
                self.client.engine.close_dispatcher()
        except Exception:  # closing must never fail a shutdown
            log.debug("snmp: closing the dispatcher failed", exc_info=True)
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    def run_cycle(self, due_only: bool = False) -> list[Poll]:
        """One cycle, synchronously, on the poller's own event loop."""
        return self._loop.run_until_complete(self.cycle(due_only))

    def _run(self) -> None:
        tick = self.tick()
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.run_cycle(due_only=True)
            except Exception:
                log.exception("snmp: cycle failed")
            self._stop.wait(max(tick - (time.monotonic() - t0), 0.1))
