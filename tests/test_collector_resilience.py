"""The collector under failure: kill -9 mid-stream, broker restart, TSDB outage, two
collectors on one shared subscription and one PostgreSQL ledger."""

from __future__ import annotations

import threading
import time

from collector_helpers import (
    CollectorProcess,
    assert_matches_truth,
    config_dict,
    ledger_seconds,
    make_config,
    processed,
    running,
    wait_for,
)
from services import Mosquitto

from collector.ledger import Ledger
from collector.simulate import SimConfig, Simulation, send_mqtt


def test_kill_9_mid_stream_loses_and_double_counts_nothing(tmp_path, broker):
    sim = Simulation(SimConfig(agents=10, days=3, seed=11))
    payloads = [(aid, body) for _, aid, _, body in sim.reports()]
    doc = config_dict(
        tmp_path,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "client_id": "kill9",
            "group": "kill9",
        },
    )
    ledger_url = doc["ledger"]["url"]
    proc = CollectorProcess(tmp_path, doc).start()
    wait_for(lambda: (tmp_path / "ledger.db").exists(), 20, "ledger created")
    time.sleep(1.0)  # subscribed
    sender = threading.Thread(target=send_mqtt, args=(iter(payloads), "127.0.0.1", broker.port))
    sender.start()
    wait_for(lambda: processed(ledger_url) > len(payloads) // 4, 60, "a quarter processed")
    proc.kill()  # mid-stream: some batches committed, some delivered and not acknowledged
    at_kill = processed(ledger_url)
    assert at_kill < len(payloads)
    sender.join(120)
    proc = CollectorProcess(tmp_path, doc).start()  # same client id: the broker kept the rest
    try:
        wait_for(lambda: processed(ledger_url) == len(payloads), 90, "every report")
    finally:
        proc.stop()
    led = Ledger(ledger_url)
    assert_matches_truth(ledger_seconds(led), sim.truth_seconds())
    led.close()


def test_broker_restart_loses_nothing(tmp_path):
    broker = Mosquitto(tmp_path / "broker").start()
    sim = Simulation(SimConfig(agents=8, days=2, seed=12))
    payloads = [(aid, body) for _, aid, _, body in sim.reports()]
    half = len(payloads) // 2
    cfg = make_config(
        tmp_path,
        mqtt={"enabled": True, "host": "127.0.0.1", "port": broker.port, "client_id": "restart"},
    )
    try:
        with running(cfg) as c:
            wait_for(lambda: c.mqtt.connected, 10, "connected")
            send_mqtt(iter(payloads[:half]), "127.0.0.1", broker.port)
            broker.stop()
            wait_for(lambda: not c.mqtt.connected, 10, "disconnect noticed")
            broker.start()
            wait_for(lambda: c.mqtt.connected, 40, "reconnected")
            send_mqtt(iter(payloads[half:]), "127.0.0.1", broker.port)
            wait_for(
                lambda: c.ledger.execute("SELECT COUNT(*) FROM processed")[0][0] == len(payloads),
                60,
                "every report",
            )
            assert_matches_truth(ledger_seconds(c.ledger), sim.truth_seconds())
    finally:
        broker.stop()


def test_two_collectors_share_the_load_and_count_each_report_once(tmp_path, broker, postgres_url):
    sim = Simulation(SimConfig(agents=12, days=2, seed=13))
    payloads = [(aid, body) for _, aid, _, body in sim.reports()]
    mq = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "group": "pair"}
    a = make_config(tmp_path / "a", postgres_url, mqtt={**mq, "client_id": "pair-a"})
    b = make_config(tmp_path / "b", postgres_url, mqtt={**mq, "client_id": "pair-b"})
    with running(a) as ca, running(b) as cb:
        wait_for(lambda: ca.mqtt.connected and cb.mqtt.connected, 10, "both connected")
        time.sleep(0.5)
        send_mqtt(iter(payloads), "127.0.0.1", broker.port)
        wait_for(
            lambda: ca.ledger.execute("SELECT COUNT(*) FROM processed")[0][0] == len(payloads),
            60,
            "every report",
        )
        share_a = ca.pipeline.metrics.reports.labels("accepted")._value.get()
        share_b = cb.pipeline.metrics.reports.labels("accepted")._value.get()
        assert share_a + share_b == len(payloads)
        assert share_a > len(payloads) * 0.2 and share_b > len(payloads) * 0.2
        assert_matches_truth(ledger_seconds(ca.ledger), sim.truth_seconds())


