"""Every dashboard panel's query, run against a real Prometheus scraping a collector fed by
the fleet simulator: each returns the expected series, with the expected labels and values
that agree with the ledger."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from collector_helpers import check_panel, make_config, running, wait_for
from services import Prometheus

from collector.simulate import SimConfig, Simulation

PARIS = ZoneInfo("Europe/Paris")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dashboards"))
import build  # noqa: E402

VARS = {
    "$__range": "10m",
    "$__rate_interval": "1m",
    "$site": ".*",
    "$department": ".*",
    "$datacenter": ".*",
}


def substitute(expr: str) -> str:
    for k, v in VARS.items():
        expr = expr.replace(k, v)
    return expr


def test_dashboard_files_are_current():
    for name, doc in build.build().items():
        assert (ROOT / "dashboards" / name).read_text(encoding="utf-8") == build.render(doc), (
            "run: python dashboards/build.py"
        )


def test_french_and_english_dashboards_have_the_same_queries():
    docs = build.build()
    fr, en = docs["fleet.fr.json"], docs["fleet.en.json"]
    assert [p["targets"] for p in fr["panels"]] == [p["targets"] for p in en["panels"]]
    assert fr["panels"][0]["title"] == "Machines par état"
    assert en["panels"][0]["title"] == "Machines by state"


@pytest.fixture(scope="module")
def fed_prometheus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    first = (datetime.now(PARIS) - timedelta(days=3)).date()
    sim = Simulation(
        SimConfig(
            agents=30,
            days=3,
            seed=21,
            left_on_share=0.5,
            # the sleep policy's panels: active from the second day, the whole run as baseline
            policy_phases=(((first + timedelta(days=1)).isoformat(), "active"),),
        )
    )
    baseline = f"{first - timedelta(days=7)}..{datetime.now(PARIS).date()}"
    with running(make_config(tmp, policy={"enabled": True, "baseline": baseline})) as c:
        prom = Prometheus(
            tmp / "prom",
            [f"127.0.0.1:{c.http.port}"],
            [ROOT / "configs/prometheus/energy-rules.yml"],
        ).start()
        try:
            wait_for(
                lambda: prom.ready() and prom.query('up{job="energy-collector"} == 1'),
                30,
                "first scrape",
            )
            time.sleep(2)  # a few samples before the data: increase() sees it arrive
            c.pipeline.process([(body, None) for _, _, _, body in sim.reports()])
            c.refresh_compliance()
            time.sleep(4)
            yield c, prom, sim
        finally:
            prom.stop()


@pytest.mark.parametrize("panel", build.FLEET, ids=[p.en for p in build.FLEET])
def test_panel_query_returns_expected_series(fed_prometheus, panel):
    check_panel(fed_prometheus[1], panel)


def test_panel_values_agree_with_the_collector(fed_prometheus):
    c, prom, sim = fed_prometheus
    by_state = {
        r["metric"]["state"]: float(r["value"][1])
        for r in prom.query("sum by (state) (energy_hosts)")
    }
    assert sum(by_state.values()) == len(sim.hosts)
    assert by_state == {k: float(v) for k, v in c.status()["by_state"].items()}
    # the counter itself (a panel's increase() cannot see the first sample of a new series)
    wasted = prom.query("sum(energy_offhours_wasted_wh_total) / 1000")
    ledger_kwh = c.ledger.execute("SELECT SUM(wasted_wh) FROM host_periods")[0][0] / 1000
    assert float(wasted[0]["value"][1]) == pytest.approx(ledger_kwh, rel=1e-6)
    assert ledger_kwh > 0
    apps = {r["metric"]["app"] for r in prom.query(substitute(build.FLEET[11].exprs[0]))}
    assert apps == {"Teams.exe"}
    years = prom.query("sum(energy_hosts_by_manufacture_year)")
    assert float(years[0]["value"][1]) == len(sim.hosts)


def test_variables_filter_and_tables_are_instant():
    docs = build.build()
    for name in ("fleet.fr.json", "fleet.en.json"):
        names = [v["name"] for v in docs[name]["templating"]["list"]]
        assert names == ["site", "department"]
        assert all(
            v["includeAll"] and v["allValue"] == ".*" for v in docs[name]["templating"]["list"]
        )
    assert [v["name"] for v in docs["datacenter.en.json"]["templating"]["list"]] == ["datacenter"]
    for name, doc in docs.items():
        for panel in doc["panels"]:
            for t in panel["targets"]:
                # a stat, gauge or table shows one value per series: the latest, not a range
                assert t["instant"] is (panel["type"] != "timeseries"), (name, panel["title"])
                assert t["range"] is (panel["type"] == "timeseries")
                if name.startswith("fleet") and "energy_site_working_hours" not in t["expr"]:
                    assert (
                        "$site" in t["expr"]
                        or "energy_sleep_blocker" in t["expr"]
                        or ("energy_hosts_by_manufacture_year" in t["expr"])
                        # savings are per department (the baseline is a department's)
                        or ("energy_policy_avoided_kwh" in t["expr"] and "$department" in t["expr"])
                    ), (panel["title"], t["expr"])
            if panel["type"] == "table":
                assert all(t["format"] == "table" for t in panel["targets"])


def test_a_site_variable_narrows_the_panels_and_compliance_is_weighted_by_hosts(fed_prometheus):
    c, prom, sim = fed_prometheus
    site = sorted({h.site for h in sim.hosts})[0]
    expr = build.FLEET[0].exprs[0].replace("$site", site).replace("$department", ".*")
    n = sum(float(r["value"][1]) for r in prom.query(expr))
    assert n == sum(1 for h in sim.hosts if h.site == site) < len(sim.hosts)
    # the compliance panel is compliant hosts over judged hosts, as the morning report counts
    rep = c.morning_report()
    want = {g["site"]: g["rate"] for g in rep["by_site"] if g["rate"] is not None}
    got = {
        r["metric"]["site"]: float(r["value"][1])
        for r in prom.query(substitute(build.FLEET[5].exprs[0]))
    }
    assert got.keys() == want.keys() and len(got) >= 2
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-4), k


def test_provisioning_points_at_the_datasource_uid():
    import yaml

    ds = yaml.safe_load((ROOT / "dashboards/provisioning/datasources/energy.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    for name in build.build():
        doc = json.loads((ROOT / "dashboards" / name).read_text())
        assert {p["datasource"]["uid"] for p in doc["panels"]} == {uid}
