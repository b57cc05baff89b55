"""Server-drawn SVG charts: accessible, escaped, and drawn to the numbers."""

from __future__ import annotations

import re
from decimal import Decimal

from revbridge.web.charts import Series, draw


def test_bars_are_drawn_up_and_down_from_the_zero_line() -> None:
    svg = draw(
        ["d1", "d2"],
        [
            Series(name="up", values=(Decimal(100), Decimal(50)), css="bar-a"),
            Series(name="down", values=(Decimal(-25), Decimal(0)), css="bar-b"),
        ],
        line=Series(name="balance", values=(Decimal(75), Decimal(125)), css="line"),
        ident="t",
        title="Test chart",
        description="Two days.",
    )
    zero = float(re.search(r'<line class="axis" x1="\d+" x2="\d+" y1="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    bars = re.findall(
        r'<rect class="(bar-[ab])" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)">', svg
    )
    assert len(bars) == 3  # a zero value draws no bar
    ups = [(float(y), float(h)) for css, y, h in bars if css == "bar-a"]
    (down,) = [(float(y), float(h)) for css, y, h in bars if css == "bar-b"]
    assert all(abs(y + h - zero) < 0.2 for y, h in ups)  # standing on the zero line
    assert abs(down[0] - zero) < 0.2  # hanging from it
    assert ups[0][1] == 2 * ups[1][1]  # heights to scale
    assert "<polyline" in svg


def test_charts_are_labelled_for_assistive_technology_and_escape_text() -> None:
    svg = draw(
        ["<b>"],
        [Series(name="a&b", values=(Decimal(1),), css="bar-a")],
        ident="x",
        title="Cash <by> day",
        description="desc",
    )
    assert 'role="img"' in svg and 'aria-labelledby="chartx-title chartx-desc"' in svg
    assert '<title id="chartx-title">Cash &lt;by&gt; day</title>' in svg
    assert "<b>" not in svg and "a&amp;b" in svg


def test_no_data_draws_an_empty_labelled_frame() -> None:
    svg = draw(
        [], [Series(name="cash", values=(), css="bar-a")], ident="e", title="Empty", description="none"
    )
    assert "no data yet" in svg and '<rect class="bar-a" x' not in svg
