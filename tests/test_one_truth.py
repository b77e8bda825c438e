"""One truth on every surface: the fixture fleet, read at several times of day through every
surface (the pages, the JSON API, /metrics, `status`, the yearly report), each figure checked
against the ledger and against the other surfaces. The collector is given a clock: nothing
here sleeps.

The fleet (site calendars: the default one, Mon–Thu 08:00–18:30, Fri until 17:30):
- office machines from Thursday 19 November 2026 08:00 to Tuesday 24 November, across a night
  (Thursday) and a weekend (Friday evening to Monday morning) and Monday night:
  A switched off every night, B left on (idle) all along, C a laptop that went to sleep each
  evening and last reported going to sleep on Monday at 18:45, D switched off on Monday at
  18:40 (its last report), E on until its agent fell silent on Monday at 15:00;
- a VM and a server (exempt from the sleep rules; the VM's energy attributed);
- three datacenters: dc1 with October's bills, live IT over SNMP (a UPS) and its site meter
  read over LoRaWAN (pulse counter, through the real processor) on 24 November; dc2 with
  October's bills and a sub-meter round of 1–23 November; dc3 known from bills only
  (October, and a November bill covering the whole month, imported on 2 December);
Expected verdicts are computed by hand from the timelines above.
"""

from __future__ import annotations

import csv
import html
import json
import urllib.error
import urllib.request
from datetime import datetime
from zoneinfo import ZoneInfo

import frictionless
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from collector_helpers import make_config, metric, running, url
from test_lorawan import LORA, UP, pulse

from collector.app import Collector
from collector.cli import status_table
from collector.datacenter.readings import import_readings
from collector.metrics import Fleet, HostView
from collector.render.env import environment
from collector.render.fmt import num, pct, unit
from collector.sources.snmp.poller import Poll
from collector.sources.snmp.profiles import Row
from collector.yearly import opendata
from collector.yearly.build import settings
from collector.yearly.figures import yearly_figures
from energy_common.schema import Host, Report, Segment, encode_report

PARIS = ZoneInfo("Europe/Paris")
IDS = {n: f"00000000-0000-4000-8000-0000000001{i:02d}" for i, n in enumerate("ABCDEVS")}
METER = "0018b21000006c3a"  # dc1-main in LORA: dc1's site meter, pulse counter, 10 Wh a pulse


def at(day: int, hh: float) -> float:
    return datetime(2026, 11, day, int(hh), round((hh % 1) * 60), tzinfo=PARIS).timestamp()


START = at(19, 8)
WORKDAYS = [(19, 18.5), (20, 17.5), (23, 18.5)]  # Thu, Fri, Mon: when each day ends


def office(evening: str, last: tuple[float, str]) -> list[tuple[float, float, str]]:
    """Active in working hours, `evening` state at night and at the weekend, until `last`."""
    segs = [(START, at(19, 18.5), "active"), (at(19, 18.5), at(20, 8), evening)]
    segs += [(at(20, 8), at(20, 17.5), "active"), (at(20, 17.5), at(23, 8), evening)]
    segs += [(at(23, 8), last[0], "active")]
    return segs


def scenario() -> dict[str, tuple[str, list[tuple[float, float, str]]]]:
    a = [*office("off", (at(23, 18.5), "")), (at(23, 18.5), at(24, 8), "off")]
    c = [*office("suspended", (at(23, 18.75), "")), (at(23, 18.75), at(23, 18.8), "suspended")]
    d = [*office("off", (at(23, 18.5), "")), (at(23, 18.5), at(23, 18.6), "off")]
    return {
        "A": ("desktop", a),
        "B": ("desktop", [(START, at(24, 10), "idle")]),
        "C": ("laptop", c),
        "D": ("desktop", d),
        "E": ("desktop", office("off", (at(23, 15), ""))),
        "V": ("vm", [(START, at(24, 10), "active")]),
        "S": ("server", [(START, at(24, 10), "active")]),
    }


