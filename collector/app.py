"""Wires the collector together from its configuration and runs it.

sources (HTTP, MQTT) → pipeline (validate, normalise, account) → ledger + sinks + /metrics,
with APScheduler for the periodic work: daily rollups, retention, carbon series reload.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from collector import hosts
from collector.accounting import Accountant
from collector.compliance.calendar import Calendar
from collector.compliance.delivery import Deliverer
from collector.compliance.live import ComplianceGauges
from collector.compliance.periods import Compliance
from collector.compliance.report import (
    Rules,
    host_verdicts,
    last_night,
    morning_report,
)
from collector.compliance.routes import rates_route, report_route
from collector.compliance.settings import build_calendars
from collector.config import CollectorConfig
from collector.datacenter.hostpower import AttributionCounts, HostPower
from collector.datacenter.routes import eu_route, pue_route
from collector.datacenter.view import DatacenterGauges, datacenter_view, energy_today_kwh
from collector.inventory.metrics import InventoryMetrics
from collector.inventory.sync import sync as inventory_sync
from collector.ledger import Ledger
from collector.metrics import REJECTION_REASONS, Fleet, HostView, Metrics
from collector.model.carbon import CarbonModel, load_eco2mix
from collector.model.energy import Hypervisor, embodied_kg_per_day
from collector.model.profiles import ProfileBook
from collector.policy.documents import Policies
from collector.policy.savings import PolicyMetrics
from collector.policy.wake import Waker
from collector.records import RecordBatch
from collector.sinks.sink import Sink
from collector.sources.agents.pipeline import Pipeline
from collector.sources.lorawan.calibration import Calibration, plug_calibration
from collector.sources.lorawan.processor import LoraProcessor
from collector.sources.snmp.poller import Poller
from collector.web.auth import Auth
from collector.web.enrolment import Credentials, dynsec_for
from collector.web.routes import build_app
from collector.web.server import WebServer
from energy_common.configspec import ConfigError, read_secret
from energy_common.schema import Limits, parse_time

log = logging.getLogger("energy_collector")


def freeze_startup_heap() -> None:
    """What start-up built (modules, configuration, profiles, calendars: ~100,000 objects)
    lives as long as the process: frozen, the cyclic collector's full collections stop walking
    it again and again (they took ~14 of ~90 µs per agent report; with it frozen, under 1 µs:
    `bench/inprocess_cpu.py` prints the collector's time per report either way). Garbage made
    later is collected as before."""
    gc.collect()
    gc.freeze()


class Collector:
    def __init__(self, cfg: CollectorConfig, clock: Callable[[], float] = time.time) -> None:
        """`clock`: what "now" is for every figure the collector shows (pages, API, /metrics,
        `status`); tests give a fixed one to read the surfaces at chosen times of day."""
        self.cfg = cfg
        self.clock = clock
        self.state_dir = Path(cfg.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.tz = ZoneInfo(cfg.ledger.timezone)
        self.book = ProfileBook.load(cfg.profiles_path())
        self.carbon = CarbonModel(cfg.carbon.static_kg_per_kwh, cfg.carbon.static_basis)
        self._carbon_mtime = 0.0
        self.reload_carbon()
        hypervisors = {
            h.name: Hypervisor(h.name, h.cpus, h.idle_w, h.max_w) for h in cfg.model.hypervisors
        }
        self.compliance: Compliance | None = None
        self.calendars: dict[str, Calendar] = {}
        if cfg.compliance.enabled:
            cc = cfg.compliance
            self.calendars = build_calendars(cc)
            self.compliance = Compliance(
                self.calendars,
                cc.default_calendar,
                dict(cc.sites),
                dict(cc.departments),
                list(cc.exempt_kinds),
                list(cc.exempt_tags),
                cc.tariff_eur_per_kwh,
                self.carbon,
            )
        self.ledger = Ledger(cfg.ledger.url)
        self.accountant = Accountant(
            self.book,
            self.carbon,
            cfg.ledger.timezone,
            hypervisors,
            dict(cfg.model.vm_hosts),
            self.compliance,
            HostPower(self.ledger, dict(cfg.model.vm_hosts)) if hypervisors else None,
        )
        self.fleet = Fleet(cfg.stale_after_s, cfg.validation.duplicate_identity_min_s, clock)
        lc = cfg.labels
        self.metrics = Metrics(
            self.fleet,
            [*lc.sites, *cfg.compliance.sites],
            [*lc.departments, *cfg.compliance.departments],
            lc.max_values,
            lc.max_blocker_apps,
        )
        if self.accountant.host_power is not None:
            self.metrics.registry.register(AttributionCounts(self.accountant.attribution))
        self.gauges: ComplianceGauges | None = None
        self.deliverer: Deliverer | None = None
        if self.compliance is not None:
            self.gauges = ComplianceGauges(
                self.fleet,
                self.compliance,
                sorted(cfg.compliance.sites),
                self.metrics.site,
                self.metrics.department,
            )
            self.metrics.registry.register(self.gauges)
            self.deliverer = Deliverer(cfg.compliance.report)
        self.sinks: list[Sink] = []
        self.tsdb = None
        if cfg.tsdb.enabled:
            from collector.sinks.tsdb import TsdbSink

            self.tsdb = TsdbSink(cfg.tsdb, self.state_dir, self.metrics)
            self.sinks.append(self.tsdb)
        limits = Limits(
            clock_skew_s=cfg.validation.clock_skew_s,
            max_span_s=cfg.validation.max_span_days * 86400,
            max_energy_w=cfg.validation.max_power_w,
            min_time=parse_time(cfg.validation.min_time),
        )
        self.pipeline = Pipeline(
            self.ledger,
            self.accountant,
            self.metrics,
            self.fleet,
            limits,
            self.sinks,
            cfg.ledger.batch_max,
            cfg.ledger.batch_wait_s,
        )
        h = cfg.http
        auth = Auth(
            read_secret(h.token, h.token_file, "http.token_file"),
            read_secret(h.read_token, h.read_token_file, "http.read_token_file"),
        )
        en = cfg.enrolment
        self.credentials = Credentials(
            self.ledger,
            [
                x
                for x in (
                    read_secret(None, en.secret_file, "enrolment.secret_file")
                    if en.secret_file
                    else None,
                    read_secret(None, en.previous_secret_file, "enrolment.previous_secret_file")
                    if en.previous_secret_file
                    else None,
                )
                if x
            ],
            dynsec_for(cfg),
        )
        self.pages = None
        self.ops_token_path: Path | None = None
        if cfg.web.enabled:
            from collector.web.pages import Pages
            from collector.web.session import OpsLogin, ops_passphrase

            passphrase, self.ops_token_path = ops_passphrase(
                cfg.web.ops_token_file,
                read_secret(h.read_token, h.read_token_file, "http.read_token_file"),
                self.state_dir,
            )
            login = OpsLogin(
                passphrase, cfg.web.session_hours * 3600, bool(h.tls_cert and h.tls_key)
            )
            self.pages = Pages(self, login)
        web = build_app(
            self.pipeline,
            auth,
            h.max_body_bytes,
            self.status,
            routes={
                "/api/v1/compliance/report": partial(
                    report_route,
                    cfg.compliance,
                    self.calendars,
                    self.clock,
                    self.morning_report if self.compliance is not None else None,
                ),
                "/api/v1/compliance/rates": partial(rates_route, self.ledger, self.rules),
                "/api/v1/datacenter/pue": partial(
                    pue_route,
                    self.ledger,
                    cfg.ledger.timezone,
                    cfg.compliance.coverage_min,
                    self.clock,
                ),
                "/api/v1/datacenter/eu-report": partial(
                    eu_route,
                    self.ledger,
                    list(cfg.datacenter_years),
                    cfg.ledger.timezone,
                    cfg.compliance.coverage_min,
                    self.clock,
                ),
            },
            body_timeout_s=h.body_timeout_s,
            credentials=self.credentials,
            pages=self.pages.routes() if self.pages is not None else None,
            html_error=self.pages.error if self.pages is not None else None,
        )
        tls = (h.tls_cert, h.tls_key) if h.tls_cert and h.tls_key else None
        self.http = WebServer(
            web, h.listen, h.port, tls, h.max_connections, h.keepalive_s, h.header_timeout_s
        )
        self.lora: LoraProcessor | None = None
        self.lora_mqtt = None
        if cfg.lorawan.enabled:
            from collector.sources.lorawan.mqtt import LoraMqtt

            self.lora = LoraProcessor(
                cfg.lorawan,
                self.ledger,
                self.metrics.registry,
                cfg.ledger.timezone,
                self.tsdb.write_lines if self.tsdb else None,
            )
            self.lora_mqtt = LoraMqtt(cfg.lorawan, self.lora)
        self.snmp = Poller(
            cfg.snmp,
            self.ledger,
            self.metrics.registry,
            carbon=self.carbon,
            tsdb_lines=self.tsdb.write_lines if self.tsdb else None,
            tz=cfg.ledger.timezone,
            pue_coverage_min=cfg.compliance.coverage_min,
        )
        self.metrics.registry.register(DatacenterGauges(self.datacenter_view))
        self.mqtt = None
        if cfg.mqtt.enabled:
            from collector.sources.agents.mqtt import MqttIngest

            self.mqtt = MqttIngest(cfg.mqtt, self.pipeline, self.fleet, self.metrics)
        self.policies: Policies | None = None
        self.waker: Waker | None = None
        if cfg.policy.enabled:
            if self.compliance is None:
                raise ConfigError("policy.enabled: needs compliance.enabled (its calendars)")
            self.policies = Policies(cfg.policy, self.compliance)
            self.waker = Waker(
                cfg.policy.wake,
                self.ledger,
                self.fleet,
                self.mqtt.publish_control if self.mqtt is not None else None,
                cfg.ledger.timezone,
            )
            if self.mqtt is not None:
                self.mqtt.on_sender = self.waker.mqtt_agents.add
            self.pipeline.control = self._control
        self.policy_metrics = PolicyMetrics(
            self.ledger, cfg.policy, cfg.compliance.tariff_eur_per_kwh, self.waker
        )
        self.metrics.registry.register(self.policy_metrics)
        self.inventory_metrics: InventoryMetrics | None = None
        if cfg.inventory.enabled:
            self.inventory_metrics = InventoryMetrics(self.ledger, cfg.inventory, self.book)
            self.metrics.registry.register(self.inventory_metrics)
        self.scheduler: Any = None
        self._stop = threading.Event()
        self._hydrate_fleet()

    def _control(self, batch: RecordBatch, now: float) -> dict[str, Any] | None:
        """What the answer to this agent's report carries: a policy it does not hold yet,
        wake requests waiting for it (HTTP agents; MQTT ones get them at once)."""
        if batch.source != "agent" or self.policies is None or self.waker is None:
            return None
        out: dict[str, Any] = {}
        doc = self.policies.control_for(batch.entity, batch.policy, now)
        if doc is not None:
            out["policy"] = doc
        if batch.entity.id not in self.waker.mqtt_agents:
            pending = self.waker.take_pending(batch.entity.id)
            if pending:
                out["wake"] = pending
        return out or None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.pipeline.start()
        if self.tsdb is not None:
            self.tsdb.start()
        self.http.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.lora is not None and self.lora_mqtt is not None:
            self.lora.start()
            self.lora_mqtt.start()
        if self.cfg.snmp.enabled:
            self.snmp.start()
        elif self.cfg.snmp.devices:
            log.warning(
                "snmp: %d device(s) configured but snmp.enabled is false: none is polled",
                len(self.cfg.snmp.devices),
            )
        self._start_scheduler()
        log.info(
            "collector: HTTP on %s:%d (POST /api/v1/reports, GET /metrics, "
            "/api/v1/status); ledger %s; MQTT %s; TSDB %s",
            self.cfg.http.listen,
            self.http.port,
            _redact(self.cfg.ledger.url),
            "on" if self.mqtt else "off",
            "on" if self.tsdb else "off",
        )
        if self.pages is not None:
            scheme = "https" if self.http.tls else "http"
            log.info(
                "web view: %s://%s:%d/ (%s; ops login passphrase %s)",
                scheme,
                self.cfg.http.listen,
                self.http.port,
                "pages without host names open" if self.cfg.web.public else "login required",
                f"in {self.ops_token_path}" if self.ops_token_path else "as configured",
            )

    def stop(self) -> None:
        if self.waker is not None:
            self.waker.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.lora is not None and self.lora_mqtt is not None:
            self.lora_mqtt.stop()
            self.lora.stop()
        if self.cfg.snmp.enabled:
            self.snmp.stop()
        else:
            self.snmp.close()
        self.http.stop()
        self.pipeline.stop()
        if self.tsdb is not None:
            self.tsdb.stop()
        self.ledger.close()

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        freeze_startup_heap()
        self.start()
        self._stop.wait()
        log.info("collector: stopping")
        self.stop()

    # -- periodic work -----------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        # APScheduler says INFO for every run of every job (~2,900 lines a day): jobs log
        # what they did themselves; the scheduler's own warnings and errors stay
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)

        s = BackgroundScheduler(
            timezone=self.tz, job_defaults={"coalesce": True, "misfire_grace_time": 3600}
        )
        # weekdays are named, never numbered: APScheduler counts 0 as Monday, cron as Sunday
        s.add_job(self.rollup_yesterday, "cron", hour=0, minute=15, id="rollup")
        s.add_job(self.rollup_today, "interval", minutes=15, id="rollup-today")
        s.add_job(self.rollup_touched, "interval", minutes=5, id="rollup-late")
        s.add_job(self.purge, "cron", hour=3, minute=0, id="retention")
        s.add_job(self.reload_carbon, "interval", minutes=10, id="carbon-reload")
        s.add_job(self.log_stale, "interval", minutes=1, id="stale-hosts")
        if self.lora is not None:
            s.add_job(self.lora.refresh_gateways, "interval", minutes=1, id="lora-gateways")
            s.add_job(
                self.refresh_calibration,
                "interval",
                hours=1,
                id="plug-calibration",
                next_run_time=datetime.now(self.tz),
            )
        if self.compliance is not None:
            cc = self.cfg.compliance
            cal = self.calendars[cc.default_calendar]
            hh, mm = (int(x) for x in cc.report.time.split(":"))
            # weekdays by name: APScheduler counts 0 as Monday, cron as Sunday
            s.add_job(
                self.send_morning_report,
                "cron",
                day_of_week="mon-fri",
                hour=hh,
                minute=mm,
                timezone=cal.tz,
                id="morning-report",
            )
            s.add_job(
                self.refresh_compliance,
                "interval",
                minutes=5,
                id="compliance-gauges",
                next_run_time=datetime.now(self.tz),
            )
        if self.waker is not None:
            self.waker.schedule(s)
        if self.inventory_metrics is not None:
            s.add_job(
                self.sync_inventory,
                "interval",
                minutes=self.cfg.inventory.interval_minutes,
                id="inventory-sync",
                next_run_time=datetime.now(self.tz),
            )
            s.add_job(self.refresh_inventory, "interval", hours=1, id="inventory-figures")
        s.start()
        self.scheduler = s

    def sync_inventory(self) -> None:
        """The scheduled sync: GLPI's changes, the agents' files and CSVs, then the figures."""
        inventory_sync(self.cfg.inventory, self.ledger)
        self.refresh_inventory()

    def refresh_inventory(self) -> None:
        if self.inventory_metrics is not None:
            self.inventory_metrics.refresh(datetime.now(self.tz).date())

    def local_day(self, offset_days: int = 0) -> str:
        today = datetime.fromtimestamp(self.clock(), self.tz).date()
        return (today + timedelta(days=offset_days)).isoformat()

    def embodied_by_host(self) -> dict[str, float]:
        return {
            hid: embodied_kg_per_day(self.book.profile_for(kind, model, tags))
            for hid, kind, model, tags in hosts.host_facts(self.ledger)
        }

    def rollup_yesterday(self) -> None:
        n = self.ledger.rollup_day(self.local_day(-1), self.embodied_by_host())
        log.info("rollup: %s → %d groups", self.local_day(-1), n)

    def rollup_today(self) -> None:
        self.ledger.rollup_day(self.local_day(0), self.embodied_by_host())

    def rollup_touched(self) -> None:
        """Every local day an accepted report added to since the last run, however old: a PC
        off over a weekend, an agent offline for days, a backfilled fleet. `fleet_days` is
        recomputed from `host_days`, so rolling a day again is always safe."""
        days = self.pipeline.take_touched_days()
        if not days:
            return
        done = 0
        try:
            embodied = self.embodied_by_host()
            for day in days:
                self.ledger.rollup_day(day, embodied)
                done += 1
        except Exception:
            self.pipeline.retouch(days[done:])  # the next run tries these again
            raise
        late = [d for d in days if d < self.local_day(-1)]
        if late:
            log.info(
                "rollup: %d day(s) again for late reports (%s … %s)", len(late), late[0], late[-1]
            )

    def purge(self) -> None:
        n = self.ledger.purge_processed(time.time() - self.cfg.ledger.retention_days * 86400)
        log.info("retention: purged %d processed-report keys", n)

    def reload_carbon(self) -> None:
        path = self.cfg.carbon.hourly_file
        if not path:
            return
        mtime = Path(path).stat().st_mtime
        if mtime == self._carbon_mtime:
            return
        self.carbon.hourly = load_eco2mix(path)
        self._carbon_mtime = mtime
        log.info("carbon: %d hourly values loaded from %s", len(self.carbon.hourly), path)

    def log_stale(self) -> None:
        silent = sum(1 for _, _, state in self.fleet.snapshot() if state == "unknown")  # now
        if silent:
            log.info("fleet: %d agent(s) silent or vanished", silent)

    # -- compliance ------------------------------------------------------------------------

    def rules(self) -> Rules:
        cc = self.cfg.compliance
        return Rules(
            cc.tolerance_s, cc.coverage_min, cc.repeat_offender_periods, cc.tariff_eur_per_kwh
        )

    def morning_report(
        self, at: float | None = None, language: str | None = None
    ) -> dict[str, Any]:
        assert self.compliance is not None
        return morning_report(
            self.ledger,
            self.compliance,
            self.rules(),
            self.clock() if at is None else at,
            language or self.cfg.compliance.report.language,
            duplicate_min_s=self.cfg.validation.duplicate_identity_min_s,
            policy=self.cfg.policy,
        )

    def send_morning_report(self) -> None:
        """The scheduled job: on working days of the default calendar only."""
        assert self.compliance is not None and self.deliverer is not None
        cal = self.calendars[self.cfg.compliance.default_calendar]
        now = self.clock()
        today = datetime.fromtimestamp(now, cal.tz).date()
        if cal.span(today) is None:
            log.info("morning report: %s is not a working day, nothing sent", today)
            return
        running = cal.period_at(now)
        if running is not None and self.scheduler is not None:
            # the night is not over (report time before the working day starts): the report
            # is about last night, so it goes out when that night ends
            self.scheduler.add_job(
                self.send_morning_report,
                "date",
                run_date=datetime.fromtimestamp(running.end + 1, cal.tz),
                id="morning-report-at-day-start",
                replace_existing=True,
            )
            return
        self.deliverer.deliver(self.morning_report(now))

    def refresh_compliance(self) -> None:
        if self.compliance is None or self.gauges is None:
            return
        self.policy_metrics.refresh()
        self.gauges.set_report(
            host_verdicts(self.ledger, self.compliance, self.rules(), self.clock())
        )

    def refresh_calibration(self) -> list[Calibration]:
        """Smart plugs against their hosts' modelled energy over the last 7 full days."""
        if self.lora is None:
            return []
        today = datetime.now(self.tz).date()
        cals = plug_calibration(
            self.ledger,
            today - timedelta(days=7),
            today - timedelta(days=1),
            self.cfg.ledger.timezone,
        )
        for cal in cals:
            if cal.ratio is not None:
                self.lora.metrics.calibration.labels(cal.host, cal.meter).set(cal.ratio)
        return cals

    # -- views -------------------------------------------------------------------------------

    def _hydrate_fleet(self) -> None:
        for hid, site, dept, kind, state, last_seen, dropped, dup in hosts.host_rows(self.ledger):
            view = HostView(site or "", dept or "", kind, state, 0.0, last_seen)
            view.spool_dropped = int(dropped or 0)
            view.duplicate_s = float(dup or 0.0)
            self.fleet.update(hid, view)

    def datacenter_view(self) -> dict[str, dict[str, Any]]:
        """The one datacenter view (collector/datacenter/view.py) at the collector's now."""
        live = self.snmp.status() if self.cfg.snmp.devices else {}
        return datacenter_view(
            self.ledger,
            self.cfg.ledger.timezone,
            self.clock(),
            live,
            coverage_min=self.cfg.compliance.coverage_min,
        )

    def status(self) -> dict[str, Any]:
        now = self.clock()
        by_state: dict[str, int] = {}
        power = 0.0
        for _, h, state in self.fleet.snapshot(now):
            by_state[state] = by_state.get(state, 0) + 1
            if state in ("active", "idle"):
                power += h.power_w
        day = self.local_day(0)
        dcs = self.datacenter_view()
        row = hosts.day_totals(self.ledger, day)
        return {
            "hosts": sum(by_state.values()),
            "by_state": by_state,
            # hosts asleep or off stay so until they report again: since when (local time)
            "asleep_since": {
                state: {"earliest": self._local_iso(lo), "latest": self._local_iso(hi)}
                for state, (lo, hi) in sorted(self.fleet.asleep_since(now).items())
            },
            "power_w": round(power, 1),
            "day": day,
            "today_kwh": round(row[0] / 1000, 4),
            "today_kgco2e": round(row[1], 4),
            "hosts_reporting_today": int(row[2]),
            "carbon_basis": self.carbon.static_basis
            if not self.carbon.hourly
            else self.carbon.hourly_basis,
            "ingest": self._ingest_status(),
            "compliance": last_night(self.ledger, self.compliance, self.rules(), now)
            if self.compliance is not None
            else None,
            # agents only (PCs, servers, VMs): the datacenters' meters are apart, never added
            # (servers and VMs run inside them)
            "today_kwh_counts": "agents",
            "today_datacenters_kwh": energy_today_kwh(dcs),
            "datacenters": dcs,
            "duplicate_identities": hosts.duplicate_identities(
                self.ledger, self.cfg.validation.duplicate_identity_min_s
            ),
        }

    def _local_iso(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).isoformat(timespec="seconds")

    def _ingest_status(self) -> dict[str, Any]:
        m = self.metrics
        rejected = {
            reason: int(m.rejections.labels(reason)._value.get()) for reason in REJECTION_REASONS
        }
        dropped = hosts.spool_drops(self.ledger)
        return {
            "ledger": "unavailable" if self.pipeline.committer.down else "ok",
            "queued": self.pipeline.q.qsize(),
            "rejected": {k: v for k, v in rejected.items() if v},
            "agents_with_spool_drops": int(dropped[0]),
            "reports_dropped_by_agents": int(dropped[1]),
            "tsdb_points_pending": self.tsdb.pending if self.tsdb is not None else 0,
        }


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
