"""Wake for maintenance with real packets: a wake job scheduled on the collector, throttled,
sent through a real agent acting as the wake proxy in its own network namespace, and the
magic packets captured on the target subnet's wire in another namespace (veth pairs made
here with iproute2). The sleeping targets are machines whose last reports (through the
real HTTP ingest) say they are suspended, with their interfaces on that subnet."""

from __future__ import annotations

import itertools
import json
import secrets
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from collector_helpers import make_config, metric, post, running, scrape, url, wait_for
from netns import Netns
from policy_helpers import agent_settings, closed_calendar
from services import Mosquitto, free_port, stop_process

from collector.ledger import Ledger
from collector.metrics import Fleet, HostView
from collector.policy.settings import WakeConfig, WakeJobConfig, parse_at
from collector.policy.wake import Waker
from energy_common.schema import format_time
from energy_common.wol import magic_packet

pytestmark = pytest.mark.services


def sleeping_report(
    agent_id: str, mac: str, ipv4: str, kind: str = "desktop", state="suspended", seq: int = 0
):
    t = time.time()
    return json.dumps(
        {
            "schema": "energy-agent/1",
            "agent_id": agent_id,
            "seq": seq,
            "sent_at": format_time(t),
            "host": {
                "hostname": f"PC-{agent_id[:4]}",
                "kind": kind,
                "site": "mairie",
                "department": "DSI",
            },
            "boot_time": format_time(t - 3600),
            "segments": [
                {"start": format_time(t - 900), "end": format_time(t - 300), "state": "idle"},
                {"start": format_time(t - 300), "end": format_time(t), "state": state},
            ],
            "wake": {"interfaces": [{"name": "eth0", "mac": mac, "ipv4": ipv4}]},
        }
    ).encode()


def local_mac() -> str:
    b = bytearray(secrets.token_bytes(6))
    b[0] = (b[0] & 0xFC) | 0x02  # locally administered, unicast
    return b.hex(":")


