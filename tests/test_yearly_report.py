"""The yearly REEN report of a simulated year: its totals against the simulator's ground
truth and the bills, the open-data package validated by frictionless, the public edition
naming no host, the NumEcoEval export, the PDF, and what goes wrong said clearly."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import frictionless
import pytest
from collector_helpers import make_config
from year_helpers import YEAR, days_in, truth_kwh, truth_pue

from collector.compliance.report import Rules, rates_between
from collector.compliance.settings import build_calendars
from collector.ledger import Ledger
from collector.yearly import opendata
from collector.yearly.build import ReportError, build, print_pdf, settings
from collector.yearly.figures import compute, yearly_figures

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
ROOT = Path(__file__).resolve().parent.parent
PAGE_BUDGET = 150 * 1024  # the report's HTML, everything inline (docs/report.md)

OBJECTIVES = [
    # workstation energy: a baseline it beats, and one it does not
    {"indicator": "endpoint_kwh", "baseline_value": 1e9, "change": -0.10, "label": "−10 %"},
    {"indicator": "endpoint_kwh", "baseline_value": 10.0, "change": -0.10},
    {"indicator": "compliance_rate", "target": 0.99},
    {"indicator": "pue", "target": 1.2},
    {"indicator": "pue", "target": 2.5, "datacenter": "dc1"},
    # no ledger data for 2024: cannot be assessed, not invented
    {"indicator": "total_kwh", "baseline_year": 2024, "change": -0.05},
]


@pytest.fixture(scope="module")
def year(simulated_year, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("yearly")
    url = simulated_year.copy_ledger(tmp)
    cfg = make_config(
        tmp,
        url,
        compliance={"enabled": True},
        yearly={"organisation": "Ville de Test", "objectives": OBJECTIVES},
    )
    ledger = Ledger(url)
    yield simulated_year, cfg, ledger, tmp
    ledger.close()


def figures(cfg, ledger, edition="public"):
    return yearly_figures(ledger, YEAR, settings(cfg), edition)


def test_totals_match_the_simulators_ground_truth(year):
    sim, cfg, ledger, _ = year
    doc = figures(cfg, ledger)
    truth = truth_kwh(sim.sim)
    for row in doc["energy"]["by_month"]:
        for kind in ("desktop", "laptop", "vm"):
            want = truth.get((kind, row["month"]), 0.0)
            assert row[kind] == pytest.approx(want, rel=1e-4, abs=1e-3), (kind, row["month"])
    endpoint = sum(v for (k, _), v in truth.items() if k != "vm")
    assert doc["indicators"]["endpoint_kwh"] == pytest.approx(endpoint, rel=1e-4)
    sc = doc["scope"]
    assert sc["hosts_reporting"] == sc["hosts_known"] == len(sim.sim.hosts)
    assert sc["days_with_data"] == sc["days_in_year"] == days_in(YEAR)
    assert sc["time_coverage"] == pytest.approx(1.0, abs=1e-3)
    assert sc["energy_shares"]["measured"] == 0.0  # the simulator measures nothing
    assert sc["energy_shares"]["modelled"] + sc["energy_shares"]["attributed"] == pytest.approx(1)
    # datacenters metered: VMs are inside their IT energy, shown, not added again
    assert sc["servers_in_datacenter_energy"] is True
    vm = next(k for k in doc["energy"]["by_kind"] if k["kind"] == "vm")
    assert vm["in_total"] is False
    facility = sum(r["kwh"] for r in sim.readings if r["role"] == "facility")
    assert doc["indicators"]["total_kwh"] == pytest.approx(endpoint + facility, rel=1e-4)
    assert doc["indicators"]["usage_kgco2e"] == pytest.approx(
        (endpoint + facility) * cfg.carbon.static_kg_per_kwh, rel=1e-4
    )


def test_off_hours_agree_with_the_ledgers_own_rates_and_the_truth(year):
    sim, cfg, ledger, _ = year
    doc = figures(cfg, ledger)
    oh = doc["offhours"]
    c = cfg.compliance
    rules = Rules(c.tolerance_s, c.coverage_min, c.repeat_offender_periods, c.tariff_eur_per_kwh)
    by_site = rates_between(ledger, rules, f"{YEAR}-01-01", f"{YEAR}-12-31", "site")
    assert oh["year"]["host_periods"] == sum(r["host_periods"] for r in by_site)
    assert oh["year"]["noncompliant"] == sum(r["noncompliant"] for r in by_site)
    assert sum(m["host_periods"] for m in oh["by_month"]) == oh["year"]["host_periods"]
    # the truth: each host's on-time per period from its true timeline
    cal = build_calendars(c)[c.default_calendar]
    truth = sim.sim.truth_offhours(cal, tuple(c.exempt_kinds))
    periods = {
        (hid, start)
        for hid, start in ledger.execute(
            "SELECT host_id, period_start FROM host_periods WHERE day >= ? AND day <= ?",
            (f"{YEAR}-01-01", f"{YEAR}-12-31"),
        )
    }
    left_on = {(h, p) for h, per in truth.items() for p, on in per.items() if on > c.tolerance_s}
    assert {x for x in left_on if x in periods} == {
        (hid, start)
        for hid, start in ledger.execute(
            "SELECT host_id, period_start FROM host_periods WHERE day >= ? AND day <= ? "
            "AND on_s > ?",
            (f"{YEAR}-01-01", f"{YEAR}-12-31", c.tolerance_s),
        )
    }
    per_host = Counter(h for h, p in left_on if (h, p) in periods)
    ro = oh["recurring_offenders"]
    assert ro["hosts"] == sum(n >= cfg.yearly.recurring_offender_periods for n in per_host.values())
    assert ro["hosts_left_on_at_least_once"] == len(per_host)
    assert ro["hosts"] >= sum(h.left_on for h in sim.sim.hosts) > 0
    assert "named" not in ro
    assert oh["top_blockers"][0]["app"] == "Teams.exe"
    assert oh["year"]["wasted_kwh"] > 0 and oh["year"]["eur"] > 0


def test_datacenter_pue_is_the_bills_ratio_month_by_month(year):
    sim, cfg, ledger, _ = year
    doc = figures(cfg, ledger)
    want = truth_pue(sim.readings)
    assert [d["datacenter"] for d in doc["datacenters"]] == ["dc1", "dc2", "dc3"]
    for d in doc["datacenters"]:
        for m in d["months"]:
            assert m["pue"] == pytest.approx(want[(d["datacenter"], m["month"])], abs=1e-3)
            assert m["it_coverage"] == pytest.approx(1.0) and m["facility_coverage"] == 1.0
        fac = sum(
            r["kwh"]
            for r in sim.readings
            if r["datacenter"] == d["datacenter"] and r["role"] == "facility"
        )
        it = sum(
            r["kwh"]
            for r in sim.readings
            if r["datacenter"] == d["datacenter"] and r["role"] == "it"
        )
        assert d["year"]["pue"] == pytest.approx(fac / it, abs=1e-4)


def test_objectives_say_met_not_met_regression_and_cannot_be_assessed(year):
    _, cfg, ledger, _ = year
    objs = figures(cfg, ledger)["objectives"]
    beat, missed, rate, pue_all, pue_dc1, no_base = objs
    assert beat["met"] is True and beat["regression"] is False and beat["change"] < -0.5
    assert missed["met"] is False and missed["regression"] is True
    assert missed["target"] == pytest.approx(9.0)
    assert rate["met"] is False and rate["target"] == 0.99  # some desktops stay on
    assert pue_all["met"] is False and pue_all["value"] > 1.2
    assert pue_dc1["met"] is True and pue_dc1["datacenter"] == "dc1"
    assert no_base["baseline"] is None and no_base["met"] is None and no_base["change"] is None
    # the way from the baseline to the target: beyond it, moving away, or not known
    assert beat["progress"] == pytest.approx(
        (beat["value"] - beat["baseline"]) / (beat["target"] - beat["baseline"]), abs=1e-3
    )
    assert beat["progress"] >= 1 and missed["progress"] < 0 and no_base["progress"] is None
    assert all(o["previous"] is None for o in objs)  # the ledger starts with this year


def test_fleet_age_and_renewals_add_up(year):
    sim, cfg, ledger, _ = year
    fl = figures(cfg, ledger)["fleet"]
    physical = [h for h in sim.sim.hosts if h.kind != "vm"]
    assert fl["physical_hosts"] == len(physical)
    assert sum(a["hosts"] for a in fl["age_distribution"]) + fl["age_unknown"] == len(physical)
    assert sum(r["hosts"] for r in fl["renewals_due"]) == len(physical) - fl["age_unknown"]
    ages = [YEAR - int(h.manufactured[:4]) + (12 - int(h.manufactured[5:7])) / 12 for h in physical]
    assert fl["mean_age_years"] == pytest.approx(sum(ages) / len(ages), abs=0.06)
    # a desktop made in 2015 with a 5-year lifetime is due now, not in 2020
    assert min(r["year"] for r in fl["renewals_due"]) >= YEAR


def _names(sim) -> list[str]:
    return [h.hostname for h in sim.sim.hosts] + [h.agent_id for h in sim.sim.hosts]


def test_public_edition_and_open_data_name_no_host_and_validate(year):
    sim, cfg, _ledger, tmp = year
    out = tmp / "public"
    written = build(cfg, YEAR, ("html", "json"), out, "fr", "public")
    html = Path(written["html"]).read_text()
    text = html + Path(written["json"]).read_text()
    data_dir = Path(written["datapackage"]).parent
    for f in sorted(data_dir.rglob("*")):
        if f.is_file():
            text += f.read_text()
    for name in _names(sim):
        assert name not in text, name
    # frictionless validates every resource, CSV and JSON, against its Table Schema
    report = frictionless.validate(str(data_dir / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])[:5]
    package = json.loads((data_dir / "datapackage.json").read_text())
    assert {r["format"] for r in package["resources"]} == {"csv", "json"}
    assert len(package["resources"]) == 2 * len(
        opendata.tables(json.loads(Path(written["json"]).read_text()))
    )
    # the CSV and the report say the same total
    rows = list(csv.DictReader(io.StringIO((data_dir / "energy_monthly.csv").read_text())))
    total = sum(float(r["kwh"]) for r in rows if r["kind"] == "total")
    doc = json.loads(Path(written["json"]).read_text())
    assert total == pytest.approx(doc["indicators"]["total_kwh"], rel=1e-6)
    # small groups are merged: no department × site cell under min_group_hosts machines
    cells = list(
        csv.DictReader(io.StringIO((data_dir / "energy_by_site_department.csv").read_text()))
    )
    agents = [r for r in cells if r["origin"] == "agents"]
    assert all(int(r["hosts"]) >= cfg.yearly.min_group_hosts for r in agents)
    assert sum(int(r["hosts"]) for r in agents) == len(sim.sim.hosts)
    # with the datacenters' meters at their site, the rows add up to the total
    assert sum(float(r["kwh"]) for r in cells) == pytest.approx(total, abs=0.01)
    assert all(r["hosts"] == "" for r in cells if r["origin"] != "agents")
    # RGESN: light, self-contained, no script
    assert len(html.encode()) <= PAGE_BUDGET
    # links to the sources are for the reader to follow; nothing is fetched from elsewhere
    assert "<script" not in html and not re.search(r"""(src|<link[^>]+href)=["']https?://""", html)
    assert '<html lang="fr">' in html and "Périmètre et qualité des données" in html
    # the ledger starts with this year: it says it is the baseline, on the first page
    assert f"{YEAR} est la première année mesurée" in html
    assert "Chemin vers la cible" in html and "s'en éloigne" in html
    assert html.index("première année mesurée") < html.index('id="scope"')
    # the French edition speaks French: no configuration key, no English word, no "(s)"
    for word in ("yearly.", "compliance.", "embodied", "display:", "(s)", "kgCO2e", "ademe-"):
        assert word not in html.split("<body>")[1].split("<footer>")[0], word