def reports() -> list[bytes]:
    out = []
    for name, (kind, segs) in scenario().items():
        site = "annexe" if name in "DE" else "mairie"
        host = Host(hostname=f"PC-{name}", kind=kind, site=site, department="DSI", cpus=4)
        for seq, (a, b, state) in enumerate(segs):
            util = 0.2 if state == "active" else 0.0 if state == "idle" else None
            clean = True if state == "off" else None
            seg = Segment(a, b, state, clean=clean, cpu_util=util)
            out.append(encode_report(Report(IDS[name], seq, b, host, START - 3600, (seg,))))
    return out


BILLS = """meter,datacenter,role,start,end,kwh,site
dc1-site,dc1,facility,2026-10-01,2026-11-01,74500,dsi
dc1-ups,dc1,it,2026-10-01,2026-11-01,52150,dsi
dc2-site,dc2,facility,2026-10-01,2026-11-01,44700,dsi
dc2-it,dc2,it,2026-10-01,2026-11-01,29800,dsi
dc2-site,dc2,facility,2026-11-01,2026-11-24,33120,dsi
dc2-it,dc2,it,2026-11-01,2026-11-24,22080,dsi
dc3-site,dc3,facility,2026-10-01,2026-11-01,29800,dsi
dc3-it,dc3,it,2026-10-01,2026-11-01,22350,dsi
dc3-site,dc3,facility,2026-11-01,2026-12-01,28800,dsi
dc3-it,dc3,it,2026-11-01,2026-12-01,21600,dsi
"""
DEC2 = datetime(2026, 12, 2, 21, 0, tzinfo=PARIS).timestamp()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, broker):
    tmp = tmp_path_factory.mktemp("truth")
    clock = [at(24, 10)]
    ups = {"name": "ups1", "host": "127.0.0.1", "datacenter": "dc1", "role": "it"}
    lora = {**LORA, "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "truth"}}
    cfg = make_config(
        tmp,
        validation={"clock_skew_s": 10**9},
        compliance={"enabled": True},
        snmp={"devices": [ups]},
        lorawan=lora,
        stale_after_s=900,
    )
    c = Collector(cfg, clock=lambda: clock[0])
    c.start()
    # the periodic jobs would refresh the gauges at their own moment: the test does it at the
    # times it reads, so they are stopped (waiting for a run in flight) and an empty real
    # scheduler is left for the morning report's own job
    c.scheduler.shutdown(wait=True)
    c.scheduler = BackgroundScheduler(timezone=c.tz)
    c.scheduler.start()
    try:
        out = c.pipeline.process([(r, None) for r in reports()])
        assert {o.result for o in out} == {"accepted"}
        for day in (
            "2026-11-19",
            "2026-11-20",
            "2026-11-21",
            "2026-11-22",
            "2026-11-23",
            "2026-11-24",
        ):
            c.ledger.rollup_day(day, c.embodied_by_host())
        bills = tmp / "bills.csv"
        bills.write_text(BILLS)
        # imported on 2 December: November is over for the importer, not for the report's now
        import_readings(c.ledger, bills, now=DEC2, max_power_w=cfg.snmp.max_power_w)
        (dev,) = cfg.snmp.devices
        t0 = at(24, 0)
        for k in range(11):  # 00:00 to 10:00: 40 kWh an hour on the UPS output
            c.snmp.account([Poll(dev, t0 + k * 3600, [Row("output", "1", None, 4e4, k * 4e4)])])
        for k in range(11):  # dc1's site meter: 60 kWh an hour (6,000 pulses of 10 Wh)
            body = pulse(METER, t0 + k * 3600, 6000 * k)
            c.lora.process([(UP.format(METER), body, None)])
        yield c, clock
    finally:
        c.stop()


def get(c: Collector, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url(c, path), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def surfaces(c: Collector) -> dict:
    """Every surface's figures at the collector's now (the 5-minute gauges refreshed first,
    as their job would)."""
    c.refresh_compliance()
    api = json.loads(get(c, "/api/v1/compliance/report")[1])
    return {
        "api": api,
        "status": json.loads(get(c, "/api/v1/status")[1]),
        "metrics": get(c, "/metrics")[1].decode(),
        "night": get(c, "/night?lang=en")[1].decode(),
        "home": get(c, "/?lang=en")[1].decode(),
    }


# times of day: (clock, last night, the period in progress, left on, asleep or off, unknown)
TIMES = [
    (at(23, 19.25), "2026-11-20", "2026-11-23", 1, 4, 0),  # Monday 19:15: the weekend
    (at(24, 7.5), "2026-11-20", "2026-11-23", 1, 4, 0),  # Tuesday 07:30: the night runs
    # Tuesday 10:00: Monday night. C and D went to sleep and off and have not reported the
    # night yet (they will when they wake), E fell silent: unknown, never counted asleep
    (at(24, 10), "2026-11-23", None, 1, 1, 3),
]


@pytest.mark.parametrize(("now", "judged", "running", "left_on", "ok", "unknown"), TIMES)
def test_last_night_is_the_same_on_every_surface(fleet, now, judged, running, left_on, ok, unknown):
    c, clock = fleet
    clock[0] = now
    s = surfaces(c)
    api = s["api"]
    assert [d for d, _ in api["periods"]] == [judged]
    assert [p["period_day"] for p in api["in_progress"]] == ([running] if running else [])
    summary = api["summary"]
    assert (summary["noncompliant"], summary["compliant"], summary["unknown"]) == (
        left_on,
        ok,
        unknown,
    )
    assert summary["hosts"] == 5  # the VM and the server are exempt
    # the ledger itself: B's on-time that night, beyond the tolerance
    (on_s,) = c.ledger.execute(
        "SELECT on_s FROM host_periods WHERE host_id = ? AND day = ?", (IDS["B"], judged)
    )[0]
    assert on_s > c.cfg.compliance.tolerance_s
    # the trend's last point is the summary
    assert {k: api["trend"][-1][k] for k in ("hosts", "compliant", "rate")} == {
        k: summary[k] for k in ("hosts", "compliant", "rate")
    }
    # /api/v1/status and `status` carry the same verdict
    st = s["status"]["compliance"]
    assert {k: st[k] for k in ("hosts", "compliant", "noncompliant", "unknown", "rate")} == {
        k: summary[k] for k in ("hosts", "compliant", "noncompliant", "unknown", "rate")
    }
    assert f"last night {judged}" in status_table(s["status"])
    # /metrics: the compliance gauges are last night's
    m = s["metrics"]
    assert metric(m, "energy_compliance_noncompliant_hosts") == left_on
    assert metric(m, "energy_compliance_judged_hosts") == summary["hosts"]
    assert metric(m, "energy_compliance_compliant_hosts") == summary["compliant"]
    # the page
    assert f"Last completed off-hours period, judged: {judged}" in s["night"]
    assert ("In progress, not judged yet" in s["night"]) == bool(running)
    for value in (pct(summary["rate"], "en"), f"<strong>{num(summary['noncompliant'], 'en')}<"):
        assert value in s["night"], value


@pytest.mark.parametrize("now", [t for t, *_ in TIMES])
def test_the_fleet_now_keeps_sleepers_asleep_on_every_surface(fleet, now):
    """C reported going to sleep, D shutting down: they stay so; E, silent while on, is the
    only unknown (B, the VM and the server report up to Tuesday 10:00)."""
    c, clock = fleet
    clock[0] = now
    s = surfaces(c)
    by = s["status"]["by_state"]
    assert by.get("suspended") == 1 and by.get("off") == 2  # C; A and D
    unknown = {h for h, _, st in c.fleet.snapshot() if st == "unknown"}
    assert unknown == {IDS["E"]}
    for state in ("suspended", "off", "unknown"):
        assert metric(s["metrics"], "energy_hosts", state=state) == by.get(state, 0)
    # meant to differ: hosts on *now* in off-hours is not last night's count
    on_now = metric(s["metrics"], "energy_offhours_hosts_on")
    working = c.calendars["default"].period_at(now) is None
    assert on_now == (0 if working else 1)  # only B is on (the VM and the server are exempt)


@pytest.mark.parametrize("now", [t for t, *_ in TIMES])
def test_sleepers_say_since_when_on_every_surface(fleet, now):
    """C went to sleep on Monday at 18:45, A and D off at 18:30: the API, `status` and the home
    page (in its language, in the collector's time zone) say since when, whatever the time."""
    c, clock = fleet
    clock[0] = now
    s = surfaces(c)
    since = s["status"]["asleep_since"]
    assert since == {
        "off": {"earliest": "2026-11-23T18:30:00+01:00", "latest": "2026-11-23T18:30:00+01:00"},
        "suspended": {
            "earliest": "2026-11-23T18:45:00+01:00",
            "latest": "2026-11-23T18:45:00+01:00",
        },
    }
    table = status_table(s["status"])
    assert "suspended          1  since 2026-11-23 18:45" in table
    assert "off                2  since 2026-11-23 18:30" in table
    assert '<th scope="col" class="text">Since</th>' in s["home"]
    assert '<td class="text">23 November 2026, 18:45</td>' in s["home"]
    assert '<td class="text">23 November 2026, 18:30</td>' in s["home"]
    fr = get(c, "/?lang=fr")[1].decode()
    assert '<th scope="col" class="text">Depuis</th>' in fr
    assert '<td class="text">23 novembre 2026, 18:45</td>' in fr


def test_a_range_of_sleepers_names_the_first_and_the_latest():
    """Several hosts asleep since different times: the first and the latest, in words."""
    fleet = Fleet(stale_after_s=900)
    for hid, t in (("a", at(23, 18.5)), ("b", at(23, 19))):
        fleet.update(hid, HostView("mairie", "DSI", "desktop", "active", 40.0, t))
        fleet.update(hid, HostView("mairie", "DSI", "desktop", "suspended", 0.0, t + 60))
    # a later report still asleep keeps the time it went to sleep
    fleet.update("a", HostView("mairie", "DSI", "desktop", "suspended", 0.0, at(23, 21)))
    assert fleet.asleep_since(at(24, 10)) == {"suspended": (at(23, 18.5), at(23, 19))}
    first, last = (datetime.fromtimestamp(t, PARIS) for t in (at(23, 18.5), at(23, 19)))
    macro = '{% from "macros.html" import since_span with context %}{{ since_span(a, b) }}'
    page = environment("en").from_string(macro).render(a=first, b=last)
    assert page == "23 November 2026, 18:30 (the first), 23 November 2026, 19:00 (the latest)"
    fr = environment("fr").from_string(macro).render(a=first, b=last)
    assert fr == "23 novembre 2026, 18:30 (la première), 23 novembre 2026, 19:00 (la dernière)"
    doc = {"hosts": 2, "by_state": {"suspended": 2}, "power_w": 0.0, "day": "2026-11-24"}
    doc |= {"today_kwh": 0.0, "today_kgco2e": 0.0, "carbon_basis": "x", "hosts_reporting_today": 0}
    doc["asleep_since"] = {"suspended": {"earliest": first.isoformat(), "latest": last.isoformat()}}
    assert "suspended          2  since 2026-11-23 18:30 (first), 2026-11-23 19:00 (latest)" in (
        status_table(doc)
    )


def test_datacenters_one_view_with_its_basis_on_every_surface(fleet):
    c, clock = fleet
    clock[0] = at(24, 10)
    s = surfaces(c)
    dcs = s["status"]["datacenters"]
    assert set(dcs) == {"dc1", "dc2", "dc3"}  # dc2 and dc3 are known from bills only
    # dc1 today: IT 40 kWh an hour over SNMP, site 60 kWh an hour over LoRaWAN, 00:00-10:00
    assert dcs["dc1"]["it_kwh_today"] == pytest.approx(400)
    assert dcs["dc1"]["facility_kwh_today"] == pytest.approx(600)
    assert dcs["dc1"]["pue_today"] == pytest.approx(1.5)
    assert dcs["dc1"]["facility_basis_today"] == "metered"
    # dc2: November's round (1-23 November) gives this month's PUE, said to be billed
    assert dcs["dc2"]["pue_month"] == pytest.approx(1.5)
    assert dcs["dc2"]["facility_basis_month"] == "billed" and dcs["dc2"]["pue_today"] is None
    # dc3: a November bill up to now, spread evenly: the month so far, billed
    assert dcs["dc3"]["facility_basis_month"] == "billed"
    assert dcs["dc3"]["pue_month"] == pytest.approx(28800 / 21600, abs=1e-3)
    m = s["metrics"]
    # dc1 this month: the site and IT meters cover 10 hours of November: no PUE anywhere
    assert dcs["dc1"]["pue_month"] is None and dcs["dc1"]["pue_month_missing"] == "it_coverage"
    for dc in ("dc1", "dc2", "dc3"):
        want = dcs[dc]["pue_month"]
        series = f'energy_dc_pue{{basis="{dcs[dc]["facility_basis_month"]}",datacenter="{dc}"'
        assert (series + ',period="month"}' in m) is (want is not None), dc
        got = metric(m, "energy_dc_pue", datacenter=dc, period="month")
        assert got == pytest.approx(want or 0.0), dc
    assert metric(m, "energy_dc_energy_today_kwh", datacenter="dc1", role="facility") == 600
    # the home page: the agents' energy today and the datacenters', said apart, not added
    today = s["status"]["today_datacenters_kwh"]
    dc3_today = 28800 / 720 * 10  # 00:00-10:00 of a bill spread over November's 720 hours
    assert today == pytest.approx(600 + dc3_today)
    assert "Energy today, datacenters (not added)" in s["home"]
    assert unit(today, "kWh", "en", 1) in s["home"]
    assert unit(s["status"]["today_kwh"], "kWh", "en", 1) in s["home"]
    page = get(c, "/datacenters?lang=en")[1].decode()
    assert "(billed, spread evenly over the hours)" in page and "(metered)" in page


def test_the_report_adds_up_and_says_its_basis(fleet):
    c, clock = fleet
    clock[0] = at(24, 10)
    doc = yearly_figures(c.ledger, 2026, settings(c.cfg, clock[0]), "internal")
    total = doc["indicators"]["total_kwh"]
    en = doc["energy"]
    # the total by basis and by carbon factor: each adds up to the total
    basis = doc["scope"]["energy_basis"]["kwh"]
    assert sum(basis.values()) == pytest.approx(total, abs=0.01)
    assert basis["billed"] > 0 and basis["measured"] > 0 and basis["modelled"] > 0
    kwh_by_basis = doc["factors"]["carbon"]["kwh_by_basis"]
    assert sum(r["kwh"] for r in kwh_by_basis) == pytest.approx(total, abs=0.01)
    # by site (with the datacenters at dsi) adds up; by department says what it leaves out
    sites = {r["site"]: r for r in en["by_site"]}
    assert sites["dsi"]["meters_kwh"] > 0
    assert sum(r["kwh"] for r in en["by_site"]) + en["by_site_leaves_out"]["kwh"] == (
        pytest.approx(total, abs=0.01)
    )
    dept = sum(r["kwh"] for r in en["by_department"]) + en["by_department_leaves_out"]["kwh"]
    assert dept == pytest.approx(total, abs=0.01)
    assert en["by_department_leaves_out"]["what"] == ["meters"]
    # VMs and servers: inside the datacenters' energy, and the VM factor per vCPU
    kinds = {r["kind"]: r for r in en["by_kind"]}
    assert kinds["vm"]["counted_in"] == "datacenters" and kinds["vm"]["kwh"] > 0
    vm = next(p for p in doc["factors"]["profiles"] if p["kind"] == "vm")
    assert (vm["idle_w_per_vcpu"], vm["max_w_per_vcpu"]) == (0.74, 3.5)
    # the year in progress stops at now: dc3's November bill counts up to 24 November 10:00
    nov = next(
        m
        for d in doc["datacenters"]
        if d["datacenter"] == "dc3"
        for m in d["months"]
        if m["month"] == "2026-11"
    )
    assert nov["facility_kwh"] == pytest.approx(28800 / 720 * (23 * 24 + 10))
    dec = next(
        m
        for d in doc["datacenters"]
        if d["datacenter"] == "dc3"
        for m in d["months"]
        if m["month"] == "2026-12"
    )
    assert dec["facility_kwh"] == 0
    # the API serves the same figures
    status, body = get(c, "/report/2026.json")
    assert status == 200 and json.loads(body)["indicators"]["total_kwh"] == total


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/report/2024?lang=fr", 404, "Le registre ne contient aucune donnée de cette année"),
        ("/report/2030?lang=en", 404, "This year has not begun"),
        ("/report/2024.json", 404, '"reason": "no data"'),
        ("/report/2030.json", 404, '"reason": "future"'),
        ("/open-data/2030/datapackage.json", 404, '"reason": "future"'),
        ("/report/2026?lang=en", 200, "Year in progress"),
    ],
)
def test_a_year_without_data_or_not_begun_is_a_404(fleet, path, status, says):
    c, clock = fleet
    clock[0] = at(24, 10)
    got, body = get(c, path)
    text = body.decode()
    assert got == status and says in text.replace('":"', '": "')


