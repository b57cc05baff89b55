"""Report tables at any width: a cell is wrapped between words or its column moved to another
part, never cut (Rich's default cuts to ``202…`` when a table is too wide)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from revbridge.cli.tables import Column, Grid, print_grid

AMOUNTS = ("147,404.04", "-26.86", "0", "91,563.43", "1,207.22", "-106,123.45")


def _daily() -> Grid:
    grid = Grid(
        "Daily tie-out",
        (
            Column("day"),
            Column("facility"),
            Column("kind"),
            Column("events", numeric=True),
            Column("source", numeric=True),
            Column("held", numeric=True),
            Column("by rule", numeric=True),
            Column("subledger", numeric=True),
            Column("ERP", numeric=True),
            Column("in flight", numeric=True),
            Column("ties", numeric=True),
        ),
        keys=3,
    )
    for n, amount in enumerate(AMOUNTS):
        held = "369.97 (UNMAPPED_DEPARTMENT)" if n == 1 else "0"
        grid.add_row(
            "2026-11-02", "MHS-GEN", "PatientPaymentReceived", str(n * 11), amount, held, amount,
            amount, amount, "0", "[green]yes[/green]",
        )  # fmt: skip
    return grid


def _render(grid: Grid, width: int) -> str:
    out = io.StringIO()
    print_grid(Console(file=out, width=width, color_system=None), grid)
    return out.getvalue()


def _words(text: str) -> set[str]:
    return {w.strip("│┃") for line in text.splitlines() for w in line.split()}


@pytest.mark.parametrize("width", [200, 120, 80, 60])
def test_no_cell_is_cut_at_any_width(width: int) -> None:
    shown = _render(_daily(), width)
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= width
    words = _words(shown)
    for whole in (*AMOUNTS, "2026-11-02", "MHS-GEN", "PatientPaymentReceived", "(UNMAPPED_DEPARTMENT)"):
        assert whole in words, (whole, shown)


def test_a_table_that_fits_is_one_table_with_every_column() -> None:
    shown = _render(_daily(), 200)
    assert shown.count("Daily tie-out") == 1
    assert "in flight" in shown and "not shown" not in shown


def test_narrow_drops_the_all_zero_columns_naming_them_then_splits_repeating_the_key() -> None:
    shown = _render(_daily(), 80)
    assert "not shown, 0 on every row: in flight" in shown
    assert "(continued, 2 of" in shown
    header_lines = [line for line in shown.splitlines() if "day / facility / kind" in line]
    assert len(header_lines) >= 2  # the key heads every part
    # every row's figures are still there: each amount once per column that holds it
    assert sum(line.count("147,404.04") for line in shown.splitlines()) == 4


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="a row of 2 cells for 11 columns"):
        _daily().add_row("a", "b")
