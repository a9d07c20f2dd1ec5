"""Server-rendered SVG charts: stacked bars and lines over time, with a legend and hover titles.

No charting library and no script: the page inserts the SVG as it comes. Every name is escaped;
colours come from the stylesheet's palette classes (`s0` … `s8`), so the charts follow the page's
light or dark scheme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Final

WIDTH: Final = 920
HEIGHT: Final = 260
LEFT: Final = 64
RIGHT: Final = 12
TOP: Final = 30
BOTTOM: Final = 28
PALETTE: Final = 9

Series = tuple[str, Sequence[float | None]]


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times 10^n at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def number(value: float, unit: str = "") -> str:
    """Short axis and tooltip numbers: 1.2k, 3.4M, $0.0123, 850 ms."""
    if unit == "$":
        return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
    if unit == "%":
        return f"{value * 100:.0f}%"
    suffix = f" {unit}" if unit else ""
    for size, letter in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{letter}{suffix}"
    text = f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2f}"
    return text + suffix


def _time_label(iso: str, step_s: int) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return moment.strftime("%m-%d" if step_s >= 86400 else "%m-%d %H:%M" if step_s >= 3 * 3600 else "%H:%M")


def _frame(title: str, labels: Sequence[str], step_s: int, top: float, unit: str, kind: str) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" data-points="{len(labels)}">',
        f'<text class="title" x="{LEFT}" y="16">{escape(title)}</text>',
    ]
    for k in range(5):
        value = top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{number(value, unit)}</text>'
        )
    every = max(1, math.ceil(len(labels) / 8))
    slot = plot_w / max(len(labels), 1)
    for k in range(0, len(labels), every):
        x = LEFT + slot * (k + 0.5)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{escape(_time_label(labels[k], step_s))}</text>"
        )
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    parts, x = [], float(WIDTH - RIGHT)
    for position in range(len(names) - 1, -1, -1):
        name = names[position][:28]
        x -= 18 + 7 * len(name)
        parts.append(f'<rect class="key s{position % PALETTE}" x="{x:.1f}" y="7" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 14:.1f}" y="16">{escape(name)}</text>')
    return parts


def empty(title: str, message: str = "no data in this period") -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-empty" viewBox="0 0 {WIDTH} 80" '
        f'role="img" aria-label="{escape(title)}" data-points="0">'
        f'<text class="title" x="{LEFT}" y="16">{escape(title)}</text>'
        f'<text class="axis" x="{WIDTH / 2}" y="50" text-anchor="middle">{escape(message)}</text></svg>'
    )


def stacked_bars(title: str, labels: Sequence[str], step_s: int, series: Sequence[Series], unit: str = "") -> str:
    """One bar per time step, one coloured segment per series."""
    totals = [sum(v or 0 for _, values in series for v in values[k : k + 1]) for k in range(len(labels))]
    if not series or not any(totals):
        return empty(title)
    top = nice_max(max(totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    width = max(1.0, slot * 0.8)
    parts = _frame(title, labels, step_s, top, unit, "bars")
    for k, label in enumerate(labels):
        y = float(TOP + plot_h)
        for position, (name, values) in enumerate(series):
            value = values[k] or 0
            if value <= 0:
                continue
            height = plot_h * value / top
            y -= height
            parts.append(
                f'<rect class="col s{position % PALETTE}" x="{LEFT + slot * k + (slot - width) / 2:.1f}" '
                f'y="{y:.1f}" width="{width:.1f}" height="{height:.1f}">'
                f"<title>{escape(name)} · {escape(label)}: {number(value, unit)}</title></rect>"
            )
    return "".join([*parts, *_legend([name for name, _ in series]), "</svg>"])


def lines(
    title: str,
    labels: Sequence[str],
    step_s: int,
    series: Sequence[Series],
    unit: str = "",
    top: float | None = None,
) -> str:
    """One line per series; a missing value (None) breaks the line."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not values:
        return empty(title)
    top = top or nice_max(max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    parts = _frame(title, labels, step_s, top, unit, "lines")

    def point(k: int, value: float) -> tuple[float, float]:
        return LEFT + slot * (k + 0.5), TOP + plot_h - plot_h * min(value, top) / top

    for position, (name, points) in enumerate(series):
        path: list[str] = []
        pen_up = True
        for k, value in enumerate(points):
            if value is None:
                pen_up = True
                continue
            x, y = point(k, value)
            path.append(f"{'M' if pen_up else 'L'}{x:.1f},{y:.1f}")
            pen_up = False
            parts.append(
                f'<circle class="dot s{position % PALETTE}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(name)} · {escape(labels[k])}: {number(value, unit)}</title></circle>"
            )
        if path:
            parts.append(f'<path class="line s{position % PALETTE}" d="{" ".join(path)}"/>')
    return "".join([*parts, *_legend([name for name, _ in series]), "</svg>"])
