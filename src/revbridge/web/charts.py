"""Charts as inline SVG, drawn on the server: no script, no CDN, readable by screen readers.

One drawing covers the overview's four charts: categories along the x axis, one or more bar
series (negative values hang below the zero line, so an AR roll-forward shows increases up and
decreases down) and an optional line (a running balance or backlog). Every chart carries a title
and a description for assistive technology; the page puts the same numbers in a table beside it.
Amounts arrive as Decimal and become floats only as pixel positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    name: str
    values: tuple[Decimal, ...]
    css: str  # class of its marks: "bar-a", "bar-b", "line"


def _ticks(low: Decimal, high: Decimal) -> list[Decimal]:
    """Four or five round gridline values covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / 4
    magnitude = Decimal(10) ** (raw.adjusted())
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks, value = [], first
    while value <= high + step / 2:
        ticks.append(value)
        value += step
    return ticks


def _number(value: Decimal, unit: str) -> str:
    if value == value.to_integral_value() and abs(value) < 10_000:
        text = f"{value:,.0f}"
    elif abs(value) >= 1_000_000:
        text = f"{value / 1_000_000:,.1f}M"
    elif abs(value) >= 10_000:
        text = f"{value / 1_000:,.0f}k"
    else:
        text = f"{value:,.2f}"
    return f"{text}{unit}"


@dataclass(frozen=True, slots=True)
class _Scale:
    """Values to pixel heights: ``ticks`` are the gridlines, ``low``..``high`` the plotted range."""

    low: Decimal
    high: Decimal
    ticks: tuple[Decimal, ...]

    def y(self, value: Decimal) -> float:
        return TOP + PLOT_H * float((self.high - value) / (self.high - self.low))


def _scale(values: Sequence[Decimal]) -> _Scale:
    """Zero is always in range, so bars grow from it; the range is widened to whole ticks."""
    low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
    ticks = _ticks(low, high) if high > low else [Decimal(0), Decimal(1)]
    return _Scale(min(low, ticks[0]), max(high, ticks[-1]), tuple(ticks))


def _grid(scale: _Scale, unit: str) -> list[str]:
    out = []
    for tick in scale.ticks:
        ty = scale.y(tick)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(_number(tick, unit))}</text>"
        )
    zero = scale.y(Decimal(0))
    out.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}"/>')
    return out


def _bars(categories: Sequence[str], bars: Sequence[Series], scale: _Scale, unit: str) -> list[str]:
    """Each category's bars side by side, hanging from zero, and every so many a label under them
    (at most about ten labels, so they never overlap)."""
    out = []
    zero = scale.y(Decimal(0))
    slot = PLOT_W / max(len(categories), 1)
    width = slot * 0.8 / max(len(bars), 1)
    label_every = max(1, len(categories) // 10 + (1 if len(categories) % 10 else 0))
    for i, category in enumerate(categories):
        x0 = LEFT + slot * i + slot * 0.1
        for j, series in enumerate(bars):
            value = series.values[i]
            if value == 0:
                continue
            top, bottom = sorted((scale.y(value), zero))
            out.append(
                f'<rect class="{series.css}" x="{x0 + width * j:.1f}" y="{top:.1f}" '
                f'width="{max(width - 1, 1):.1f}" height="{max(bottom - top, 0.5):.1f}">'
                f"<title>{escape(category)}: {escape(series.name)} "
                f"{escape(_number(value, unit))}</title></rect>"
            )
        if i % label_every == 0:
            cx = LEFT + slot * (i + 0.5)
            out.append(
                f'<text class="label" x="{cx:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(category)}</text>"
            )
    return out


def _polyline(categories: Sequence[str], line: Series, scale: _Scale) -> str:
    slot = PLOT_W / max(len(categories), 1)
    values = line.values[: len(categories)]
    points = " ".join(f"{LEFT + slot * (i + 0.5):.1f},{scale.y(v):.1f}" for i, v in enumerate(values))
    return f'<polyline class="{line.css}" points="{points}"/>'


def _legend(series: Sequence[Series]) -> list[str]:
    out = []
    x = LEFT
    for one in series:
        out.append(f'<rect class="{one.css} key" x="{x}" y="{HEIGHT - 14}" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="{HEIGHT - 5}">{escape(one.name)}</text>')
        x += 24 + 7 * len(one.name)
    return out


def draw(
    categories: Sequence[str],
    bars: Sequence[Series],
    *,
    ident: str,
    title: str,
    description: str,
    line: Series | None = None,
    unit: str = "",
) -> Markup:
    """An SVG chart; empty categories draw a labelled empty frame. ``ident`` is unique in the page."""
    n = ident
    scale = _scale([v for s in bars for v in s.values] + (list(line.values) if line else []))
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart{n}-title chart{n}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart{n}-title">{escape(title)}</title>',
        f'<desc id="chart{n}-desc">{escape(description)}</desc>',
        *_grid(scale, unit),
        *_bars(categories, bars, scale, unit),
    ]
    if line is not None and categories:
        out.append(_polyline(categories, line, scale))
    if not categories:
        out.append(
            f'<text class="empty" x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" '
            'text-anchor="middle">no data yet</text>'
        )
    out.extend(_legend([*bars, *([line] if line is not None else [])]))
    out.append("</svg>")
    # Safe: every text interpolated above went through escape(); the rest is numbers and literals.
    return Markup("".join(out))  # noqa: S704
