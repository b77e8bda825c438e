"""The accessibility statement (RGAA 4.1's form) filled from the configuration: served by the
web view at /accessibilite and written beside each published report by `energy-collector
report`, so that every page's footer links one."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from collector.render.env import gettext, render

if TYPE_CHECKING:
    from collector.config import CollectorConfig

TITLE = "Accessibility statement"
FILE = {"fr": "declaration-accessibilite.html", "en": "accessibility-statement.html"}


def context(cfg: CollectorConfig, lang: str) -> dict[str, Any]:
    w = cfg.web
    return {
        "title": gettext(lang, TITLE),
        "status": w.accessibility_status,
        "statement_status": w.accessibility_status,
        "audit": w.accessibility_audit,
        "contact": w.accessibility_contact,
        "made": w.accessibility_date or date.today().isoformat(),
        "site": w.public_url or cfg.yearly.public_url,
        "organisation": cfg.yearly.organisation,
    }


def page(cfg: CollectorConfig, lang: str, frame: dict[str, Any] | None = None) -> str:
    """The whole page; `frame` is the web view's navigation (none in a published folder)."""
    ctx: dict[str, Any] = {
        "nav": (),
        "other_href": FILE["en" if lang == "fr" else "fr"],
        "statement_href": FILE[lang],
        "base_url": "",
        "site_title": "",
        "live": False,
    }
    ctx.update(frame or {})
    ctx.update(context(cfg, lang))
    return render("web/accessibility.html", lang, **ctx)