def test_a_broken_package_fails_validation(year, tmp_path):
    """The validation above can fail: a number column with text in it is caught."""
    _, cfg, ledger, _tmp = year
    doc = figures(cfg, ledger)
    pkg = opendata.write_package(doc, tmp_path / "od")
    p = tmp_path / "od" / "offhours_monthly.csv"
    lines = p.read_text().splitlines()
    cells = lines[1].split(",")
    cells[5] = "beaucoup"  # the rate column
    lines[1] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")
    report = frictionless.validate(str(pkg))
    assert not report.valid
    assert any("beaucoup" in str(e) or "type" in str(e) for e in report.flatten(["message"]))


def test_internal_edition_names_recurring_offenders_and_makes_no_open_data(year):
    sim, cfg, ledger, tmp = year
    written = build(cfg, YEAR, ("html",), tmp / "internal", "en", "internal")
    assert "datapackage" not in written
    html = Path(written["html"]).read_text()
    left_on = [h.hostname for h in sim.sim.hosts if h.left_on]
    assert left_on and all(name in html for name in left_on)
    assert "internal edition (names machines: do not publish)" in html
    with pytest.raises(ValueError, match="public edition only"):
        opendata.write_package(figures(cfg, ledger, "internal"), tmp / "nope")


def test_numecoeval_export_has_its_columns_and_the_measured_kwh(year):
    sim, cfg, ledger, _tmp = year
    _, hosts = compute(ledger, YEAR, settings(cfg))
    text = opendata.numecoeval_csv(ledger, hosts, dict(cfg.yearly.numecoeval_types))
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert list(rows[0]) == list(opendata.NUMECOEVAL_COLUMNS)
    physical = {h.agent_id: h for h in sim.sim.hosts if h.kind != "vm"}
    assert {r["nomEquipementPhysique"] for r in rows} == set(physical)
    truth = truth_kwh(sim.sim)
    assert sum(float(r["consoElecAnnuelle"]) for r in rows) == pytest.approx(
        sum(v for (k, _), v in truth.items() if k != "vm"), rel=1e-4
    )
    for r in rows:
        h = physical[r["nomEquipementPhysique"]]
        assert r["type"] == {"desktop": "Desktop", "laptop": "Laptop"}[h.kind]
        assert r["dateAchat"] == f"{h.manufactured}-01"
        assert r["paysDUtilisation"] == "France" and r["quantite"] == "1"
        assert re.fullmatch(r"\d{1,7}(\.\d{1,3})?", r["consoElecAnnuelle"])
        assert 200 <= int(r["nbJourUtiliseAn"]) <= 366
    assert not any(h.hostname in text for h in sim.sim.hosts)