def test_the_morning_report_waits_for_the_night_to_end(fleet, monkeypatch):
    """Sent at 07:30 (the default report time) while the night runs until 08:00: it is put
    off to the end of the night, then it is about that night, never the one before."""
    c, clock = fleet
    sent: list[dict] = []
    monkeypatch.setattr(c.deliverer, "deliver", sent.append)
    clock[0] = at(24, 7.5)
    c.send_morning_report()
    assert sent == []
    job = c.scheduler.get_job("morning-report-at-day-start")
    assert job is not None and job.next_run_time.timestamp() == at(24, 8) + 1
    job.remove()
    clock[0] = at(24, 8) + 1
    c.send_morning_report()
    assert [[d for d, _ in r["periods"]] for r in sent] == [["2026-11-23"]]


def test_the_open_data_breakdowns_add_up_to_the_total(fleet, tmp_path):
    """The open data by site and department counts the datacenters' meters (billed and
    metered) at their site and the LoRaWAN gateways beside the agents: its rows add up to the
    year's total; each month's rows counted in the total add up to that month's."""
    c, clock = fleet
    clock[0] = at(24, 10)
    doc = yearly_figures(c.ledger, 2026, settings(c.cfg, clock[0]), "public")
    total = doc["indicators"]["total_kwh"]
    tables = {t.name: t for t in opendata.tables(doc)}
    by_site = tables["energy_by_site_department"]
    assert sum(r["kwh"] for r in by_site.rows) == pytest.approx(total, abs=0.01)
    origins = {(r["origin"], r["basis"]) for r in by_site.rows}
    assert {("agents", None), ("datacenter", "billed"), ("datacenter", "measured")} <= origins
    assert str(total) in by_site.description  # the file says what its rows add up to
    dsi = [r for r in by_site.rows if r["site"] == "dsi"]
    assert dsi and all(r["hosts"] is None for r in dsi)  # meters: no machine count
    # by month and kind: the rows add up to each month's total but for the servers and VMs,
    # named in the description with their kWh (inside the datacenters' energy)
    monthly = tables["energy_monthly"]
    kinds = {r["kind"]: r for r in doc["energy"]["by_kind"]}
    for kind in ("server", "vm"):
        assert f"`{kind}` ({kinds[kind]['kwh']} kWh sur l'année)" in monthly.description
    for m in {r["month"] for r in monthly.rows}:
        rows = [r for r in monthly.rows if r["month"] == m]
        (month_total,) = [r["kwh"] for r in rows if r["kind"] == "total"]
        counted = sum(r["kwh"] for r in rows if r["kind"] not in ("total", "server", "vm"))
        assert counted == pytest.approx(month_total, abs=0.01), m
    # the report's other breakdowns: by kind, the rows said to be in the total add up to it
    kinds = doc["energy"]["by_kind"]
    assert sum(r["kwh"] for r in kinds if r["in_total"]) == pytest.approx(total, abs=0.01)
    # the files themselves validate against their schemas
    pkg = opendata.write_package(doc, tmp_path / "od")
    report = frictionless.validate(str(pkg))
    assert report.valid, report.flatten(["type", "message"])[:5]
    rows = list(csv.DictReader((tmp_path / "od" / "energy_by_site_department.csv").open()))
    assert sum(float(r["kwh"]) for r in rows) == pytest.approx(total, abs=0.01)


