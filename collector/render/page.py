"""The page around the content: one inline stylesheet (print included), a skip link, the
navigation, the language switch; and tables with a caption and header cells (RGAA)."""

from __future__ import annotations

from collections.abc import Sequence

from collector.render.fmt import esc

CSS = """
:root{--ink:#1b1b1b;--muted:#555;--line:#c8c8c8;--accent:#1f5fa8;--bad:#a4161a;--ok:#1b6e2a}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff}
a{color:var(--accent)}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}
header{border-bottom:2px solid var(--accent);padding-top:.5rem}
header p{margin:.2rem 0;color:var(--muted)}
nav ul{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-wrap:wrap;gap:.2rem 1.2rem}
nav a[aria-current]{font-weight:700;text-decoration:none;color:var(--ink)}
h1{font-size:1.6rem;margin:.6rem 0}h2{font-size:1.3rem;margin:2rem 0 .5rem;
border-bottom:1px solid var(--line)}h3{font-size:1.1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem;width:100%}
caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border-bottom:1px solid var(--line);padding:.25rem .5rem;text-align:right;
vertical-align:top}
th:first-child,td:first-child{text-align:left}
thead th{border-bottom:2px solid var(--ink)}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem;padding:0;list-style:none}
.tiles li{border:1px solid var(--line);padding:.5rem .8rem;min-width:10rem}
.tiles strong{display:block;font-size:1.4rem}
.note{color:var(--muted);font-size:.9rem}
.bad{color:var(--bad);font-weight:600}.ok{color:var(--ok);font-weight:600}
svg.chart{width:100%;height:auto;max-width:640px;font-size:11px;fill:var(--ink)}
svg .grid{stroke:#e2e2e2}svg .unit{fill:var(--muted)}
form.inline{display:inline}
@media print{nav,.skip,.lang,form{display:none}body{font-size:11pt}h2{break-after:avoid}
table,svg{break-inside:avoid}a{color:inherit;text-decoration:none}}
"""


def table(
    caption: str,
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    foot: Sequence[str] | None = None,
) -> str:
    """Cells are already escaped HTML; the first column is each row's header."""
    out = [f"<table><caption>{esc(caption)}</caption><thead><tr>"]
    out += [f'<th scope="col">{esc(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append(f'<tr><th scope="row">{r[0]}</th>' + "".join(f"<td>{c}</td>" for c in r[1:]))
        out.append("</tr>")
    out.append("</tbody>")
    if foot:
        out.append(f'<tfoot><tr><th scope="row">{foot[0]}</th>')
        out += [f"<td>{c}</td>" for c in foot[1:]]
        out.append("</tr></tfoot>")
    out.append("</table>")
    return "".join(out)


def document(
    lang: str,
    title: str,
    body: str,
    nav: Sequence[tuple[str, str, bool]] = (),
    subtitle: str = "",
    other_lang: tuple[str, str] | None = None,
    refresh_s: int | None = None,
    extra_head: str = "",
) -> str:
    """A whole page; `nav` is (href, label, current), `other_lang` (href, label)."""
    head = [
        "<!doctype html>",
        f'<html lang="{esc(lang)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{esc(title)}</title>",
        '<link rel="icon" href="data:,">',  # no favicon request: the page is one response
    ]
    if refresh_s:
        head.append(f'<meta http-equiv="refresh" content="{int(refresh_s)}">')
    head.append(f"<style>{CSS}</style>{extra_head}</head><body>")
    skip = "Aller au contenu" if lang == "fr" else "Skip to content"
    top = [f'<a class="skip" href="#main">{skip}</a><header>']
    if nav:
        label = "Navigation principale" if lang == "fr" else "Main navigation"
        top.append(f'<nav aria-label="{label}"><ul>')
        for href, text, current in nav:
            cur = ' aria-current="page"' if current else ""
            top.append(f'<li><a href="{esc(href)}"{cur}>{esc(text)}</a></li>')
        if other_lang:
            top.append(
                f'<li class="lang"><a href="{esc(other_lang[0])}" '
                f'hreflang="{"en" if lang == "fr" else "fr"}">{esc(other_lang[1])}</a></li>'
            )
        top.append("</ul></nav>")
    top.append(f"<h1>{esc(title)}</h1>")
    if subtitle:
        top.append(f"<p>{subtitle}</p>")
    top.append("</header>")
    return "".join(head + top) + f'<main id="main">{body}</main></body></html>'
