"""Wake for maintenance: scheduled, throttled wake-ups through per-subnet wake proxies.

Routers do not forward broadcasts, so a magic packet must start on the target's own LAN. The
agents report their interfaces (MAC, IPv4/prefix) in the report's `wake` field, kept in the
ledger's `hosts.wake`. For each target of a job the collector picks, on the target's subnet,
up to `proxies_per_subnet` agents that are awake now (on, reported within `proxy_fresh_s`,
not announced gone by their MQTT Last Will) and asks them to send the packet: a message on
their MQTT ack topic (only the collector may write there), or for HTTP agents the answer to
their next report. Proxies are chosen afresh for every target, so one that went to sleep
meanwhile is simply not asked again (fail-over). Where no agent is awake on a subnet, the
collector may send a subnet-directed broadcast itself (`wake.directed_broadcast`).

Targets are woken one after another at `rate_per_minute`, never faster: a building's
power supply and switches see a trickle, not a surge.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from collector.policy.documents import matches
from collector.policy.settings import parse_at
from collector.records import Entity
from energy_common.wol import WOL_PORT, magic_packet

if TYPE_CHECKING:
    from collector.ledger import Ledger
    from collector.metrics import Fleet
    from collector.policy.settings import WakeConfig, WakeJobConfig

log = logging.getLogger("energy_collector.wake")

AWAKE = ("active", "idle")


@dataclass(frozen=True)
class Target:
    host_id: str
    mac: str
    subnet: str


@dataclass
class RunResult:
    job: str
    targets: int = 0
    proxied: int = 0  # targets whose packet at least one proxy was asked to send
    directed: int = 0  # sent by the collector as a subnet-directed broadcast
    unreachable: int = 0  # no awake agent on the subnet, no directed broadcast
    started: float = 0.0
    sent_at: tuple[float, ...] = ()  # when each target's request left (throttling)
    woken: int = 0  # targets that reported after the job started (known at the retry)
    retried: int = 0  # targets asked again, through other proxies where there were some


class Waker:
    """Chooses targets and proxies and sends the requests, at the job's rate."""

    def __init__(
        self,
        cfg: WakeConfig,
        ledger: Ledger,
        fleet: Fleet,
        publish: Callable[[str, dict[str, Any]], bool] | None,
        timezone: str = "Europe/Paris",
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.fleet = fleet
        self.publish = publish  # (agent id, message) → sent on its MQTT ack topic
        self.tz = ZoneInfo(timezone)
        self.mqtt_agents: set[str] = set()  # agents seen on MQTT (else: HTTP pick-up)
        self._pending: dict[str, list[dict[str, Any]]] = {}  # HTTP agents' requests
        self._lock = threading.Lock()
        self.runs: list[RunResult] = []
        self._stop = threading.Event()
        self.sent_total: dict[tuple[str, str], int] = {}  # (job, via) → count, for /metrics

    # -- who is where --------------------------------------------------------------------------
    def hosts(self) -> list[dict[str, Any]]:
        rows = self.ledger.execute(
            "SELECT host_id, kind, site, department, tags, last_state, last_seen, wake "
            "FROM hosts WHERE wake IS NOT NULL"
        )
        out = []
        for hid, kind, site, dept, tags, state, seen, wake in rows:
            try:
                facts = json.loads(wake)
                tag_map = json.loads(tags) if tags else {}
            except ValueError:
                continue
            out.append(
                {
                    "id": hid,
                    "kind": kind,
                    "site": site,
                    "department": dept,
                    "tags": tag_map,
                    "last_state": state,
                    "last_seen": float(seen),
                    "interfaces": facts.get("interfaces") or [],
                    "facts": facts,
                }
            )
        return out

    def targets(self, job: WakeJobConfig, hosts: list[dict[str, Any]], now: float) -> list[Target]:

        awake = self._awake(now)
        out = []
        for h in hosts:
            e = Entity(
                h["id"], "", h["kind"], site=h["site"], department=h["department"], tags=h["tags"]
            )
            if h["id"] in awake or not matches(e, job.sites, job.departments, job.kinds, job.tags):
                continue
            for i in h["interfaces"]:
                try:
                    net = ipaddress.IPv4Interface(str(i["ipv4"])).network
                    out.append(Target(h["id"], str(i["mac"]), str(net)))
                    break
                except (KeyError, ValueError):
                    continue
        return sorted(out, key=lambda t: (t.subnet, t.host_id))

    def _awake(self, now: float) -> set[str]:
        return {
            hid
            for hid, view, state in self.fleet.snapshot(now)
            if state in AWAKE and now - view.last_end <= self.cfg.proxy_fresh_s
        }

    def proxies(self, subnet: str, hosts: list[dict[str, Any]], now: float) -> list[str]:
        """Awake agents on `subnet`, the most recently heard first."""
        awake = self._awake(now)
        net = ipaddress.IPv4Network(subnet)
        found = []
        for h in hosts:
            if h["id"] not in awake:
                continue
            for i in h["interfaces"]:
                try:
                    if ipaddress.IPv4Interface(str(i["ipv4"])).network == net:
                        found.append((-h["last_seen"], h["id"]))
                        break
                except (KeyError, ValueError):
                    continue
        return [hid for _, hid in sorted(found)]

    # -- sending ---------------------------------------------------------------------------------
    def run(self, job: WakeJobConfig, stop: threading.Event | None = None) -> RunResult:
        """Wake the job's targets now, one every 60/rate_per_minute seconds; after
        `retry_after_s`, ask again for those that have not reported since, through other
        proxies where there are some."""
        stop = stop or self._stop
        now = time.time()
        targets = self.targets(job, self.hosts(), now)
        res = RunResult(job.name, len(targets), started=now)
        log.info(
            "wake %s: %d machine(s) to wake at %.1f/min",
            job.name,
            len(targets),
            job.rate_per_minute,
        )
        asked = self._pass(job, targets, res, stop, {})
        self.runs = [*self.runs[-19:], res]
        log.info(
            "wake %s: %d proxied, %d directed, %d unreachable",
            job.name,
            res.proxied,
            res.directed,
            res.unreachable,
        )
        if self.cfg.retry_after_s <= 0 or not targets or stop.wait(self.cfg.retry_after_s):
            return res
        seen = {h["id"]: h["last_seen"] for h in self.hosts()}
        asleep = [t for t in targets if seen.get(t.host_id, 0.0) < res.started]
        res.woken = len(targets) - len(asleep)
        if asleep:
            res.retried = len(asleep)
            log.info("wake %s: %d machine(s) did not report; asking again", job.name, len(asleep))
            self._pass(job, asleep, res, stop, asked, retry=True)
        return res

    def _pass(
        self,
        job: WakeJobConfig,
        targets: list[Target],
        res: RunResult,
        stop: threading.Event,
        asked_before: dict[str, set[str]],
        retry: bool = False,
    ) -> dict[str, set[str]]:
        """One request per target at the job's rate; returns who was asked for whom."""
        gap = 60.0 / job.rate_per_minute
        sent: list[float] = []
        asked: dict[str, set[str]] = {}
        hosts = self.hosts()  # interfaces: the ledger's, read once; awake: the fleet, live
        next_at = time.monotonic()
        for t in targets:
            delay = next_at - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            next_at = max(next_at + gap, time.monotonic())
            # proxies chosen afresh for each target: one that fell asleep is not asked; on a
            # retry, the ones not asked the first time come first
            found = [p for p in self.proxies(t.subnet, hosts, time.time()) if p != t.host_id]
            before = asked_before.get(t.host_id, set())
            fresh = [p for p in found if p not in before]
            chosen = (fresh or found)[: self.cfg.proxies_per_subnet]
            request = {"mac": t.mac, "subnet": t.subnet, "job": job.name}
            n = sum(1 for p in chosen if self._ask(p, request))
            asked[t.host_id] = set(chosen)
            sent.append(time.time())
            if retry:
                self._count(job.name, "retry" if n else "unreachable")
            elif n:
                res.proxied += 1
                self._count(job.name, "proxy")
            elif self.cfg.directed_broadcast and self._directed(t):
                res.directed += 1
                self._count(job.name, "directed")
            else:
                res.unreachable += 1
                self._count(job.name, "unreachable")
                log.warning(
                    "wake %s: no awake agent on %s to wake %s", job.name, t.subnet, t.host_id
                )
        if not retry:
            res.sent_at = tuple(sent)
        return asked

    def stop(self) -> None:
        """Interrupt a job waiting between packets or before its retry (collector stop)."""
        self._stop.set()

    def _count(self, job: str, via: str) -> None:
        with self._lock:
            self.sent_total[(job, via)] = self.sent_total.get((job, via), 0) + 1

    def _ask(self, proxy: str, request: dict[str, Any]) -> bool:
        if proxy in self.mqtt_agents and self.publish is not None:
            return self.publish(proxy, {"acks": [], "wake": [request]})
        with self._lock:
            queue = self._pending.setdefault(proxy, [])
            if len(queue) < 256:
                queue.append(request)
        return True

    def take_pending(self, agent_id: str) -> list[dict[str, Any]]:
        """Requests waiting for an HTTP agent's next report."""
        with self._lock:
            return self._pending.pop(agent_id, [])

    def _directed(self, t: Target) -> bool:
        dest = str(ipaddress.IPv4Network(t.subnet).broadcast_address)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                s.sendto(magic_packet(t.mac), (dest, WOL_PORT))
            return True
        except (OSError, ValueError) as exc:
            log.warning("wake: directed broadcast to %s failed: %s", dest, exc)
            return False

    # -- schedule -----------------------------------------------------------------------------
    def schedule(self, scheduler: Any) -> None:
        for job in self.cfg.jobs:
            spec = parse_at(job.at, "wake.jobs.at")
            trigger = spec.pop("trigger")
            if trigger == "date":
                when = spec["run_date"]
                spec["run_date"] = when if when.tzinfo else when.replace(tzinfo=self.tz)
            else:
                spec["timezone"] = self.tz
            scheduler.add_job(
                self.run,
                trigger,
                args=(job,),
                id=f"wake-{job.name}",
                max_instances=1,
                misfire_grace_time=600,
                **spec,
            )
