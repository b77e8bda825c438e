"""The templates' environment, one per language: Jinja2 with autoescaping (every value is
escaped unless it is already markup, like a chart's SVG), gettext from the message catalogs
(`locale/<lang>/LC_MESSAGES/messages.po`, compiled in memory by Babel when first used, so a
compiled file can never be older than its catalog), and the CLDR formats of collector.render.fmt
as filters. A translator edits a catalog, never code; `scripts/catalogs.sh` extracts the words."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from collector.render import charts, citations, fmt, words

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
LOCALE_DIR = HERE / "locale"


@cache
def translations(lang: str) -> Translations:
    """The language's catalog, compiled in memory from its .po file."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=fmt.LOCALES[lang])
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def gettext(lang: str, message: str) -> str:
    return str(translations(lang).gettext(message))


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(lang=lang, other_lang="en" if lang == "fr" else "fr")
    env.filters.update(
        num=lambda x, d=0: fmt.num(x, lang, d),
        pct=lambda x, d=1: fmt.pct(x, lang, d),
        signed_pct=lambda x, d=1: fmt.signed_pct(x, lang, d),
        signed_num=lambda x, d=0: fmt.signed_num(x, lang, d),
        month=lambda m: fmt.month(m, lang),
        long_date=lambda d: fmt.long_date(d, lang),
        moment=lambda t: fmt.moment(t, lang),
        unit=lambda x, sym, d=0: fmt.unit(x, sym, lang, d),
        energy=lambda x: fmt.energy(x, lang),
        co2=lambda x: fmt.co2(x, lang),
        dc_series=lambda d: (d["datacenter"], [m["pue"] for m in d["months"]]),
    )
    tr = translations(lang)
    env.globals.update(
        kind_name=lambda k: tr.gettext(words.KIND.get(k) or k),
        source_name=lambda b: tr.gettext(
            citations.PROFILES if "power-profiles.yaml" in b else citations.BASES.get(b) or b
        ),
        origin_name=lambda k: tr.gettext(words.ORIGIN.get(k) or k),
        counted_from=lambda keys: ", ".join(
            tr.gettext(words.COUNTED_FROM.get(k) or k) for k in keys
        ),
        blocker_name=lambda w: words.blocker(w, tr.gettext),
        indicator_name=lambda k: tr.gettext(words.INDICATOR.get(k) or k),
        bars=lambda labels, values, title, desc, unit: Markup(
            charts.bars(labels, values, title, desc, unit, lang)
        ),
        hbars=lambda labels, values, title, desc, unit: Markup(
            charts.hbars(labels, values, title, desc, unit, lang)
        ),
        stacked=lambda labels, series, title, desc, unit: Markup(
            charts.stacked(labels, series, title, desc, unit, lang)
        ),
        lines=lambda labels, series, title, desc, unit, **k: Markup(
            charts.lines(labels, series, title, desc, unit, lang, **k)
        ),
    )
    return env


def render(template: str, lang: str, **context: Any) -> str:
    return environment(lang).get_template(template).render(**context)