def test_wake_job_throttled_through_a_proxy_agent_on_the_wire(tmp_path):
    net = Netns()
    proxy_proc = capture = broker = None
    try:
        x = secrets.randbelow(200) + 20
        proxy_ns, target_ns = net.add("p"), net.add("t")
        net.veth("vp", proxy_ns, f"10.77.{x}.1/24", "vt", target_ns, f"10.77.{x}.2/24")
        net.veth("rb", None, f"10.78.{x}.1/30", "pb", proxy_ns, f"10.78.{x}.2/30")
        outer = free_port()
        broker = Mosquitto(
            tmp_path / "broker", extra_conf=f"listener {outer} 10.78.{x}.1\n"
        ).start()
        tz = ZoneInfo("Europe/Paris")
        at = (datetime.now(tz) + timedelta(seconds=20)).replace(tzinfo=None)
        n, rate = 6, 60.0
        cfg = make_config(
            tmp_path,
            mqtt={
                "enabled": True,
                "host": "127.0.0.1",
                "port": broker.port,
                "client_id": "wake",
                "group": "wake",
            },
            compliance=closed_calendar(),
            policy={
                "enabled": True,
                "wake": {
                    "jobs": [
                        {
                            "name": "patch",
                            "at": at.isoformat(timespec="seconds"),
                            "kinds": ["desktop"],
                            "rate_per_minute": rate,
                        }
                    ],
                    "proxies_per_subnet": 1,
                    "retry_after_s": 3,
                },
            },
        )
        with running(cfg) as c:
            wait_for(lambda: c.mqtt.connected, 10, "collector connected")
            # the proxy: a real agent in its namespace, reaching the broker over the veth
            acfg = tmp_path / "proxy.yaml"
            acfg.write_text(
                yaml.safe_dump(agent_settings(str(tmp_path / "proxy"), f"10.78.{x}.1", outer))
            )
            proxy_proc = net.popen(
                proxy_ns,
                [sys.executable, "-m", "agent", "run", "-c", str(acfg)],
                stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / "proxy.log", "wb"),
            )
            # the targets: asleep, on the proxy's subnet; and a second would-be proxy that
            # was on (newest report) but went to sleep before the job: it must not be asked
            macs = {}
            for i in range(n):
                aid = str(uuid.uuid4())
                macs[aid] = local_mac()
                code, _ = post(url(c), sleeping_report(aid, macs[aid], f"10.77.{x}.{10 + i}/24"))
                assert code == 200
            sleeper = str(uuid.uuid4())
            for seq, state in enumerate(("idle", "suspended")):
                time.sleep(0.01)
                code, answer = post(
                    url(c),
                    sleeping_report(sleeper, local_mac(), f"10.77.{x}.3/24", "laptop", state, seq),
                )
                assert (code, answer["result"]) == (200, "accepted")
            wait_for(
                lambda: (
                    c.ledger.execute(
                        "SELECT COUNT(*) FROM hosts WHERE wake LIKE ?", (f"%10.77.{x}.1/24%",)
                    )[0][0]
                    == 1
                ),
                30,
                "the proxy's interfaces in the ledger",
            )
            capture = net.capture(target_ns, "vt", tmp_path / "wire.jsonl", 60)
            wait_for(lambda: c.waker.runs, 60, "the scheduled wake job")
            wait_for(
                lambda: (
                    len(
                        {
                            json.loads(line)["payload"]
                            for line in (tmp_path / "wire.jsonl").read_text().splitlines()
                        }
                    )
                    >= n
                ),
                30,
                "every magic packet on the wire",
            )
            run = c.waker.runs[-1]
            assert (run.targets, run.proxied, run.unreachable) == (n, n, 0)
            # none of them really wakes (they are reports, not PCs): all asked again
            wait_for(lambda: run.retried == n, 30, "the retry of the machines still asleep")
            assert c.waker.take_pending(sleeper) == []  # asleep: never asked
            body = scrape(url(c, "/metrics"))
            assert metric(body, "energy_wake_requests_total", job="patch", via="proxy") == n
        packets = [json.loads(line) for line in (tmp_path / "wire.jsonl").read_text().splitlines()]
        first: dict[str, float] = {}
        for p in packets:
            assert p["dst_mac"] == "ff:ff:ff:ff:ff:ff"
            assert p["src_ip"] == f"10.77.{x}.1"
            assert p["dst_ip"] in (f"10.77.{x}.255", "255.255.255.255")
            first.setdefault(p["payload"], p["at"])
        for mac in macs.values():
            assert magic_packet(mac).hex() in first, f"no magic packet for {mac}"
        times = sorted(first.values())
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # throttled: one target a second at 60/min (the proxy's own report loop adds jitter)
        assert min(gaps) >= 0.5, gaps
        assert times[-1] - times[0] >= (n - 1) * 60 / rate * 0.8, gaps
        print(f"wake throttle: {n} targets, gaps {[round(g, 2) for g in gaps]} s")
    finally:
        stop_process(proxy_proc, 15, 10)
        stop_process(capture, 15, 5)
        if broker is not None:
            broker.stop()
        net.close()


def test_proxy_fails_over_when_one_goes_to_sleep(tmp_path):
    """Proxies are chosen afresh for every target: after one announces it went away (its
    MQTT Last Will) the next target's request goes to the other."""
    ledger = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    fleet = Fleet(900)
    now = time.time()
    rows = []
    for hid, ip, state in (
        ("a", "10.1.0.5/24", "idle"),
        ("b", "10.1.0.6/24", "active"),
        ("t1", "10.1.0.20/24", "suspended"),
        ("t2", "10.1.0.21/24", "off"),
    ):
        wake = json.dumps({"interfaces": [{"mac": local_mac(), "ipv4": ip}]})
        seen = now - (0 if hid == "b" else 5)  # b reported last: the first choice
        rows.append((hid, "agent", hid, "desktop", "{}", now - 10, seen, state, now, wake))
        fleet.update(hid, HostView("", "", "desktop", state, 50.0, now - (0 if hid == "b" else 5)))
    for r in rows:
        ledger.write(
            "INSERT INTO hosts (host_id, source, hostname, kind, tags, first_seen, last_seen, "
            "last_state, last_report_at, wake) VALUES (?,?,?,?,?,?,?,?,?,?)",
            r,
        )
    sent: list[tuple[str, str]] = []

    def publish(agent_id, msg):
        sent.append((agent_id, msg["wake"][0]["mac"]))
        fleet.set_status(agent_id, "vanished")  # b goes to sleep right after its first send
        return True

    waker = Waker(WakeConfig(proxies_per_subnet=1, retry_after_s=0), ledger, fleet, publish)
    waker.mqtt_agents.update({"a", "b"})
    res = waker.run(WakeJobConfig(name="j", rate_per_minute=6000))
    assert res.proxied == 2
    assert [p for p, _ in sent] == ["b", "a"]