def test_cli_writes_html_pdf_and_json(year):
    _, cfg, _ledger, tmp = year
    conf = tmp / "collector.yaml"
    site = "https://reen.example.org/2025"
    conf.write_text(
        json.dumps(
            {
                "state_dir": str(tmp / "st"),
                "ledger": {"url": cfg.ledger.url},
                "yearly": {"public_url": site, "organisation": "Ville de Test"},
                "web": {"accessibility_contact": "accessibilite@example.org"},
            }
        )
    )
    out = tmp / "cli"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "collector.cli",
            "report",
            "-c",
            str(conf),
            "--year",
            str(YEAR),
            "--format",
            "html,pdf,json",
            "--out",
            str(out),
            "--lang",
            "en",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    path = out / f"reen-report-{YEAR}.pdf"
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") + pdf.count(b"/Type/Page") >= 3
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    # A4, numbered "3 / 11", a running title from the second page on
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert re.search(r"Page size:\s+59[45]\.\d+ x 84[12]\.\d+ pts \(A4\)", info.stdout), info.stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout.split("\f")
    title = f"Digital sobriety indicators {YEAR}"
    for n in range(1, pages + 1):
        assert re.search(rf"^\s*{n} / {pages}\s*$", text[n - 1], re.M), (n, text[n - 1][-200:])
        assert title in text[n - 1].splitlines()[0], n  # the running title (page 1: the h1)
    assert "Contents" in text[0] and "Did we improve?" in text[0]  # both on the first page
    # the printed contents give each section's page, and the section is there
    toc = re.findall(r"(\d)\. ([A-Z][\w -]+?) · (\d+)", text[0])
    assert len(toc) == 8, text[0]
    for number, name, page in toc:
        lines = [ln.strip() for ln in text[int(page) - 1].splitlines()]
        assert f"{number}. {name}" in lines or (name == "Glossary" and name in lines), name
    assert not list(out.glob(".print-*"))  # the published page is not the numbered copy
    # no half-empty page between sections: each page but the last is mostly filled
    for n, page in enumerate(text[: pages - 1], 1):
        assert len([ln for ln in page.splitlines() if ln.strip()]) > 20, n
    # links work from the PDF: absolute, to the published folder
    assert (
        f"(/URI ({site}/open-data-{YEAR}/datapackage.json)".encode()
        in pdf.replace(b"/URI(", b"/URI (")
        or f"{site}/open-data-{YEAR}/datapackage.json".encode() in pdf
    )
    assert (out / "accessibility-statement.html").exists()
    statement = (out / "declaration-accessibilite.html").read_text()
    assert "Ville de Test s'engage" in statement and "accessibilite@example.org" in statement
    # the published files too: no axe violation in the report and its statements
    from browser import Browser

    b = Browser(tmp / "browser")
    try:
        for name in (
            f"reen-report-{YEAR}.html",
            "accessibility-statement.html",
            "declaration-accessibilite.html",
        ):
            b.get((out / name).resolve().as_uri())
            assert b.axe() == [], name
    finally:
        b.close()
    assert (out / f"reen-report-{YEAR}.json").exists()
    assert (out / f"open-data-{YEAR}" / "datapackage.json").exists()
    assert (out / f"numecoeval-{YEAR}" / "equipements_physiques.csv").exists()
    bad = subprocess.run(
        [sys.executable, "-m", "collector.cli", "report", "-c", str(conf), "--format", "docx"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert bad.returncode == 1 and "format: 'docx': use html, pdf or json" in bad.stderr


def test_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    page = tmp_path / "r.html"
    page.write_text("<p>x</p>")
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on it
    with pytest.raises(ReportError, match=r"headless Chromium is needed.*apt install chromium"):
        print_pdf(page, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_a_year_without_data_or_not_begun_has_no_report(tmp_path):
    """2031 has not begun and 2024 has nothing in the ledger: the command refuses both (a
    report of zeros said "sleep 0.0 %"); the figures themselves still never crash."""
    from collector.ledger import Ledger
    from collector.yearly.build import ReportError, settings
    from collector.yearly.figures import yearly_figures

    cfg = make_config(tmp_path, yearly={"objectives": [{"indicator": "pue", "target": 1.5}]})
    for year, why in ((2031, "future"), (2024, "no data")):
        with pytest.raises(ReportError, match=f"no report of {year}: {why}"):
            build(cfg, year, ("html", "json"), tmp_path / "out", "fr")
    assert not (tmp_path / "out").exists()
    led = Ledger(cfg.ledger.url)
    doc = yearly_figures(led, 2024, settings(cfg), "public")
    assert doc["scope"]["hosts_known"] == 0 and doc["indicators"]["total_kwh"] == 0
    assert doc["objectives"][0]["met"] is None
    assert doc["scope"]["energy_basis"]["shares"]["measured"] is None


def test_the_monthly_energy_by_origin_adds_up_to_each_months_total(year):
    _, cfg, ledger, _ = year
    doc = figures(cfg, ledger, "public")
    parts = {p["key"]: p for p in doc["energy"]["by_origin"]}
    # the simulated city: PCs with the agent, datacenters billed with a site meter (so the
    # VMs are "of which", not added), hence PCs, datacenter IT and overhead
    assert {"pcs", "datacenter_it", "datacenter_overhead"} <= set(parts)
    assert "vms" not in parts
    for m, row in enumerate(doc["energy"]["by_month"]):
        assert sum(p["values"][m] for p in parts.values()) == pytest.approx(
            row["total_kwh"], abs=0.01
        )
    assert sum(p["total"] for p in parts.values()) == pytest.approx(
        doc["indicators"]["total_kwh"], abs=0.05
    )
    # PCs are a visible share, not hidden in one colour
    assert parts["pcs"]["total"] > 0


def test_chart_ticks_are_round_and_labels_do_not_touch():
    from collector.render import charts

    assert charts.nice_step(3_177_589 / 12 * 1.2) in (100_000.0, 200_000.0)
    assert charts.nice_max(303_134) == 400_000.0
    assert charts.nice_max(1.517, 1.0) == 1.6
    svg = charts.stacked(
        [f"M{i}" for i in range(12)], [("a", [1.0] * 12), ("b", [2.0] * 12)], "t", "d", "kWh", "fr"
    )
    ticks = re.findall(r'text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["0", "1", "2", "3"]  # round steps up to the top of the highest bar
    assert 'class="unit">kWh</text>' in svg
    # 40 long labels cannot all fit under the axis: every other one is drawn
    many = charts.bars([f"label-{i}" for i in range(40)], [1.0] * 40, "t", "d", "u", "en")
    assert many.count('text-anchor="middle"') == 20
