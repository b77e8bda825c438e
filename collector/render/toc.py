"""Page numbers for the printed table of contents. Chromium cannot compute them
(`target-counter()` is not implemented), so the report is printed once, poppler's
`pdftotext` says on which page each section's heading landed, the numbers are written into
the table of contents (shown in print only) and the page is printed again. Without
`pdftotext` the table of contents stays without numbers."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

TOC = re.compile(r'<nav class="toc".*?</nav>', re.S)
ENTRY = re.compile(r'<a href="#([\w-]+)">([^<]*)</a>')


def heading_pages(page: str, pdf: Path) -> dict[str, int]:
    """{anchor: page} for each entry of the table of contents, from the printed PDF: the
    page holding a line that is exactly the section's heading (a contents line holds two
    entries side by side, or its own number, so it never matches)."""
    exe = shutil.which("pdftotext")
    toc = TOC.search(page)
    if exe is None or toc is None:
        return {}
    done = subprocess.run(
        [exe, "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        return {}
    pages = [{ln.strip() for ln in p.splitlines()} for p in done.stdout.split("\f")]
    found: dict[str, int] = {}
    for anchor, _ in ENTRY.findall(toc.group(0)):
        m = re.search(rf'<h2 id="{re.escape(anchor)}">(.*?)</h2>', page, re.S)
        if m is None:
            continue
        title = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
        at = [n for n, lines in enumerate(pages, 1) if title in lines]
        if at:
            found[anchor] = at[-1] if len(at) > 1 else at[0]
    return found


def number_contents(html_path: Path, pdf_path: Path) -> str | None:
    """The page with the pages written into its table of contents; None when there is
    nothing to number (no contents, no pdftotext, no heading found)."""
    page = html_path.read_text(encoding="utf-8")
    found = heading_pages(page, pdf_path)
    toc = TOC.search(page)
    if not found or toc is None:
        return None

    def entry(m: re.Match[str]) -> str:
        n = found.get(m.group(1))
        return m.group(0) + (f'<span class="pg"> · {n}</span>' if n else "")

    return page[: toc.start()] + ENTRY.sub(entry, toc.group(0)) + page[toc.end() :]
