"""Bar and line charts as inline SVG: a title and a description for screen readers
(role="img", aria-labelledby), distinct dash patterns as well as colours for lines, and the
numbers always given again in a table by the caller (RGAA: the chart is never the only way)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from collector.render.fmt import esc, num

W, H = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 30
COLOURS = ("#1f5fa8", "#b5481c", "#2e7d32", "#6a3d9a", "#8a6d00", "#37474f")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
_ids = iter(range(1, 1 << 30))


def nice_max(x: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n at or above x (an axis that reads well)."""
    if x <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= x * (1 - 1e-12):
            return float(m * e)
    return float(10 * e)


def _frame(title: str, desc: str, ymax: float, lang: str, unit: str, ymin: float = 0.0) -> str:
    n = next(_ids)
    parts = [
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="c{n}t c{n}d" class="chart">',
        f'<title id="c{n}t">{esc(title)}</title><desc id="c{n}d">{esc(desc)}</desc>',
    ]
    step = (ymax - ymin) / 4
    # as many decimals as the tick step needs (2.5 → 1, 0.25 → 2), no more
    digits = next((d for d in range(4) if abs(step * 10**d - round(step * 10**d)) < 1e-9), 3)
    for i in range(5):
        v = ymin + (ymax - ymin) * i / 4
        y = TOP + (H - TOP - BOTTOM) * (1 - i / 4)
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{num(v, lang, digits)}</text>'
        )
    parts.append(f'<text x="4" y="{TOP - 2}" class="unit">{esc(unit)}</text>')
    return "".join(parts)


def _x(i: int, n: int) -> float:
    return LEFT + (W - LEFT - RIGHT) * (i + 0.5) / max(n, 1)


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    title: str,
    desc: str,
    unit: str,
    lang: str,
) -> str:
    top = nice_max(max((v or 0.0 for v in values), default=0.0))
    out = [_frame(title, desc, top, lang, unit)]
    n = len(values)
    width = (W - LEFT - RIGHT) / max(n, 1) * 0.7
    base = H - BOTTOM
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x = _x(i, n)
        if v:
            h = (H - TOP - BOTTOM) * v / top
            out.append(
                f'<rect x="{x - width / 2:.1f}" y="{base - h:.1f}" width="{width:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[0]}"/>'
            )
        out.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle">{esc(lab)}</text>')
    out.append("</svg>")
    return "".join(out)


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    desc: str,
    unit: str,
    lang: str,
    ymin: float | None = None,
    ymax: float | None = None,
    scale: float = 1.0,
) -> str:
    """One polyline per series (gaps where a value is missing); `scale` multiplies the
    values for display (100 for rates shown in %)."""
    vals = [v * scale for _, vs in series for v in vs if v is not None]
    lo = ymin if ymin is not None else (math.floor(min(vals, default=0.0) * 10) / 10)
    hi = ymax if ymax is not None else nice_max(max(vals, default=1.0))
    if hi <= lo:
        hi = lo + 1.0
    out = [_frame(title, desc, hi, lang, unit, lo)]
    n = len(labels)
    for i, lab in enumerate(labels):
        out.append(f'<text x="{_x(i, n):.1f}" y="{H - 10}" text-anchor="middle">{esc(lab)}</text>')
    for k, (name, vs) in enumerate(series):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(vs):
            if v is None:
                runs.append([])
                continue
            y = TOP + (H - TOP - BOTTOM) * (1 - (v * scale - lo) / (hi - lo))
            runs[-1].append(f"{_x(i, n):.1f},{y:.1f}")
        for pts in runs:
            if len(pts) == 1:
                cx, cy = pts[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
            elif pts:
                out.append(
                    f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                )
        ly = TOP + 4 + 14 * k
        out.append(
            f'<line x1="{W - RIGHT - 150}" x2="{W - RIGHT - 126}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2.5"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f'/><text x="{W - RIGHT - 122}" y="{ly + 4}">{esc(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
