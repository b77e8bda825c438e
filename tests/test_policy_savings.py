"""Savings, proven: a simulated fleet (September with no policy, October in advise mode,
November active) through a real collector over MQTT; the ledger's savings against the
September baseline equal what the simulator's true timelines say was (or would have been)
saved, and a department that saves nothing shows 0, not a blank."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from collector_helpers import make_config, metric, processed, running, scrape, url, wait_for

from collector.compliance.report import to_text
from collector.policy.savings import savings
from collector.simulate import SimConfig, Simulation, send_mqtt

pytestmark = pytest.mark.services

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def filled(tmp_path_factory, broker):
    tmp = tmp_path_factory.mktemp("policy-savings")
    end = datetime.combine(date(2025, 12, 1), dtime(0), PARIS).timestamp()
    sim = Simulation(
        SimConfig(
            agents=36,
            days=91,
            end=end,
            seed=11,
            left_on_share=0.35,
            report_interval_s=6 * 3600,
            policy_phases=(("2025-10-01", "advise"), ("2025-11-01", "active")),
        )
    )
    reports = list(sim.reports())
    cfg = make_config(
        tmp,
        compliance={"enabled": True},
        mqtt={
            "enabled": True,
            "host": "127.0.0.1",
            "port": broker.port,
            "client_id": "savings",
            "group": "savings",
        },
        policy={"enabled": True, "baseline": "2025-09-01..2025-09-30"},
    )
    c = running(cfg)
    collector = c.__enter__()
    try:
        wait_for(lambda: collector.mqtt.connected, 10, "collector subscribed")
        n = send_mqtt(((aid, body) for _, aid, _, body in reports), "127.0.0.1", broker.port)
        wait_for(lambda: processed(cfg.ledger.url) >= n, 300, "reports committed", every=0.5)
        yield sim, collector, cfg
    finally:
        c.__exit__(None, None, None)


def truth(sim, collector):
    """kWh saved (active) or that would have been (advise), per department and month, from
    the true timelines: slept off-hours seconds x the host's own mean power above sleep."""
    watts = {
        hid: wh * 3600.0 / on
        for hid, wh, on in collector.ledger.execute(
            "SELECT host_id, SUM(wasted_wh), SUM(on_s) FROM host_periods "
            "WHERE day < '2025-10-01' GROUP BY host_id HAVING SUM(on_s) > 0"
        )
    }
    out = defaultdict(float)
    count = defaultdict(int)
    for h in sim.hosts:
        for _, mode, day, saved in h.actions:
            out[(h.department, day[:7], mode)] += saved * watts[h.agent_id] / 3.6e6
            count[(h.department, day[:7], mode)] += 1
    return out, count


def test_savings_against_the_baseline_equal_the_truth(filled):
    sim, c, cfg = filled
    rows = {
        (r.department, r.month): r
        for r in savings(c.ledger, cfg.policy, 0.2, "2025-09-01", "2025-11-30")
    }
    kwh, count = truth(sim, c)
    depts = {h.department for h in sim.hosts if h.kind == "desktop" and h.left_on}
    assert depts, "the simulated fleet has machines left on"
    for d in sorted(depts):
        sep, oct_, nov = rows[(d, "2025-09")], rows[(d, "2025-10")], rows[(d, "2025-11")]
        assert sep.avoided_kwh == pytest.approx(0.0, abs=1e-6)  # the baseline against itself
        # October, advise: nothing done, so nothing avoided beyond the month's own noise;
        # what it would have saved is priced from the actions the agents noted
        assert oct_.advised_kwh == pytest.approx(kwh[(d, "2025-10", "advise")], rel=0.02)
        assert abs(oct_.avoided_kwh) < 0.1 * kwh[(d, "2025-10", "advise")]
        assert oct_.events["advised"] == count[(d, "2025-10", "advise")]
        # November, active: avoided at the baseline's on-rate equals the true saving
        assert nov.avoided_kwh == pytest.approx(kwh[(d, "2025-11", "active")], rel=0.1)
        assert nov.avoided_kwh > 0 and nov.avoided_eur == pytest.approx(nov.avoided_kwh * 0.2)
        assert nov.avoided_kgco2e > 0
        assert nov.events["acted"] == count[(d, "2025-11", "active")]
        # advise foretold active: the would-be saving is the same order as the real one
        per_day_oct = oct_.advised_kwh / 31
        per_day_nov = nov.avoided_kwh / 30
        assert per_day_nov == pytest.approx(per_day_oct, rel=0.25)
    # a department with nobody left on saves nothing, and says so: a figure near zero
    # (slightly negative too: a machine that crashed at night is not hidden), never blank
    idle = {h.department for h in sim.hosts} - depts
    assert idle
    for d in idle:
        r = rows[(d, "2025-11")]
        assert r.avoided_kwh is not None and abs(r.avoided_kwh) < 0.1
        assert r.to_json()["avoided_kwh"] is not None


