"""LoRaWAN messages → meter energy, gateway and network figures, in the ledger and /metrics.

One worker thread takes messages in batches; each batch is one ledger transaction: uplink
keys (ChirpStack v4 `deduplicationId`, The Things Stack correlation id, v3 frame counter and
time) are inserted in `processed` first and only new ones count, so replays and the several
gateways of one uplink change nothing. Meter registers are read from and written back to
`meter_state` in that same transaction (the meter spine, collector/meters/), so a restart (or
another collector on the shared subscription) continues the counters where they were.
Metrics, gateways' last stats and time-series lines follow the commit; MQTT messages are
acknowledged after it.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from collector.isolation import IsolatingCommitter
from collector.ledger import Ledger
from collector.lineprotocol import tag as _tag
from collector.meters.accounting import MeterBatch, account
from collector.meters.store import MeterFacts
from collector.metrics import BoundedLabel
from collector.sources.lorawan import messages as m
from collector.sources.lorawan.metrics import LoraMetrics
from collector.sources.lorawan.resolve import Meter, Resolver
from collector.sources.lorawan.settings import LorawanConfig

log = logging.getLogger("energy_collector.lorawan")

Done = Callable[[str], None]


def _key(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:15], 16)


class LoraProcessor:
    def __init__(
        self,
        cfg: LorawanConfig,
        ledger: Ledger,
        registry: CollectorRegistry,
        tz: str = "Europe/Paris",
        tsdb_lines: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.metrics = LoraMetrics(registry)
        self.tz = ZoneInfo(tz)
        self.tsdb_lines = tsdb_lines
        self.resolver = Resolver(cfg)
        self.by_eui = self.resolver.by_eui
        self.gw_power = {g.id.lower(): g.power_w for g in cfg.gateways}
        self.gw_last_stats: dict[str, float] = {}
        self.gw_online: dict[str, bool] = {}
        self._unknown_logged: set[str] = set()
        self.q: queue.Queue[tuple[str, bytes, Done | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="lorawan", daemon=True)
        self.processed = 0
        self.outcomes: deque[str] = deque(maxlen=10_000)  # the latest results, for status/tests
        # called once per batch, after every message's `done` (MQTT: the batch's PUBACKs)
        self.after_batch: list[Callable[[], None]] = []
        self._last_invalid_log = -1e9
        # label values from the air are bounded: configured ones, then a few more, then `other`
        self.gw_label = BoundedLabel(list(self.gw_power), 100)
        self.dev_label = BoundedLabel(list(self.by_eui), 200)
        self.freq_label = BoundedLabel((), 64)
        self.committer = IsolatingCommitter(ledger.healthy, self._ledger_down)

    def meters_for(self, up: m.Uplink) -> list[Meter]:
        """The meters an uplink feeds: one, or one per channel of a multi-channel device."""
        return self.resolver.meters(up)

    # -- intake --------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def _ledger_down(self, exc: Exception, delay: float) -> None:
        log.error("lorawan: ledger unavailable (%s); retrying in %.1f s", exc, delay)

    def stop(self, timeout: float = 10.0) -> None:
        self.q.put(None)
        self._thread.join(timeout)

    def submit(self, topic: str, payload: bytes, done: Done | None = None) -> None:
        self.q.put((topic, payload, done))

    def _run(self) -> None:
        while True:
            first = self.q.get()
            if first is None:
                return
            items = [first]
            while len(items) < 2000:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)
                    break
                items.append(nxt)
            try:
                self.process(items)
            except Exception:  # process() isolates messages: this is a bug in the loop
                log.exception(
                    "lorawan: %d messages not acknowledged, the broker resends", len(items)
                )

    # -- processing ----------------------------------------------------------------------------

    def classify(self, topic: str, payload: bytes) -> Any:
        parts = topic.split("/")
        if "gateway" in parts:
            i = parts.index("gateway")
            gid = parts[i + 1] if len(parts) > i + 1 else ""
            tail = "/".join(parts[i + 2 :])
            proto = self.cfg.marshaler == "protobuf"
            if tail == "event/stats":
                return m.gateway_stats(m.protobuf_to_json("stats", payload) if proto else payload)
            if tail == "state/conn":
                if proto and payload:
                    payload = m.protobuf_to_json("conn", payload)
                return m.gateway_conn(payload, gid)
            raise m.LoraError("ignored", f"gateway topic {tail}")
        if parts[0] == "v3" and parts[-1] == "up":
            return m.tts_v3_up(payload)
        if parts[0] == "application" and len(parts) >= 6 and parts[-2] == "event":
            kind = parts[-1]
            if self.cfg.marshaler == "protobuf" and kind in ("up", "status"):
                payload = m.protobuf_to_json(kind, payload)
            if kind == "up":
                if b'"deviceInfo"' in payload:
                    return m.chirpstack_v4_up(payload)
                return m.chirpstack_v3_up(payload)
            if kind == "status" and b'"deviceInfo"' in payload:
                return m.chirpstack_v4_status(payload)
            raise m.LoraError("ignored", f"event {kind}")
        raise m.LoraError("ignored", f"topic {topic}")

    def process(self, items: list[tuple[str, bytes, Done | None]]) -> list[str]:
        results: list[str] = ["ok"] * len(items)
        records: list[tuple[int, Any]] = []
        for i, (topic, payload, _) in enumerate(items):
            try:
                records.append((i, self.classify(topic, payload)))
            except m.LoraError as exc:
                results[i] = exc.reason
                self.metrics.rejected.labels(exc.reason).inc()
            except Exception as exc:  # a shape no parser foresaw: this message only
                results[i] = "invalid"
                self.metrics.rejected.labels("invalid").inc()
                self._log_invalid(topic, exc)
        ups = [(i, r) for i, r in records if isinstance(r, m.Uplink)]
        stats = [(i, r) for i, r in records if isinstance(r, m.GatewayStats)]
        for _, r in records:
            if isinstance(r, m.GatewayState):
                self.gw_online[r.gateway_id] = r.online
                self.metrics.gw_up.labels(self.gw_label(r.gateway_id)).set(1 if r.online else 0)
                self.metrics.messages.labels("gateway_state", "ok").inc()
            elif isinstance(r, m.DeviceStatus):
                if r.battery_level is not None:
                    self.metrics.battery.labels(self.dev_label(r.dev_eui)).set(r.battery_level)
                self.metrics.messages.labels("status", "ok").inc()
        work = ups + stats  # what the ledger stores, isolated: one bad message fails alone

        def commit(chunk: Sequence[tuple[int, Any]]) -> None:
            self._commit(
                [(i, r) for i, r in chunk if isinstance(r, m.Uplink)],
                [(i, r) for i, r in chunk if isinstance(r, m.GatewayStats)],
                results,
            )

        def poison(item: tuple[int, Any], exc: Exception) -> None:
            results[item[0]] = "ledger"
            self.metrics.rejected.labels("ledger").inc()
            self._log_invalid(items[item[0]][0], exc)

        self.committer.run(work, commit, poison)
        for (_, _, done), res in zip(items, results, strict=True):
            if done is not None:
                try:
                    done(res)
                except Exception:
                    log.exception("lorawan: acknowledgement failed")
        for hook in self.after_batch:
            try:
                hook()
            except Exception:
                log.exception("lorawan: after-batch hook failed")
        self.outcomes.extend(results)
        self.processed += len(items)
        return results

    def _log_invalid(self, topic: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_invalid_log >= 60:
            self._last_invalid_log = now
            log.warning(
                "lorawan: message on %s rejected (%s: %s); acknowledged, the others go on",
                topic[:120],
                type(exc).__name__,
                str(exc)[:200],
            )

    def _commit(
        self,
        ups: list[tuple[int, m.Uplink]],
        stats: list[tuple[int, m.GatewayStats]],
        results: list[str],
    ) -> None:
        keys = [("lorawan", u.dev_eui, _key(u.dedup_key)) for _, u in ups] + [
            ("lora-gw", s.gateway_id, int(s.time * 1000)) for _, s in stats
        ]
        if not keys:
            return

        def fill(batch: MeterBatch) -> None:
            fresh = batch.tx.claim(keys, time.time())
            seen: set[tuple[str, str, int]] = set()
            new_ups = []
            for i, u in sorted(ups, key=lambda x: x[1].time):
                k = ("lorawan", u.dev_eui, _key(u.dedup_key))
                if k not in fresh or k in seen:
                    results[i] = "duplicate"
                    batch.count(self.metrics.rejected, ("duplicate",))
                    continue
                seen.add(k)
                new_ups.append((i, u))
            new_stats = []
            for i, s in stats:
                k = ("lora-gw", s.gateway_id, int(s.time * 1000))
                if k not in fresh or k in seen:
                    results[i] = "duplicate"
                    batch.count(self.metrics.rejected, ("duplicate",))
                    continue
                seen.add(k)
                new_stats.append(s)
            self._meters(batch, new_ups, results)
            self._gateways(batch, new_stats, [u for _, u in new_ups])

        _, batch = account(self.ledger, fill)
        if batch.lines and self.tsdb_lines is not None:
            self.tsdb_lines(batch.lines)

    def _meters(
        self, batch: MeterBatch, ups: list[tuple[int, m.Uplink]], results: list[str]
    ) -> None:
        g = self.metrics
        count, gauge = batch.count, batch.gauge
        seen: dict[str, Meter] = {}
        for i, u in ups:
            count(g.uplinks, (u.network,))
            gauge(g.last_seen, (self.dev_label(u.dev_eui),), u.time)
            for rx in u.rx:
                gl = self.gw_label(rx.gateway_id)
                if rx.rssi is not None:
                    gauge(g.gw_rssi, (gl,), rx.rssi)
                if rx.snr is not None:
                    gauge(g.gw_snr, (gl,), rx.snr)
            try:
                meters = self.meters_for(u)
            except LookupError as exc:
                results[i] = "no_profile"
                count(g.rejected, ("no_profile",))
                if u.dev_eui not in self._unknown_logged:
                    self._unknown_logged.add(u.dev_eui)
                    log.warning("lorawan: meter %s: %s; set meters[].profile", u.dev_eui, exc)
                continue
            if not meters:
                results[i] = "unknown_device"
                count(g.unknown, ())
                if u.dev_eui not in self._unknown_logged:
                    self._unknown_logged.add(u.dev_eui)
                    log.info(
                        "lorawan: device %s (%s) is not a meter; ignored", u.dev_eui, u.profile
                    )
                continue
            if u.fields is None:
                results[i] = "no_object"
                count(g.rejected, ("no_object",))
                continue
            read = 0
            problems: list[str] = []
            for meter in meters:  # one per channel of a multi-channel device
                value = self._reading(batch, meter, u, problems)
                if value is None:
                    continue
                read += 1
                self._step(batch, meter, u.time, value)
                seen[meter.name] = meter  # the last reading of a batch says its facts
            if not read:
                # a value that is there but unusable says more than one that is absent
                reason = next((p for p in problems if p != "field_missing"), "field_missing")
                results[i] = reason
                count(g.rejected, (reason,))
        for mt in seen.values():
            batch.fact(
                MeterFacts(
                    mt.name,
                    mt.dev_eui,
                    mt.cfg.site,
                    mt.cfg.datacenter,
                    mt.cfg.role,
                    mt.cfg.host,
                    mt.profile,
                    mt.spec.name,
                    not mt.spec.cumulative,
                    mt.cfg.category if mt.cfg.role == "it" else None,
                    mt.cfg.room,
                )
            )

    def _reading(
        self, batch: MeterBatch, meter: Meter, u: m.Uplink, problems: list[str]
    ) -> float | None:
        """The meter's reading in this uplink, or None with the reason counted: absent
        (`field_missing`), not a number (`field_type`), or a value the device cannot mean
        (`field_invalid`: a filler, a negative, above its range or the meter's power)."""
        assert u.fields is not None
        out = meter.reading(u.fields)
        value, problem, detail = out.value, out.problem, out.detail
        if value is not None:
            return value
        if problem != "missing":
            batch.count(self.metrics.meter_events, (meter.name, problem or "invalid"))
            key = f"{meter.name}:{problem}"
            if key not in self._unknown_logged:
                self._unknown_logged.add(key)
                log.warning(
                    "lorawan: meter %s (%s, field %s): %s %s; nothing recorded",
                    meter.name,
                    meter.profile,
                    meter.spec.name,
                    problem,
                    detail,
                )
        problems.append(
            {"missing": "field_missing", "wrong_type": "field_type"}.get(
                problem or "", "field_invalid"
            )
        )
        return None

    def _step(self, batch: MeterBatch, meter: Meter, t: float, value: float) -> None:
        res = batch.step(
            meter.spec, meter.name, t, value, meter.cfg.max_power_w, self.cfg.max_gap_s
        )
        g = self.metrics
        if res.note != "ok":
            batch.count(g.meter_events, (meter.name, res.note))
        if res.note in ("reset", "rebase"):
            log.warning(
                "lorawan: meter %s restarted lower (%s): new segment at %.0f Wh",
                meter.name,
                res.note,
                value,
            )
        batch.count(g.messages, ("uplink", res.note))
        if res.end > res.start:
            batch.spread(meter.name, res)
            est = "1" if res.estimated else "0"
            c = meter.cfg
            batch.count(g.meter_wh, (meter.name, c.site, c.role, est), res.wh)
            batch.gauge(
                g.meter_power, (meter.name, c.site, c.role), res.wh * 3600 / (res.end - res.start)
            )
            batch.lines.append(
                f"energy_meter,meter={_tag(meter.name)},site={_tag(c.site)},"
                f"role={c.role},estimated={est} wh={res.wh:.6g},"
                f"seconds={res.end - res.start:.3f} {int(res.start * 1000)}"
            )

    def _gateways(
        self, batch: MeterBatch, stats: list[m.GatewayStats], ups: list[m.Uplink]
    ) -> None:
        days: dict[tuple[str, str], list[float]] = {}
        last_stats: dict[str, float] = {}  # this batch's; the processor's follow the commit
        for s in sorted(stats, key=lambda x: x.time):
            gid = s.gateway_id
            last = last_stats.get(gid, self.gw_last_stats.get(gid))
            interval = (
                30.0 if last is None else min(max(s.time - last, 0.0), self.cfg.gateway_stale_s)
            )
            last_stats[gid] = max(s.time, last or 0.0)
            power = self.gw_power.get(gid, self.cfg.default_gateway_power_w)
            wh = power * interval / 3600.0
            batch.after(partial(self._gateway_metrics, s, wh))
            day = datetime.fromtimestamp(s.time, self.tz).date().isoformat()
            d = days.setdefault((gid, day), [0, 0, 0, 0.0, 0.0, 0])
            d[0] += s.rx_received
            d[1] += s.rx_ok
            d[2] += s.tx_emitted
            d[3] += interval
            d[4] += wh
        batch.after(lambda: self.gw_last_stats.update(last_stats))
        for u in ups:
            if u.rx:
                day = datetime.fromtimestamp(u.time, self.tz).date().isoformat()
                # one delivered uplink, credited to the gateway that heard it best
                best = max(u.rx, key=lambda r: r.rssi if r.rssi is not None else -999)
                days.setdefault((best.gateway_id, day), [0, 0, 0, 0.0, 0.0, 0])[5] += 1
        if days:
            batch.tx.executemany(
                "INSERT INTO lora_gateway_days VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT (gateway, day) DO UPDATE SET "
                "rx_received = lora_gateway_days.rx_received + excluded.rx_received, "
                "rx_ok = lora_gateway_days.rx_ok + excluded.rx_ok, "
                "tx_emitted = lora_gateway_days.tx_emitted + excluded.tx_emitted, "
                "online_s = lora_gateway_days.online_s + excluded.online_s, "
                "wh = lora_gateway_days.wh + excluded.wh, "
                "uplinks = lora_gateway_days.uplinks + excluded.uplinks",
                [(k[0], k[1], *v) for k, v in sorted(days.items())],
            )

    def _gateway_metrics(self, s: m.GatewayStats, wh: float) -> None:
        g = self.metrics
        gl = self.gw_label(s.gateway_id)
        g.gw_packets.labels(gl, "rx", "received").inc(s.rx_received)
        g.gw_packets.labels(gl, "rx", "ok").inc(s.rx_ok)
        g.gw_packets.labels(gl, "tx", "received").inc(s.tx_received)
        g.gw_packets.labels(gl, "tx", "emitted").inc(s.tx_emitted)
        for f, n in s.rx_per_frequency.items():
            g.gw_freq.labels(gl, self.freq_label(str(f))).inc(n)
        for sf, n in s.rx_per_sf.items():
            g.gw_sf.labels(gl, self.freq_label(str(sf))).inc(n)
        g.gw_energy.labels(gl).inc(wh)
        g.gw_up.labels(gl).set(1 if self.gw_online.get(s.gateway_id, True) else 0)
        g.messages.labels("gateway_stats", "ok").inc()

    def refresh_gateways(self, now: float | None = None) -> None:
        """A gateway whose stats stopped arriving is shown down, whatever state/conn said."""
        now = time.time() if now is None else now
        for gid, last in self.gw_last_stats.items():
            fresh = now - last <= self.cfg.gateway_stale_s
            self.metrics.gw_up.labels(self.gw_label(gid)).set(
                1 if fresh and self.gw_online.get(gid, True) else 0
            )