def test_the_report_reads_as_a_council_member_reads_it(fleet):
    """A datacenter's site is shown with what its energy is counted from, never as a site of
    "0 machines"; the cover says plainly that no organisation is named yet; the tile of how
    the total is known adds up to 100 % in words of the language; billed is in the glossary."""
    c, clock = fleet
    clock[0] = at(24, 10)
    fr = html.unescape(get(c, "/report/2026?lang=fr")[1].decode())
    en = html.unescape(get(c, "/report/2026?lang=en")[1].decode())
    row = '<tr><th scope="row">{}</th><td>–</td><td>{}</td>'
    assert row.format("dc1", "600") in fr and row.format("dsi", "204\u202f600") in fr
    assert '<td class="text">compteurs des salles serveurs</td></tr>' in fr
    assert '<td class="text">factures d\'énergie des salles serveurs</td></tr>' in fr
    assert '<td class="text">datacenter energy bills</td></tr>' in en
    assert '<tr><th scope="row">mairie</th><td>5</td>' in fr  # the agents' sites keep theirs
    assert '<td class="text">machines avec agent</td></tr>' in fr
    assert "Nom de l'organisme éditeur pas encore indiqué" in fr
    assert "Publishing organisation not named yet" in en
    shares = ("0,3\u00a0% mesurée", "99,7\u00a0% facturée", "0,0\u00a0% modélisée")
    assert " · ".join(shares) in fr
    assert "0.3% measured · 99.7% billed · 0.0% modelled" in en
    assert "Facturée : relevée sur les factures d'énergie" in fr
    assert "2 (sortie des PDU)" in fr and "2 (PDU output)" in en
    assert "Aucune machine n'est restée allumée 24 nuits ou week-ends ou plus" in fr
    assert "consommation)\u00a0: <a" in fr and "consumption): <a" in en
    # no machine reports a manufacturing date here: said in words, no chart of zeros
    assert "Aucune machine n'a de date de fabrication connue." in fr
    assert "Barres : nombre d'équipements par âge" not in fr
    statement = html.unescape(get(c, "/accessibilite?lang=fr")[1].decode())
    assert "L'organisme qui publie ces pages (son nom n'est pas encore indiqué)" in statement


