"""Small inline SVG line charts, made here so the report needs no JavaScript and no CDN.

Every label is escaped: series names and titles may come from a run's log.
"""
from __future__ import annotations

import math
from html import escape
from typing import List, Sequence, Tuple

Point = Tuple[float, float]
WIDTH, HEIGHT = 520, 230
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 28, 40


class Series:
    """One line: a name, its points (x, y), a colour, and points to mark (x values)."""

    def __init__(self, name: str, points: Sequence[Point], color: str, marks: Sequence[float] = ()) -> None:
        self.name, self.color = name, color
        self.points = [(float(x), float(y)) for x, y in points if _finite(x) and _finite(y)]
        self.marks = set(float(m) for m in marks)


def line_chart(title: str, series: List[Series], x_label: str = "step", y_label: str = "",
               mark_label: str = "", from_zero: bool = False) -> str:
    """An <svg> element plotting the series on shared axes; a note when nothing is plottable.
    ``from_zero`` starts the y axis at 0 (for cumulative totals)."""
    points = [p for s in series for p in s.points]
    head = _head(title)
    if not points:
        return head + f'<text x="{LEFT}" y="{HEIGHT // 2}">no data</text></svg>'
    x0, x1 = _span([p[0] for p in points])
    y0, y1 = _span([p[1] for p in points] + ([0.0] if from_zero else []))
    sx = lambda x: LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)  # noqa: E731
    sy = lambda y: HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)  # noqa: E731
    parts = [head, _axes(x0, x1, y0, y1, sx, sy, x_label, y_label)]
    for s in series:
        if not s.points:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
        parts.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2" points="{path}"/>')
        for x, y in s.points:
            marked = x in s.marks
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{5 if marked else 3}" '
                         f'fill="{"#fff" if marked else s.color}" stroke="{"#c0392b" if marked else s.color}" '
                         f'stroke-width="{2 if marked else 1}"><title>{escape(s.name)}: step {_fmt(x)} = '
                         f'{_fmt(y)}{escape(" (" + mark_label + ")") if marked and mark_label else ""}'
                         f'</title></circle>')
    parts.append(_legend(series, mark_label if any(s.marks for s in series) else ""))
    return "".join(parts) + "</svg>"


def _head(title: str) -> str:
    """The opening of a chart's <svg> and its title."""
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
            f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>')


def _axes(x0, x1, y0, y1, sx, sy, x_label: str, y_label: str) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    out = [f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" class="axis"/>',
           f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" class="axis"/>']
    for y in _ticks(y0, y1):
        out.append(f'<line x1="{LEFT}" y1="{sy(y):.1f}" x2="{right}" y2="{sy(y):.1f}" class="grid"/>'
                   f'<text x="{LEFT - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{_fmt(y)}</text>')
    for x in _ticks(x0, x1, integer=True):
        out.append(f'<text x="{sx(x):.1f}" y="{bottom + 16}" text-anchor="middle">{_fmt(x)}</text>')
    out.append(f'<text x="{(LEFT + right) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        out.append(f'<text x="14" y="{(TOP + bottom) / 2:.0f}" text-anchor="middle" '
                   f'transform="rotate(-90 14 {(TOP + bottom) / 2:.0f})">{escape(y_label)}</text>')
    return "".join(out)


def _legend(series: List[Series], mark_label: str) -> str:
    out, x = [], WIDTH - RIGHT
    items = [(s.name, s.color, False) for s in series if s.points]
    if mark_label:
        items.append((mark_label, "#c0392b", True))
    for name, color, hollow in reversed(items):
        x -= 14 + 7 * len(name) + 12
        fill = "#fff" if hollow else color
        out.append(f'<circle cx="{x + 5}" cy="12" r="5" fill="{fill}" stroke="{color}" stroke-width="2"/>'
                   f'<text x="{x + 14}" y="16">{escape(name)}</text>')
    return "".join(out)


def _span(values: List[float]) -> Tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    return low, high


def _ticks(low: float, high: float, count: int = 5, integer: bool = False) -> List[float]:
    step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)



def scatter_chart(title: str, points: Sequence[Tuple[float, float, str]], highlight: Sequence[str] = (),
                  x_label: str = "", y_label: str = "", highlight_label: str = "") -> str:
    """An <svg> of labelled points (x, y, label); the highlighted labels drawn larger and joined
    in x order (a front)."""
    kept = [(float(x), float(y), str(label)) for x, y, label in points if _finite(x) and _finite(y)]
    head = _head(title)
    if not kept:
        return head + f'<text x="{LEFT}" y="{HEIGHT // 2}">no data</text></svg>'
    x0, x1 = _span([p[0] for p in kept])
    y0, y1 = _span([p[1] for p in kept])
    sx = lambda x: LEFT + (x - x0) / (x1 - x0) * (WIDTH - LEFT - RIGHT)  # noqa: E731
    sy = lambda y: HEIGHT - BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - TOP - BOTTOM)  # noqa: E731
    parts = [head, _axes(x0, x1, y0, y1, sx, sy, x_label, y_label)]
    marked = set(highlight)
    front = sorted((p for p in kept if p[2] in marked), key=lambda p: p[0])
    if len(front) > 1:
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in front)
        parts.append(f'<polyline fill="none" stroke="#e67e22" stroke-width="1.5" points="{path}"/>')
    for x, y, label in kept:
        on = label in marked
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{5 if on else 3}" '
                     f'fill="{"#e67e22" if on else "#2c7fb8"}"><title>{escape(label)}: {_fmt(x)}, {_fmt(y)}'
                     f'</title></circle><text x="{sx(x) + 6:.1f}" y="{sy(y) - 4:.1f}">{escape(label)}</text>')
    if highlight_label:
        parts.append(_legend([Series(highlight_label, [(0, 0)], "#e67e22")], ""))
    return "".join(parts) + "</svg>"
