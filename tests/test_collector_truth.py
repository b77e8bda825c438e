"""A simulated fleet over simulated days: the ledger equals the simulator's ground truth,
and kWh equal an independent computation from the profiles (within 0.5 %), on SQLite and on
PostgreSQL, through the real MQTT transport."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from collector_helpers import assert_matches_truth, ledger_seconds, make_config, running, wait_for

from collector.simulate import SimConfig, Simulation, send_mqtt

ROOT = Path(__file__).resolve().parent.parent


def independent_kwh(sim: Simulation) -> dict[str, float]:
    """Energy per host from collector/model/power-profiles.yaml, computed here from scratch."""
    doc = yaml.safe_load((ROOT / "collector/model/power-profiles.yaml").read_text())
    out = {}
    for h in sim.hosts:
        p = dict(doc["defaults"][h.kind])
        for needle, over in (doc.get("models") or {}).items():
            if needle.lower() in h.model.lower():
                p.update(over)
        wh = 0.0
        for s in h.segments:
            hours = (s.end - s.start) / 3600
            u = s.cpu_util or 0.0
            if h.kind == "vm":
                w = (
                    0.0
                    if s.state in ("off", "suspended")
                    else h.cpus
                    * (p["idle_w_per_vcpu"] + (p["max_w_per_vcpu"] - p["idle_w_per_vcpu"]) * u)
                    + h.memory_bytes / 2**30 * p["w_per_gb"]
                )
            elif s.state == "active":
                w = p["idle_w"] + (p["max_w"] - p["idle_w"]) * u + p["monitor_on_w"]
            elif s.state == "idle":
                w = p["idle_w"] + (p["max_w"] - p["idle_w"]) * u + p["monitor_off_w"]
            elif s.state == "suspended":
                w = p["suspended_w"] + p["monitor_off_w"]
            else:
                w = p["off_w"] + p["monitor_off_w"]
            wh += w * hours
        out[h.agent_id] = wh / 1000
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_simulated_fleet_matches_ground_truth(tmp_path, broker, backend, request):
    ledger_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    sim = Simulation(SimConfig(agents=12, days=3, seed=7, left_on_share=0.3))
    cfg = make_config(
        tmp_path,
        ledger_url,
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "client_id": f"truth-{backend}",
            "group": f"truth-{backend}",
        },
    )
    payloads = [(aid, body) for _, aid, _, body in sim.reports()]
    with running(cfg) as c:
        wait_for(lambda: c.mqtt.connected, 10, "MQTT connection")
        send_mqtt(iter(payloads), "127.0.0.1", broker.port)
        wait_for(
            lambda: c.ledger.execute("SELECT COUNT(*) FROM processed")[0][0] == len(payloads),
            60,
            "every report in the ledger",
        )
        got = ledger_seconds(c.ledger)
        kwh = {
            hid: wh / 1000
            for hid, wh in c.ledger.execute(
                "SELECT host_id, SUM(wh_measured + wh_modelled + wh_attributed) FROM host_days "
                "GROUP BY host_id"
            )
        }
    assert_matches_truth(got, sim.truth_seconds())
    expected = independent_kwh(sim)
    for hid, e in expected.items():
        assert kwh[hid] == pytest.approx(e, rel=0.005), hid


def test_a_simulation_run_in_the_evening_never_invents_active_time():
    """Run at 21:00 on a weekday: PCs that left at 17:00–18:45 are off, asleep, or (left on)
    idle from their departure on; none is active until now (the field trial saw every PC
    active until the moment the simulator ran)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from collector.simulate import SimConfig, Simulation

    end = datetime(2026, 11, 25, 21, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()  # a Wed
    sim = Simulation(SimConfig(agents=40, days=1, seed=8, reboot_share=0.0, end=end))
    for h in sim.hosts:
        if h.kind == "vm":
            continue
        evening = [s for s in h.segments if s.end > end - 3600]  # 20:00–21:00
        assert evening, h.hostname
        assert all(s.state != "active" for s in evening), (h.hostname, evening[-1])
        assert h.segments[-1].end == end  # still covered to the end: no gap either


def test_the_simulator_says_how_far_it_is_and_documents_its_options():
    import io
    import subprocess
    import sys

    from collector.simulate import SimConfig, Simulation, progress

    sim = Simulation(SimConfig(agents=3, days=1, seed=2))
    out = io.StringIO()
    items = list(progress(sim.reports(), sim.start, sim.end, every_s=0.0, out=out))
    assert len(items) == len(list(sim.reports()))  # nothing lost on the way
    assert "reports sent, simulated time" in out.getvalue() and "%" in out.getvalue()
    done = subprocess.run(
        [sys.executable, "-m", "collector.cli", "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    for option in ("--agents", "--days", "--seed", "--left-on", "--speed", "--url", "--mqtt"):
        assert option in done.stdout
    assert "(default: 50)" in done.stdout and "(default: 0.2)" in done.stdout
