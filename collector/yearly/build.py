"""`energy-collector report`: the yearly report from the configuration and the ledger, as
HTML, PDF (printed by headless Chromium) or JSON, with its open data and NumEcoEval export."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.config import CollectorConfig
from collector.ledger import Ledger
from collector.model.carbon import CarbonModel, load_eco2mix
from collector.model.profiles import ProfileBook
from collector.render import statement, toc
from collector.yearly import html, opendata
from collector.yearly.figures import Objective, Settings, compute, year_missing

FORMATS = ("html", "pdf", "json")
CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ReportError(Exception):
    """The report cannot be produced; the message says why and what to do."""


def settings(cfg: CollectorConfig, now: float | None = None) -> Settings:
    carbon = CarbonModel(cfg.carbon.static_kg_per_kwh, cfg.carbon.static_basis)
    if cfg.carbon.hourly_file:
        carbon.hourly = load_eco2mix(cfg.carbon.hourly_file)
    y, c = cfg.yearly, cfg.compliance
    return Settings(
        book=ProfileBook.load(cfg.profiles_path()),
        carbon=carbon,
        tariff_eur_per_kwh=c.tariff_eur_per_kwh,
        tolerance_s=c.tolerance_s,
        coverage_min=c.coverage_min,
        recurring_offender_periods=y.recurring_offender_periods,
        min_group_hosts=y.min_group_hosts,
        tz=cfg.ledger.timezone,
        organisation=y.organisation,
        policy=cfg.policy,
        inventory=cfg.inventory,
        objectives=tuple(
            Objective(
                o.indicator,
                o.label,
                o.baseline_year,
                o.baseline_value,
                o.change,
                o.target,
                o.datacenter,
            )
            for o in y.objectives
        ),
        datacenter_years=tuple(cfg.datacenter_years),
        now=now,
        lorawan_in_total=y.lorawan_in_total,
    )


def find_chromium() -> str | None:
    for name in CHROMIUMS:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120.0) -> None:
    """Headless Chromium prints the page (A4 from the page's print stylesheet); a page with
    a table of contents is printed twice, the second time with its page numbers."""
    _print(html_path, pdf_path, timeout_s)
    numbered = toc.number_contents(html_path, pdf_path)
    if numbered is not None:
        # printed from a copy beside it (same relative links): the published page is kept
        copy = html_path.with_name(f".print-{html_path.name}")
        copy.write_text(numbered, encoding="utf-8")
        try:
            _print(copy, pdf_path, timeout_s)
        finally:
            copy.unlink(missing_ok=True)


def _print(html_path: Path, pdf_path: Path, timeout_s: float) -> None:
    exe = find_chromium()
    if exe is None:
        raise ReportError(
            "PDF: headless Chromium is needed and none was found (Debian: apt install "
            f"chromium); the HTML edition is at {html_path}"
        )
    with tempfile.TemporaryDirectory(prefix="energy-report-chromium-") as profile:
        args = [
            exe,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            done = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"PDF: Chromium did not finish within {timeout_s:.0f} s") from None
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise ReportError(f"PDF: Chromium failed (exit {done.returncode}): {' | '.join(tail)}")


def build(
    cfg: CollectorConfig,
    year: int,
    formats: tuple[str, ...],
    out: Path,
    lang: str | None = None,
    edition: str = "public",
    now: float | None = None,
) -> dict[str, Any]:
    """Writes the report in each format, and with the public edition its open data and
    the NumEcoEval export, under `out`; returns {what: path}."""
    for f in formats:
        if f not in FORMATS:
            raise ReportError(f"format: {f!r}: use html, pdf or json")
    lang = lang or cfg.yearly.language
    s = settings(cfg, now)
    ledger = Ledger(cfg.ledger.url)
    try:
        why = year_missing(ledger, year, cfg.ledger.timezone, time.time() if now is None else now)
        if why is not None:
            raise ReportError(f"no report of {year}: {why}")
        doc, hosts = compute(ledger, year, s, edition)
        written: dict[str, Any] = {}
        out.mkdir(parents=True, exist_ok=True)
        stem = f"rapport-reen-{year}" if lang == "fr" else f"reen-report-{year}"
        if edition == "internal":
            stem += "-interne" if lang == "fr" else "-internal"
        data_dir = out / f"open-data-{year}"
        if edition == "public":
            written["datapackage"] = str(opendata.write_package(doc, data_dir))
            nee = out / f"numecoeval-{year}" / "equipements_physiques.csv"
            nee.parent.mkdir(parents=True, exist_ok=True)
            nee.write_text(
                opendata.numecoeval_csv(ledger, hosts, dict(cfg.yearly.numecoeval_types)),
                encoding="utf-8",
            )
            written["numecoeval"] = str(nee)
    finally:
        ledger.close()
    if "json" in formats:
        p = out / f"{stem}.json"
        p.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        written["json"] = str(p)
    if "html" in formats or "pdf" in formats:
        # links relative to the published folder, absolute where its address is known (a
        # link in a PDF has no folder to be relative to)
        base = cfg.yearly.public_url.rstrip("/")
        prefix = f"{base}/" if base else ""
        href = f"{prefix}{data_dir.name}/datapackage.json" if edition == "public" else None
        for code in ("fr", "en"):
            (out / statement.FILE[code]).write_text(statement.page(cfg, code), encoding="utf-8")
        written["statement"] = str(out / statement.FILE[lang])
        p = out / f"{stem}.html"
        page = html.render(
            doc,
            lang,
            href,
            base_url=base,
            statement_status=cfg.web.accessibility_status,
            statement_href=prefix + statement.FILE[lang],
        )
        p.write_text(page, encoding="utf-8")
        written["html"] = str(p)
        if "pdf" in formats:
            pdf = out / f"{stem}.pdf"
            print_pdf(p, pdf)
            written["pdf"] = str(pdf)
    return written
