"""The message catalogs are current and complete: every word the templates and the code mark
for translation is in each catalog, and the French one translates all of them (a translator
edits collector/render/locale/*/LC_MESSAGES/messages.po; `bash scripts/catalogs.sh` extracts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from collector.render.env import environment, translations

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "collector" / "render" / "locale"


def _ids(catalog) -> set[str]:  # type: ignore[no-untyped-def]
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_every_marked_word_is_in_each_catalog_and_french_translates_all(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            str(pybabel),
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "gettext:2",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as f:
        wanted = _ids(read_po(f))
    assert len(wanted) > 200
    for lang in ("fr", "en"):
        with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f, locale=lang)
        have = _ids(catalog)
        assert wanted - have == set(), f"{lang}: run bash scripts/catalogs.sh"
        assert have - wanted == set(), f"{lang}: words no longer used"
        if lang == "fr":
            untranslated = [
                m.id
                for m in catalog
                if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])
            ]
            assert untranslated == []
            fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
            assert fuzzy == []


def test_the_catalog_reaches_the_templates():
    assert translations("fr").gettext("Skip to content") == "Aller au contenu"
    page = environment("fr").from_string("{{ _('Glossary') }} {{ 1234567.5|num(1) }}").render()
    assert page == "Glossaire 1\u202f234\u202f567,5"