def test_since_when_is_the_start_of_the_sleep_the_reports_end_with(tmp_path):
    """A report that holds a working day and then the sleep: since the sleep began, not since
    the report (or the one before it) ended; a later report still asleep keeps it; a report in
    which the host woke and slept again starts it afresh."""
    cfg = make_config(tmp_path, validation={"clock_skew_s": 10**9}, stale_after_s=900)
    host = Host(hostname="PC-F", kind="laptop", site="mairie", department="DSI", cpus=4)
    agent = "00000000-0000-4000-8000-000000000200"

    def report(seq: int, *segs: tuple[float, float, str]) -> bytes:
        s = tuple(Segment(a, b, st, cpu_util=0.2 if st == "active" else None) for a, b, st in segs)
        return encode_report(Report(agent, seq, segs[-1][1], host, START - 3600, s))

    with running(cfg) as c:
        steps = [
            (report(0, (at(19, 8), at(19, 18), "active"), (at(19, 18), at(19, 20), "suspended"))),
            (report(1, (at(19, 20), at(19, 22), "suspended"))),
            (report(2, (at(19, 22), at(20, 7), "active"), (at(20, 7), at(20, 9), "suspended"))),
        ]
        seen = []
        for r in steps:
            assert c.pipeline.process([(r, None)])[0].result == "accepted"
            seen.append(c.fleet.asleep_since(at(20, 10))["suspended"][0])
        assert seen == [at(19, 18), at(19, 18), at(20, 7)]
        doc = json.loads(urllib.request.urlopen(url(c, "/api/v1/status")).read())
        assert doc["asleep_since"]["suspended"]["earliest"] == "2026-11-20T07:00:00+01:00"


