"""Bar, stacked-bar and line charts as inline SVG: a title and a description for screen
readers (role="img", aria-labelledby), axis ticks on round values (1, 2, 2.5 or 5 × 10ⁿ),
the unit above the axis where no tick can touch it, distinct dash patterns as well as
colours for lines, a legend for stacks, and the numbers always given again in a table by
the caller (RGAA: the chart is never the only way)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from collector.render.fmt import esc, num

W, H = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 30
COLOURS = ("#1f5fa8", "#b5481c", "#2e7d32", "#6a3d9a", "#8a6d00", "#37474f")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
_ids = iter(range(1, 1 << 30))


def nice_step(span: float, ticks: int = 4) -> float:
    """The round step (1, 2, 2.5 or 5 × 10ⁿ) giving about `ticks` intervals over `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    e = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= raw * (1 - 1e-12):
            return float(m * e)
    return float(10 * e)


def nice_max(x: float, lo: float = 0.0) -> float:
    """The smallest round tick at or above x (an axis that reads well)."""
    if x <= lo:
        return lo + 1.0
    step = nice_step(x - lo)
    return lo + math.ceil((x - lo) / step - 1e-9) * step


def _frame(title: str, desc: str, ymax: float, lang: str, unit: str, ymin: float = 0.0) -> str:
    n = next(_ids)
    parts = [
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-labelledby="c{n}t c{n}d" class="chart">',
        f'<title id="c{n}t">{esc(title)}</title><desc id="c{n}d">{esc(desc)}</desc>',
    ]
    step = nice_step(ymax - ymin)
    # as many decimals as the tick step needs (2.5 → 1, 0.25 → 2), no more
    digits = next((d for d in range(4) if abs(step * 10**d - round(step * 10**d)) < 1e-9), 3)
    k = 0
    while ymin + k * step <= ymax + 1e-9:
        v = ymin + k * step
        y = TOP + (H - TOP - BOTTOM) * (1 - (v - ymin) / (ymax - ymin))
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{num(v, lang, digits)}</text>'
        )
        k += 1
    parts.append(f'<text x="{LEFT - 4}" y="12" text-anchor="end" class="unit">{esc(unit)}</text>')
    return "".join(parts)


def _x(i: int, n: int) -> float:
    return LEFT + (W - LEFT - RIGHT) * (i + 0.5) / max(n, 1)


def _labels(labels: Sequence[str]) -> str:
    """Category labels under the axis; every other one when they would touch."""
    n = len(labels)
    room = (W - LEFT - RIGHT) / max(n, 1)
    widest = max((len(str(lab)) for lab in labels), default=0) * 6.5
    every = 1 if widest < room - 2 else 2
    return "".join(
        f'<text x="{_x(i, n):.1f}" y="{H - 10}" text-anchor="middle">{esc(lab)}</text>'
        for i, lab in enumerate(labels)
        if i % every == 0
    )


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    title: str,
    desc: str,
    unit: str,
    lang: str,
) -> str:
    return stacked(labels, [("", values)], title, desc, unit, lang)


def hbars(
    labels: Sequence[str],
    values: Sequence[float | None],
    title: str,
    desc: str,
    unit: str,
    lang: str,
) -> str:
    """One horizontal bar per group, its name on the left and its value at the bar's end:
    long names (sites, departments) never overlap, however many there are."""
    n = next(_ids)
    row, left, right = 22, 170, 90
    height = 8 + row * len(labels)
    top = nice_max(max((v or 0.0 for v in values), default=0.0))
    out = [
        f'<svg viewBox="0 0 {W} {height}" role="img" aria-labelledby="c{n}t c{n}d" class="chart">',
        f'<title id="c{n}t">{esc(title)}</title><desc id="c{n}d">{esc(desc)}</desc>',
    ]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 4 + row * i
        name = str(lab) if len(str(lab)) <= 26 else str(lab)[:25] + "…"
        out.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{esc(name)}</text>')
        w = (W - left - right) * (v or 0.0) / top
        out.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{COLOURS[0]}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 15}">{num(v, lang)} {esc(unit)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def stacked(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    title: str,
    desc: str,
    unit: str,
    lang: str,
) -> str:
    """Bars made of one segment per series, bottom to top in the order given; a legend
    above the plot when there is more than one series."""
    n = len(labels)
    sums = [sum((vs[i] or 0.0) for _, vs in series) for i in range(n)]
    top = nice_max(max(sums, default=0.0))
    out = [_frame(title, desc, top, lang, unit)]
    width = (W - LEFT - RIGHT) / max(n, 1) * 0.7
    plot = H - TOP - BOTTOM
    for i in range(n):
        y = float(H - BOTTOM)
        for k, (_, vs) in enumerate(series):
            v = vs[i] or 0.0
            if v <= 0:
                continue
            h = plot * v / top
            y -= h
            out.append(
                f'<rect x="{_x(i, n) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[k % len(COLOURS)]}"/>'
            )
    out.append(_labels(labels))
    if len(series) > 1:
        x = LEFT + 4
        for k, (name, _) in enumerate(series):
            out.append(
                f'<rect x="{x}" y="2" width="10" height="10" fill="{COLOURS[k % len(COLOURS)]}"/>'
                f'<text x="{x + 14}" y="11">{esc(name)}</text>'
            )
            x += 22 + int(len(name) * 6.2)
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
    hi = ymax if ymax is not None else nice_max(max(vals, default=lo + 1.0), lo)
    if hi <= lo:
        hi = lo + 1.0
    out = [_frame(title, desc, hi, lang, unit, lo)]
    n = len(labels)
    out.append(_labels(labels))
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
        # the legend above the plot, one entry per series, side by side
        lx = LEFT + 4 + 150 * k
        out.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="7" y2="7" stroke="{colour}" stroke-width="2.5"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f'/><text x="{lx + 28}" y="11">{esc(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