def test_savings_in_metrics_and_the_morning_report(filled):
    sim, c, _ = filled
    body = scrape(url(c, "/metrics"))
    acted = sum(1 for h in sim.hosts for a in h.actions if a[1] == "active")
    assert metric(body, "energy_policy_events_total", mode="active", event="acted") == acted
    at = datetime(2025, 11, 18, 8, 0, tzinfo=PARIS).timestamp()  # a Tuesday morning
    rep = c.morning_report(at=at, language="fr")
    month = {m["department"]: m for m in rep["policy"]["month"]}
    assert any(m["avoided_kwh"] and m["avoided_kwh"] > 0 for m in month.values())
    assert rep["policy"]["events"]["active"]["acted"] >= 1
    text = to_text(rep, "fr")
    assert "Mise en veille automatique" in text and "évité" in text


def test_savings_in_the_yearly_report_and_its_open_data(filled, tmp_path):
    import csv

    import frictionless

    from collector.yearly.build import build

    sim, c, cfg = filled
    written = build(cfg, 2025, ("html", "json"), tmp_path / "out", "fr", "public")
    html = open(written["html"], encoding="utf-8").read()
    assert "Mise en veille automatique : énergie évitée" in html
    doc = json.loads(open(written["json"], encoding="utf-8").read())
    rows = savings(c.ledger, cfg.policy, 0.2, "2025-01-01", "2025-12-31")
    total = sum(r.avoided_kwh for r in rows if r.avoided_kwh is not None)
    assert doc["policy"]["total"]["avoided_kwh"] == pytest.approx(total, abs=1e-2)
    assert doc["policy"]["total"]["acted"] == sum(
        1 for h in sim.hosts for a in h.actions if a[1] == "active"
    )
    pkg = written["datapackage"]
    assert frictionless.validate(pkg).valid
    table = next(Path(pkg).parent.glob("veille-automatique*.csv"))
    with table.open(encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert {(r["department"], r["month"]) for r in got} == {(r.department, r.month) for r in rows}
    assert not any(h.hostname in html for h in sim.hosts)  # the public edition names no host
    # as the reader sees it: the section drawn by a real browser (screenshot kept)
    from browser import Browser

    shots = Path(__file__).resolve().parent.parent / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    b = Browser(tmp_path / "browser")
    try:
        b.get(Path(written["html"]).resolve().as_uri())
        text = b.script("return document.body.innerText")
        assert "Mise en veille automatique : énergie évitée" in text
        assert "kWh évités" in text and "nov." in text and "−0,0" not in text
        b.screenshot(shots / "report-policy-fr.png")
    finally:
        b.close()


def test_savings_are_the_same_on_postgresql(filled, postgres_url):
    """The savings SQL (MAX/MIN on SQLite, GREATEST/LEAST on PostgreSQL) over the same rows."""
    from collector.ledger import Ledger

    _, c, cfg = filled
    pg = Ledger(postgres_url)
    try:
        for table in ("host_periods", "policy_events", "policy_actions"):
            rows = c.ledger.execute(f"SELECT * FROM {table}")
            marks = "(" + ",".join(["?"] * len(rows[0])) + ")"
            for i in range(0, len(rows), 500):
                chunk = rows[i : i + 500]
                values = ",".join([marks] * len(chunk))
                pg.write(f"INSERT INTO {table} VALUES {values}", [v for r in chunk for v in r])
        here = savings(c.ledger, cfg.policy, 0.2, "2025-09-01", "2025-11-30")
        there = savings(pg, cfg.policy, 0.2, "2025-09-01", "2025-11-30")
        assert [r.to_json() for r in there] == [r.to_json() for r in here]
        assert any(r.advised_kwh > 0 for r in there)
    finally:
        pg.close()