def test_a_target_that_did_not_wake_is_asked_again_through_another_proxy(tmp_path):
    ledger = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    fleet = Fleet(900)
    now = time.time()
    macs = {}
    for hid, ip, state, seen in (
        ("a", "10.1.0.5/24", "idle", now - 5),
        ("b", "10.1.0.6/24", "active", now),  # heard last: asked first
        ("t1", "10.1.0.20/24", "suspended", now - 60),
        ("t2", "10.1.0.21/24", "suspended", now - 60),
    ):
        macs[hid] = local_mac()
        wake = json.dumps({"interfaces": [{"mac": macs[hid], "ipv4": ip}]})
        ledger.write(
            "INSERT INTO hosts (host_id, source, hostname, kind, tags, first_seen, last_seen, "
            "last_state, last_report_at, wake) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (hid, "agent", hid, "desktop", "{}", now - 99, seen, state, now, wake),
        )
        fleet.update(hid, HostView("", "", "desktop", state, 50.0, seen))
    sent: list[tuple[str, str]] = []

    def publish(agent_id, msg):
        sent.append((agent_id, msg["wake"][0]["mac"]))
        if msg["wake"][0]["mac"] == macs["t2"]:  # t2 wakes and reports; t1 stays asleep
            ledger.write("UPDATE hosts SET last_seen = ? WHERE host_id = 't2'", (time.time(),))
        return True

    waker = Waker(WakeConfig(proxies_per_subnet=1, retry_after_s=0.2), ledger, fleet, publish)
    waker.mqtt_agents.update({"a", "b"})
    res = waker.run(WakeJobConfig(name="j", rate_per_minute=6000))
    assert (res.targets, res.proxied, res.woken, res.retried) == (2, 2, 1, 1)
    assert sent == [("b", macs["t1"]), ("b", macs["t2"]), ("a", macs["t1"])]
    assert waker.sent_total[("j", "retry")] == 1


def test_wake_times_parse_or_say_why():
    assert parse_at("sat 02:00", "at") == {
        "trigger": "cron",
        "day_of_week": "sat",
        "hour": 2,
        "minute": 0,
    }
    assert parse_at("mon-fri 22:30", "at")["day_of_week"] == "mon-fri"
    assert parse_at("2026-12-05T02:00", "at")["trigger"] == "date"
    for bad in ("samedi 2h", "sat 25:00", "every night"):
        with pytest.raises(ValueError, match="at:"):
            parse_at(bad, "at")


def test_magic_packet_refuses_what_is_not_a_unicast_mac():
    assert magic_packet("AA-BB-CC-DD-EE-FF")[:6] == b"\xff" * 6
    for bad in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "zz:bb:cc:dd:ee:ff", "aa:bb"):
        with pytest.raises(ValueError):
            magic_packet(bad)


def test_no_proxy_awake_directed_broadcast_from_the_collector(tmp_path):
    """With `directed_broadcast`, a subnet without an awake agent gets the packet from the
    collector itself, to the subnet's broadcast address (here loopback's, received here)."""
    import socket

    ledger = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    mac = local_mac()
    wake = json.dumps({"interfaces": [{"mac": mac, "ipv4": "127.0.0.20/8"}]})
    ledger.write(
        "INSERT INTO hosts (host_id, source, hostname, kind, tags, first_seen, last_seen, "
        "last_state, last_report_at, wake) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("t", "agent", "t", "desktop", "{}", 0.0, 1.0, "suspended", 1.0, wake),
    )
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.bind(("", 9))
    rx.settimeout(5)
    try:
        job = WakeJobConfig(name="j", rate_per_minute=6000)
        cfg = WakeConfig(directed_broadcast=True, retry_after_s=0)
        res = Waker(cfg, ledger, Fleet(900), None).run(job)
        assert (res.directed, res.unreachable) == (1, 0)
        assert rx.recvfrom(200)[0] == magic_packet(mac)
        # without it the target is counted unreachable, not silently skipped
        off = Waker(WakeConfig(retry_after_s=0), ledger, Fleet(900), None).run(job)
        assert (off.directed, off.unreachable) == (0, 1)
    finally:
        rx.close()
