"""Fleet simulator: N agents through realistic office days, sent as real reports.

Each simulated host lives through the chosen days in Europe/Paris local time: desktops are
switched on at arrival (8:00–9:30) on working days (not on French public holidays), active
with a lunch break, then shut down at departure (17:00–18:45), except a configurable share
left on overnight; laptops sleep instead of shutting down; VMs and servers run 24/7 with
working-hours load; some machines reboot uncleanly. The timeline is cut into reports the way
the agent does (every 5 minutes while up, at once on boot and wake) and sent through the real
transports (MQTT QoS 1 or HTTP POST).

The simulator knows the ground truth: seconds per state per host per local day, and every
segment with its CPU use, so tests can check the collector's ledger against it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from collector.compliance.calendar import Calendar
from collector.compliance.settings import CalendarConfig, build_calendar
from energy_common.schema import Host, Report, Segment, encode_report, format_time

PARIS = ZoneInfo("Europe/Paris")
SITES = ("hotel-de-ville", "mediatheque", "centre-technique", "dsi")
DEPARTMENTS = ("DSI", "RH", "Finances", "Urbanisme", "Culture", "Voirie")


@dataclass
class SimHost:
    agent_id: str
    hostname: str
    kind: str
    site: str
    department: str
    model: str
    cpus: int
    memory_bytes: int
    manufactured: str
    left_on: bool  # desktops: left on overnight on this host's bad nights
    segments: list[Segment] = field(default_factory=list)
    # the policy's actions: (time, advise | active, the period's day, off-hours seconds the
    # machine slept that it would have spent on)
    actions: list[tuple[float, str, str, float]] = field(default_factory=list)


@dataclass
class SimConfig:
    agents: int = 50
    days: int = 2
    seed: int = 1
    left_on_share: float = 0.2  # share of desktops left on overnight
    laptop_share: float = 0.3
    vm_share: float = 0.1
    reboot_share: float = 0.05  # chance per host-day of an unclean reboot mid-day
    report_interval_s: int = 300
    end: float | None = None  # simulated period ends here (default: now, rounded down)
    seq_start: int = 0  # first report sequence number (a fleet going on from earlier runs)
    # an off-hours sleep policy by phases: (first local day YYYY-MM-DD, advise | active | off),
    # judged on the default calendar; the agent acts `policy_delay_s` after a window opens
    policy_phases: tuple[tuple[str, str], ...] = ()
    policy_delay_s: float = 2100.0  # idle 30 min + warning 5 min


def _ms(t: float) -> float:
    return round(t, 3)


class Simulation:
    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        end = cfg.end if cfg.end is not None else float(int(time.time()) // 60 * 60 - 60)
        self.end = end
        end_day = datetime.fromtimestamp(end, PARIS).date()
        self.first_day = end_day - timedelta(days=cfg.days)
        self.start = datetime.combine(self.first_day, dtime(0), PARIS).timestamp()
        self._holiday_cache: dict[int, set[date]] = {}
        self.hosts = [self._make_host(i) for i in range(cfg.agents)]
        for h in self.hosts:
            self._live(h)
        if cfg.policy_phases:
            self.calendar = build_calendar(CalendarConfig())
            for h in self.hosts:
                self._apply_policy(h)

    # -- hosts -------------------------------------------------------------------------------

    def _make_host(self, i: int) -> SimHost:
        r = self.rng
        x = r.random()
        kind = (
            "vm"
            if x < self.cfg.vm_share
            else "laptop"
            if x < self.cfg.vm_share + self.cfg.laptop_share
            else "desktop"
        )
        model = {
            "vm": "QEMU Standard PC",
            "laptop": "Dell Inc. Latitude 5420",
            "desktop": r.choice(("Dell Inc. OptiPlex 7080", "HP EliteDesk 800 G6")),
        }[kind]
        return SimHost(
            agent_id=str(uuid.UUID(int=r.getrandbits(128), version=4)),
            hostname=f"{'VM' if kind == 'vm' else 'PC'}-{i:05d}",
            kind=kind,
            site=r.choice(SITES),
            department=r.choice(DEPARTMENTS),
            model=model,
            cpus=r.choice((2, 4, 8)),
            memory_bytes=r.choice((8, 16, 32)) << 30,
            manufactured=f"{r.randint(2015, 2024)}-{r.randint(1, 12):02d}",
            left_on=kind == "desktop" and r.random() < self.cfg.left_on_share,
        )

    def _add(
        self,
        h: SimHost,
        end: float,
        state: str,
        util: float | None = None,
        clean: bool | None = None,
    ) -> None:
        start = h.segments[-1].end if h.segments else self.start
        end = _ms(min(end, self.end))
        if end <= start:
            return
        h.segments.append(
            Segment(
                start, end, state, clean=clean, cpu_util=None if util is None else round(util, 4)
            )
        )

    def _holidays(self, year: int) -> set[date]:
        if year not in self._holiday_cache:
            import holidays

            self._holiday_cache[year] = set(holidays.country_holidays("FR", years=year))
        return self._holiday_cache[year]

    def _local(self, d: date, hours: float) -> float:
        return datetime.combine(d, dtime(0), PARIS).timestamp() + hours * 3600

    def _live(self, h: SimHost) -> None:
        r = self.rng
        d = self.first_day
        # what the host does after the last segment added: after leaving work it is its
        # night state, not the "active" of the day that just ended
        after: tuple[str, float | None, bool | None] | None = None
        while True:
            if self._local(d, 0) >= self.end:
                break
            # staff stay home on weekends and French public holidays, as the city does
            weekend = d.weekday() >= 5 or d in self._holidays(d.year)
            if h.kind == "vm":
                for _a, b, u in (
                    (0, 7.5, 0.03),
                    (7.5, 12, 0.35),
                    (12, 14, 0.15),
                    (14, 18.5, 0.3),
                    (18.5, 24, 0.04),
                ):
                    busy = u if not weekend else 0.03
                    self._add(
                        h,
                        self._local(d, b),
                        "active" if busy > 0.25 else "idle",
                        busy + r.uniform(0, 0.02),
                    )
            elif weekend:
                overnight = (
                    "idle"
                    if (h.kind == "desktop" and h.left_on)
                    else "suspended"
                    if h.kind == "laptop"
                    else "off"
                )
                self._add(
                    h,
                    self._local(d, 24),
                    overnight,
                    0.02 if overnight == "idle" else None,
                    True if overnight == "off" else None,
                )
            else:
                arrive = r.uniform(8.0, 9.5)
                lunch = r.uniform(12.0, 12.75)
                back = lunch + r.uniform(0.75, 1.25)
                leave = r.uniform(17.0, 18.75)
                night = (
                    "idle"
                    if (h.kind == "desktop" and h.left_on)
                    else "suspended"
                    if h.kind == "laptop"
                    else "off"
                )
                self._add(
                    h,
                    self._local(d, arrive),
                    night,
                    0.02 if night == "idle" else None,
                    True if night == "off" else None,
                )
                self._add(h, self._local(d, lunch - 0.1), "active", r.uniform(0.08, 0.3))
                self._add(h, self._local(d, lunch), "idle", r.uniform(0.01, 0.04))
                lunch_state = "suspended" if h.kind == "laptop" else "idle"
                self._add(
                    h,
                    self._local(d, back),
                    lunch_state,
                    None if lunch_state == "suspended" else r.uniform(0.01, 0.04),
                )
                if r.random() < self.cfg.reboot_share:
                    crash = r.uniform(back + 0.5, leave - 0.5)
                    self._add(h, self._local(d, crash), "active", r.uniform(0.08, 0.3))
                    self._add(h, self._local(d, crash) + r.uniform(60, 240), "off", None, False)
                self._add(h, self._local(d, leave), "active", r.uniform(0.08, 0.3))
                after = (
                    night,
                    0.02 if night == "idle" else None,
                    True if night == "off" else None,
                )
            if h.kind == "vm" or weekend:
                after = None
            d += timedelta(days=1)
        # close the day that contains `end` up to `end` (the loop already stops at it): with
        # what the host is doing then, never by stretching its last segment (a simulation
        # run in the evening made every PC active from its departure until now)
        if h.segments and h.segments[-1].end < self.end:
            last = h.segments[-1]
            state, util, clean = after or (last.state, last.cpu_util, last.clean)
            self._add(h, self.end, state, util, clean)

    def _phase(self, day: str) -> str:
        mode = "off"
        for first, m in sorted(self.cfg.policy_phases):
            if day >= first:
                mode = m
        return mode

    def _apply_policy(self, h: SimHost) -> None:
        """Where a machine is still on (idle) when the policy would act: advise notes it;
        active puts it to sleep until it is next used (the morning's arrival)."""
        if h.kind == "vm":
            return  # exempt from every policy (servers, VMs)
        cal = self.calendar
        seen: set[float] = set()
        for part in cal.parts(self.start, self.end):
            p = part.period
            if p.start in seen:
                continue
            seen.add(p.start)
            mode = self._phase(p.day)
            at = _ms(p.start + cal.grace_s + self.cfg.policy_delay_s)
            if mode == "off" or at >= min(p.end, self.end):
                continue
            i = next((k for k, x in enumerate(h.segments) if x.start <= at < x.end), None)
            if i is None or h.segments[i].state != "idle":
                continue
            # the idle run from `at` to the next use
            j = i
            while j + 1 < len(h.segments) and h.segments[j + 1].state == "idle":
                j += 1
            run_end = h.segments[j].end
            saved = min(run_end, p.end) - at
            h.actions.append((at, mode, p.day, saved))
            if mode != "active":
                continue
            first = h.segments[i]
            head = [Segment(first.start, at, "idle", first.clean, first.cpu_util)]
            if first.start >= at:
                head = []
            h.segments[i : j + 1] = [*head, Segment(at, run_end, "suspended")]

    # -- ground truth ------------------------------------------------------------------------

    def truth_seconds(self) -> dict[str, dict[str, dict[str, float]]]:
        """agent_id → local day → state → seconds, from the true timelines."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for h in self.hosts:
            days = out.setdefault(h.agent_id, {})
            for s in h.segments:
                t = s.start
                while t < s.end:
                    d = datetime.fromtimestamp(t, PARIS).date()
                    nxt = datetime.combine(d + timedelta(days=1), dtime(0), PARIS).timestamp()
                    b = min(s.end, nxt)
                    per = days.setdefault(d.isoformat(), {})
                    per[s.state] = per.get(s.state, 0.0) + (b - t)
                    t = b
        return out

    def truth_offhours(
        self,
        calendar: Calendar,
        exempt_kinds: tuple[str, ...] = ("vm",),
    ) -> dict[str, dict[float, float]]:
        """agent_id → off-hours period start → seconds on outside grace and maintenance,
        from the true timelines (not from the reports)."""
        out: dict[str, dict[float, float]] = {}
        for h in self.hosts:
            if h.kind in exempt_kinds:
                continue
            per = out.setdefault(h.agent_id, {})
            for s in h.segments:
                on = s.state in ("active", "idle", "unknown")
                for part in calendar.parts(s.start, s.end):
                    counted = (part.end - part.start - part.excused) if on else 0.0
                    per[part.period.start] = per.get(part.period.start, 0.0) + counted
        return out

    # -- reports -----------------------------------------------------------------------------

    def _cuts(self, h: SimHost) -> list[tuple[float, list[Segment], float]]:
        """(send time, segments, boot time) per report, cut the way the agent cuts them."""
        reports = []
        pending: list[Segment] = []
        boot = self.start - 3600
        next_tick = self.start
        for s in h.segments:
            if s.state == "off":
                boot = s.end
            t = s.start
            while t < s.end:
                on = s.state in ("active", "idle", "unknown")
                cut = min(s.end, next_tick) if on else s.end
                if cut > t:
                    pending.append(Segment(t, _ms(cut), s.state, s.clean, s.cpu_util))
                t = _ms(cut)
                if on and t >= next_tick:
                    if pending:
                        reports.append((t, pending, boot))
                        pending = []
                    next_tick = t + self.cfg.report_interval_s
            if s.state in ("off", "suspended") and s.end < self.end:
                # woken or booted: the agent reports at once, including the sleep/off span
                reports.append((s.end, pending, boot))
                pending = []
                next_tick = s.end + self.cfg.report_interval_s
        if pending:
            reports.append((pending[-1].end, pending, boot))
        return reports

    def reports(self) -> Iterator[tuple[float, str, int, bytes]]:
        """(sent_at, agent_id, seq, payload) for every report of every host, in time order."""
        streams = []
        for h in self.hosts:
            host = Host(
                hostname=h.hostname,
                kind=h.kind,
                model=h.model,
                os="Windows 11 Pro",
                site=h.site,
                department=h.department,
                manufactured=h.manufactured,
                cpus=h.cpus,
                memory_bytes=h.memory_bytes,
            )
            items = []
            actions = sorted(h.actions)
            prev = -1.0
            for seq, (sent, segs, boot) in enumerate(self._cuts(h), start=self.cfg.seq_start):
                mine = [a for a in actions if prev < a[0] <= segs[-1].end] if segs else []
                prev = segs[-1].end if segs else prev
                policy: dict[str, Any] | None = None
                if self.cfg.policy_phases:
                    events: dict[str, int] = {}
                    for _, mode, _, _ in mine:
                        for ev in ("warned", "acted") if mode == "active" else ("advised",):
                            events[ev] = events.get(ev, 0) + 1
                    policy = {
                        "version": "sim",
                        "mode": self._phase(datetime.fromtimestamp(sent, PARIS).date().isoformat()),
                    }
                    if events:
                        policy["events"] = events
                        policy["actions"] = [
                            {"at": format_time(at), "action": "sleep", "mode": mode}
                            for at, mode, _, _ in mine
                        ]
                # machines left on at night usually have a reason: an application says so
                blockers = ({"app": "Teams.exe", "what": "display:process"},) if h.left_on else ()
                rep = Report(
                    agent_id=h.agent_id,
                    seq=seq,
                    sent_at=sent,
                    host=host,
                    boot_time=boot,
                    segments=tuple(segs),
                    agent_version="sim",
                    sleep_blockers=blockers,
                    policy=policy,
                )
                items.append((sent, h.agent_id, seq, rep))
            streams.append(items)
        merged = sorted((x for s in streams for x in s), key=lambda x: (x[0], x[1]))
        for sent, aid, seq, rep in merged:
            yield sent, aid, seq, encode_report(rep)

    def summary(self) -> dict[str, object]:
        return {
            "agents": len(self.hosts),
            "start": self.start,
            "end": self.end,
            "kinds": {k: sum(h.kind == k for h in self.hosts) for k in ("desktop", "laptop", "vm")},
        }


# -- sending --------------------------------------------------------------------------------


def send_http(
    payloads: Iterator[bytes], url: str, token: str | None = None, workers: int = 8
) -> int:
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def post(body: bytes) -> int:
        req = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for attempt in range(10):
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return int(exc.code)  # the collector's verdict: not worth a retry
                time.sleep(0.2 * (attempt + 1))
            except OSError:
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"could not deliver a report to {url}")

    with ThreadPoolExecutor(workers) as pool:
        return sum(1 for _ in pool.map(post, payloads))


def send_mqtt(
    payloads: Iterator[tuple[str, bytes]],
    host: str,
    port: int,
    prefix: str = "energy/v1/agents",
    window: int = 100,
) -> int:
    """Publish at QoS 1, keeping at most `window` unacknowledged: paho slows down with large
    windows (about 10,700 msg/s at 100, 2,700 at 5,000 here) and refuses past 65,535."""
    import threading

    import paho.mqtt.client as mqtt

    c = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"energy-simulator-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    c.max_inflight_messages_set(min(window, 65535))
    c.max_queued_messages_set(0)
    sem = threading.Semaphore(window)
    acked = [0]

    def on_publish(client: object, userdata: object, mid: int, rc: object, props: object) -> None:
        acked[0] += 1
        sem.release()

    c.on_publish = on_publish
    c.connect(host, port)
    c.loop_start()
    n = 0
    for agent_id, body in payloads:
        sem.acquire()
        c.publish(f"{prefix}/{agent_id}/report", body, qos=1)
        n += 1
    deadline = time.monotonic() + 120
    while acked[0] < n and time.monotonic() < deadline:
        time.sleep(0.01)
    c.disconnect()
    c.loop_stop()
    return n


def paced(
    reports: Iterator[tuple[float, str, int, bytes]], speed: float, start: float
) -> Iterator[tuple[float, str, int, bytes]]:
    """Release reports on a compressed clock: `speed` simulated seconds per real second
    (0: as fast as the collector takes them)."""
    t0 = time.monotonic()
    for item in reports:
        if speed > 0:
            delay = t0 + (item[0] - start) / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield item


def progress(
    items: Iterator[tuple[float, str, int, bytes]],
    start: float,
    end: float,
    every_s: float = 10.0,
    out: Any = None,
) -> Iterator[tuple[float, str, int, bytes]]:
    """Pass items through, saying every `every_s` how far the run is (reports sent, the
    simulated time reached and its share of the period) on stderr."""
    out = out or sys.stderr
    next_at = time.monotonic() + every_s
    for n, item in enumerate(items, start=1):
        if time.monotonic() >= next_at:
            share = (item[0] - start) / max(end - start, 1e-9)
            when = datetime.fromtimestamp(item[0], PARIS).strftime("%Y-%m-%d %H:%M")
            print(f"simulate: {n} reports sent, simulated time {when} ({share:.0%})", file=out)
            out.flush()
            next_at = time.monotonic() + every_s
        yield item


def year_config(year: int, **kw: Any) -> SimConfig:
    """A whole calendar year (Europe/Paris), 1 January to 31 December."""
    end = datetime.combine(date(year + 1, 1, 1), dtime(0), PARIS).timestamp()
    return SimConfig(days=(date(year + 1, 1, 1) - date(year, 1, 1)).days, end=end, **kw)


def datacenter_readings(
    year: int, n: int, seed: int = 1, until: float | None = None
) -> list[dict[str, Any]]:
    """Monthly meter readings of n datacenters over a year, as utility bills and sub-meter
    rounds give them: one `facility` (the site's meter) and one `it` meter each, IT load
    steady with a little noise, cooling heavier in summer (PUE 1.3-2.0). Only months that
    have ended by `until` (default now): there is no bill for time that has not happened."""
    until = time.time() if until is None else until
    r = random.Random(seed)
    rows = []
    for i in range(n):
        dc = f"dc{i + 1}"
        it_kw = r.choice((40.0, 60.0, 90.0))
        base_pue = r.uniform(1.35, 1.6)
        for m in range(1, 13):
            first = date(year, m, 1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            a = datetime.combine(first, dtime(0), PARIS).timestamp()
            b = datetime.combine(nxt, dtime(0), PARIS).timestamp()
            hours = (b - a) / 3600
            it = round(it_kw * hours * r.uniform(0.97, 1.03), 1)
            summer = 0.25 if m in (6, 7, 8) else 0.1 if m in (5, 9) else 0.0
            fac = round(it * (base_pue + summer), 1)
            if b > until:
                continue  # drawn all the same, so a month's figures never depend on `until`
            for meter, role, kwh in ((f"{dc}-it", "it", it), (f"{dc}-site", "facility", fac)):
                rows.append(
                    {
                        "meter": meter,
                        "datacenter": dc,
                        "role": role,
                        "start": first.isoformat(),
                        "end": nxt.isoformat(),
                        "kwh": kwh,
                        "site": "dsi",
                    }
                )
    return rows


def readings_csv(rows: list[dict[str, Any]]) -> str:
    cols = ("meter", "datacenter", "role", "start", "end", "kwh", "site")
    return "\n".join([",".join(cols)] + [",".join(str(x[c]) for c in cols) for x in rows]) + "\n"


def main(args: argparse.Namespace) -> int:
    """`energy-collector simulate`: run a fleet against a collector and save the truth."""
    common = {
        "agents": args.agents,
        "seed": args.seed,
        "left_on_share": args.left_on,
        "report_interval_s": args.interval,
        "seq_start": args.seq_start,
    }
    cfg = year_config(args.year, **common) if args.year else SimConfig(days=args.days, **common)
    if args.datacenters:
        if not args.readings:
            print("simulate: --datacenters needs --readings FILE", file=sys.stderr)
            return 2
        year = args.year or datetime.now(PARIS).year
        with open(args.readings, "w") as f:
            f.write(readings_csv(datacenter_readings(year, args.datacenters, args.seed)))
        print(f"simulate: {args.datacenters} datacenter(s) of {year} written to {args.readings}")
    sim = Simulation(cfg)
    t0 = time.monotonic()
    stream = progress(paced(sim.reports(), args.speed, sim.start), sim.start, sim.end)
    if args.mqtt:
        mhost, _, mport = args.mqtt.partition(":")
        n = send_mqtt(((aid, body) for _, aid, _, body in stream), mhost, int(mport or 1883))
    else:
        n = send_http((body for _, _, _, body in stream), args.url, args.token)
    dt = time.monotonic() - t0
    print(
        f"simulate: {n} reports from {cfg.agents} agents over {cfg.days} day(s) sent in "
        f"{dt:.1f} s ({n / max(dt, 1e-9):.0f}/s)"
    )
    if args.truth:
        with open(args.truth, "w") as f:
            json.dump({"summary": sim.summary(), "seconds": sim.truth_seconds()}, f)
    return 0
