"""The yearly report as one HTML page, French or English, from the figures document, through
the templates in collector/render/templates/report/ (autoescaped; words from the catalogs).

Scope and data quality come first; every chart is followed by the table of its numbers;
objectives not met and regressions are said in words, not only in colour. The page is
self-contained (inline CSS and SVG, no script, no font, no external resource) so it can be
published as a static file and printed to PDF (A4, page numbers, running title) as it is.
Figures come from the document (collector/yearly/figures.py); the templates only say them.
"""

from __future__ import annotations

from typing import Any

from collector.render import citations
from collector.render.env import gettext
from collector.render.env import render as render_template
from collector.render.fmt import month


def _title(doc: dict[str, Any], lang: str) -> str:
    return gettext(lang, "Digital sobriety indicators %(year)s") % {"year": doc["year"]}


def render(
    doc: dict[str, Any],
    lang: str = "fr",
    open_data_href: str | None = None,
    frame: dict[str, Any] | None = None,
    base_url: str = "",
    statement_status: str = "none",
    statement_href: str | None = None,
) -> str:
    """The whole page. `frame` is the web view's navigation and footer context; without it
    (a static file, the PDF) links are made absolute with `base_url` where one is known."""
    months = [month(r["month"], lang) for r in doc["energy"]["by_month"]]
    ctx: dict[str, Any] = {
        "nav": (),
        "other_href": None,
        "site_title": "",
        "organisation": doc.get("organisation") or "",
        "statement_status": statement_status,
        "statement_href": statement_href,
        "base_url": base_url,
        "pdf_href": None,
    }
    ctx.update(frame or {})
    sources = [
        {
            k: (gettext(lang, v) if k in ("version", "what", "title", "publisher") and v else v)
            for k, v in s.items()
        }
        for s in citations.SOURCES
    ]
    return render_template(
        "report/report.html",
        lang,
        doc=doc,
        title=_title(doc, lang),
        months=months,
        min_group=doc.get("open_data", {}).get("min_group_hosts", 3),
        open_data_href=open_data_href,
        sources=sources,
        **ctx,
    )