def test_tsdb_outage_buffers_then_delivers(tmp_path, victoria):
    sim = Simulation(SimConfig(agents=3, days=1, seed=14))
    reports = list(sim.reports())
    half = len(reports) // 2
    cfg = make_config(
        tmp_path,
        tsdb={"enabled": True, "url": victoria.url, "flush_interval_s": 0.1, "timeout_s": 2},
    )
    with running(cfg) as c:
        for _, _, _, body in reports[:half]:
            c.pipeline.submit(body)
        wait_for(lambda: c.tsdb.written > 0 and not c.tsdb.pending, 20, "first points")
        victoria.stop()
        for _, _, _, body in reports[half:]:
            c.pipeline.submit(body)
        wait_for(lambda: c.tsdb.buffered_bytes() > 0, 20, "points buffered on disk")
        victoria.start()
        c.tsdb._retry_at = 0
        wait_for(lambda: c.tsdb.buffered_bytes() == 0 and not c.tsdb.pending, 60, "buffer drained")
        expected_points = sum(1 for _ in c.ledger.execute("SELECT 1 FROM processed"))
        assert expected_points == len(reports)
    # every interval is one point at its own start time: count them back with PromQL
    total_segments = sum(len(h.segments) for h in sim.hosts)
    res = victoria.query("count_over_time(energy_host_seconds[3d])", sim.end + 1)
    got = sum(float(r["value"][1]) for r in res)
    assert got >= total_segments  # reports cut segments at 5-minute boundaries: ≥
    res = victoria.query("sum(sum_over_time(energy_host_seconds[3d]))", sim.end + 1)
    span = sum(s.end - s.start for h in sim.hosts for s in h.segments)
    assert float(res[0]["value"][1]) == __import__("pytest").approx(span, rel=1e-6)


def test_tsdb_points_survive_a_collector_sigkill(tmp_path, victoria):
    """Points are journalled before their reports are answered: a collector killed before
    it wrote them to the TSDB writes them at its next start, none missing."""
    from collector_helpers import post
    from services import free_port, wait_port

    sim = Simulation(SimConfig(agents=4, days=1, seed=15))
    reports = [body for _, _, _, body in sim.reports()]
    port = free_port()
    tsdb = {"enabled": True, "url": victoria.url, "flush_interval_s": 3600, "batch_size": 10**6}
    doc = config_dict(tmp_path, http={"port": port}, tsdb=tsdb)
    proc = CollectorProcess(tmp_path, doc).start()
    try:
        wait_port(port, 30)
        for body in reports:
            code, res = post(f"http://127.0.0.1:{port}/api/v1/reports", body)
            assert (code, res["result"]) == (200, "accepted")
        proc.kill()  # nothing written to the TSDB yet: the flush interval is an hour
        assert not victoria.query("count(energy_host_seconds)", sim.end + 1)
        assert list((tmp_path / "collector/tsdb-buffer").glob("*.lp"))
        doc["tsdb"]["flush_interval_s"] = 0.1
        proc = CollectorProcess(tmp_path, doc).start()
        wait_for(
            lambda: not list((tmp_path / "collector/tsdb-buffer").glob("*.lp")), 60, "replayed"
        )
    finally:
        proc.stop()
    span = sum(s.end - s.start for h in sim.hosts for s in h.segments)

    def total() -> float:
        res = victoria.query("sum(sum_over_time(energy_host_seconds[3d]))", sim.end + 1)
        return float(res[0]["value"][1]) if res else 0.0

    wait_for(lambda: abs(total() - span) < 1e-3 * span, 30, "every point in the TSDB")
