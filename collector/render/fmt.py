"""Numbers, percentages and months the way a French or English reader writes them."""

from __future__ import annotations

from html import escape

LANGS = ("fr", "en")
NNBSP = "\u202f"  # French thousands separator and space before % (narrow no-break space)

MONTHS = {
    "fr": (
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def num(x: float | int | None, lang: str, digits: int = 0) -> str:
    """1 234,5 (fr) or 1,234.5 (en); an en dash for a figure that does not exist."""
    if x is None:
        return "–"
    if round(x, digits) == 0:
        x = 0  # a tiny negative is not written "−0,0"
    text = f"{x:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", NNBSP).replace(".", ",")
    return text.replace("-", "−")


def pct(x: float | None, lang: str, digits: int = 1) -> str:
    if x is None:
        return "–"
    sep = NNBSP if lang == "fr" else ""
    return f"{num(x * 100, lang, digits)}{sep}%"


def signed_pct(x: float | None, lang: str, digits: int = 1) -> str:
    if x is None:
        return "–"
    return ("+" if x > 0 else "") + pct(x, lang, digits)


def month(m: str, lang: str) -> str:
    """'2026-03' → 'mars' / 'Mar'."""
    return MONTHS[lang][int(m[5:7]) - 1]


def esc(x: object) -> str:
    return escape(str(x), quote=True)