def test_a_pue_only_where_both_sides_cover_the_period(fleet):
    """dc1: October known from its bills (site 74,500 kWh, IT 52,150 kWh without a category),
    then on 24 November a category-1 UPS read over SNMP (00:00-10:00, 400 kWh) and the site
    meter over LoRaWAN (600 kWh). The category-1 meter is silent in October: that month's PUE
    comes from the IT bill (said so: no category); November so far and the year have no PUE,
    the IT side covering a few hours of them (never 75,100 / 400 = 187.75); the same figure,
    or the same absence with its reason, on the report, the API, the status, /metrics and the
    pages."""
    c, clock = fleet
    clock[0] = at(24, 10)
    doc = json.loads(get(c, "/report/2026.json")[1])
    (d,) = [d for d in doc["datacenters"] if d["datacenter"] == "dc1"]
    months = {m["month"]: m for m in d["months"]}
    october, november, year = months["2026-10"], months["2026-11"], d["year"]
    assert october["pue"] == pytest.approx(74500 / 52150, abs=1e-3)
    assert october["it_kwh"] == pytest.approx(52150) and october["it_category"] is None
    assert october["it_fallback"] is True and october["it_coverage"] == 1.0
    assert november["pue"] is None and november["pue_missing"] == "it_coverage"
    assert year["pue"] is None and year["pue_missing"] == "it_coverage"
    assert doc["indicators"]["pue"]["dc1"] is None
    for dc in doc["datacenters"]:  # no PUE anywhere from sides covering different periods
        for m in [*dc["months"], dc["year"]]:
            if m["pue"] is not None:
                assert min(m["it_coverage"], m["facility_coverage"]) >= 0.9, (dc, m)
    # the API answers the same rows (a month or year in progress: up to now)
    base = "/api/v1/datacenter/pue?datacenter=dc1&period="
    api_oct = json.loads(get(c, base + "month&start=2026-10-01")[1])
    api_nov = json.loads(get(c, base + "month&start=2026-11-01")[1])
    api_year = json.loads(get(c, base + "year&start=2026")[1])
    for api, row in ((api_oct, october), (api_nov, november), (api_year, year)):
        for k in ("pue_missing", "it_kwh", "facility_kwh", "it_category", "it_fallback"):
            assert api[k] == row[k], (row, k)
        # the report's months say 3 decimals, the API 4
        assert api["pue"] == (None if row["pue"] is None else pytest.approx(row["pue"], abs=5e-4))
    eu = json.loads(get(c, "/api/v1/datacenter/eu-report?year=2026")[1])
    assert next(r for r in eu["datacenters"] if r["datacenter"] == "dc1") == year
    # the status and /metrics: today's PUE (both sides read 00:00-10:00), none for the month
    s = surfaces(c)
    v = s["status"]["datacenters"]["dc1"]
    assert v["pue_today"] == pytest.approx(1.5) and v["pue_month"] is None
    assert v["pue_month_missing"] == "it_coverage" and v["pue_today_missing"] is None
    assert "PUE today 1.50 (site metered), this month — [it coverage]" in status_table(s["status"])
    assert metric(s["metrics"], "energy_dc_pue", datacenter="dc1", period="today") == 1.5
    assert "energy_dc_pue{" + 'basis="metered",datacenter="dc1",period="month"' not in s[
        "metrics"
    ].replace(", ", ",")
    assert 'datacenter="dc1",period="month"' not in s["metrics"]
    # the pages say why, in words, where the PUE is missing
    page = html.unescape(get(c, "/datacenters?lang=en")[1].decode())
    assert "– (IT readings cover 1.8% of the period, 90% needed)" in page
    fr = html.unescape(get(c, "/report/2026?lang=fr")[1].decode())
    en = html.unescape(get(c, "/report/2026?lang=en")[1].decode())
    assert "187,750" not in fr and "187.750" not in en
    # the year: the October IT bill covers more of it than the UPS (9.5 %, not 0.1 %)
    assert year["it_kwh"] == pytest.approx(52150) and year["it_fallback"] is True
    assert "– (relevés informatiques\u00a0: 9,5\u00a0% de la période, 90\u00a0% requis)" in fr
    assert "– (IT readings cover 9.5% of the period, 90% needed)" in en
    assert "1,429 (relevés informatiques sans catégorie)" in fr
    assert "1.429 (IT readings without a category)" in en
