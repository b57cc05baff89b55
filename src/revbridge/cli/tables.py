"""Tables that fit the terminal without cutting a cell.

Rich shrinks a table that is too wide by cutting its cells (``202…``, ``MHS…``), which makes a
report of amounts useless at 80 columns or in a pipe (where Rich assumes 80). A ``Grid`` is laid
out here instead, narrowest first: cells wrap only between words, never inside one, so a number
or a code is always whole. When even that is too wide, columns that are zero on every row are
dropped (and named), and then the remaining columns are split over several tables that repeat the
row's key (its leading columns, joined into one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

_ZERO = re.compile(r"-?0(\.0+)?")


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    numeric: bool = False  # right-justified; dropped when zero on every row of a narrow table


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[str, ...]  # Rich markup
    style: str | None = None


@dataclass
class Grid:
    title: str
    columns: tuple[Column, ...]
    keys: int = 1  # the leading columns that name a row: repeated in every part of a split table
    rows: list[Row] = field(default_factory=list)

    def add_row(self, *cells: str, style: str | None = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: a row of {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(Row(cells, style))


def print_grid(console: Console, grid: Grid) -> None:
    for part in layout(grid, console.width):
        console.print(part)


def _plain(cell: str) -> str:
    return Text.from_markup(cell).plain


def _longest_word(texts: list[str]) -> int:
    return max((len(word) for text in texts for word in text.split()), default=0)


def _bounds(grid: Grid) -> list[tuple[int, int]]:
    """(narrowest without cutting a word, widest needed) per column."""
    found = []
    for n, column in enumerate(grid.columns):
        texts = [column.header, *(_plain(r.cells[n]) for r in grid.rows)]
        found.append((max(_longest_word(texts), 1), max(len(t) for t in texts)))
    return found


def _outer(columns: int) -> int:
    """Borders and padding of a table of ``columns`` columns in Rich's default box."""
    return 3 * columns + 1


def _widths(bounds: list[tuple[int, int]], width: int) -> list[int] | None:
    """Column widths within ``width``: every column at least its narrowest, the room left given
    one character at a time to the column that lacks the most. None when it cannot fit."""
    widths = [low for low, _ in bounds]
    spare = width - _outer(len(bounds)) - sum(widths)
    if spare < 0:
        return None
    while spare > 0:
        lacking = [(high - widths[n], n) for n, (_, high) in enumerate(bounds) if widths[n] < high]
        if not lacking:
            break
        widths[max(lacking)[1]] += 1
        spare -= 1
    return widths


def _zero_columns(grid: Grid) -> list[int]:
    return [
        n
        for n, column in enumerate(grid.columns)
        if n >= grid.keys
        and column.numeric
        and grid.rows
        and all(_ZERO.fullmatch(_plain(r.cells[n]).strip()) for r in grid.rows)
    ]


def _only(grid: Grid, keep: list[int], title: str) -> Grid:
    keys = sum(1 for n in keep if n < grid.keys)
    return Grid(
        title=title,
        columns=tuple(grid.columns[n] for n in keep),
        keys=keys,
        rows=[Row(tuple(r.cells[n] for n in keep), r.style) for r in grid.rows],
    )


def _merged_keys(grid: Grid) -> Grid:
    if grid.keys <= 1:
        return grid
    header = " / ".join(c.header for c in grid.columns[: grid.keys])
    return Grid(
        title=grid.title,
        columns=(Column(header), *grid.columns[grid.keys :]),
        keys=1,
        rows=[
            Row(
                (" ".join(c for c in r.cells[: grid.keys] if _plain(c).strip()), *r.cells[grid.keys :]),
                r.style,
            )
            for r in grid.rows
        ],
    )


def _table(grid: Grid, widths: list[int] | None) -> Table:
    table = Table(title=grid.title, title_justify="left")
    for n, column in enumerate(grid.columns):
        table.add_column(
            column.header,
            justify="right" if column.numeric else "left",
            width=widths[n] if widths else None,
            overflow="fold",
        )
    for row in grid.rows:
        table.add_row(*row.cells, style=row.style)
    return table


def _split(grid: Grid, width: int) -> list[RenderableType]:
    """The value columns in consecutive groups, each with the row's key, each as wide as fits."""
    bounds = _bounds(grid)
    keys = list(range(grid.keys))
    groups: list[list[int]] = []
    for n in range(grid.keys, len(grid.columns)):
        grown = [*groups[-1], n] if groups else [n]
        if groups and _widths([bounds[i] for i in keys + grown], width) is not None:
            groups[-1] = grown
        else:
            groups.append([n])
    parts: list[RenderableType] = []
    for number, group in enumerate(groups, start=1):
        title = grid.title if number == 1 else f"{grid.title} (continued, {number} of {len(groups)})"
        part = _only(grid, keys + group, title)
        parts.append(_table(part, _widths([bounds[i] for i in keys + group], width)))
    return parts


def layout(grid: Grid, width: int) -> list[RenderableType]:
    """What to print for ``grid`` at ``width`` columns: one table when it fits, else narrower
    columns (wrapped between words), else without its all-zero columns, else split."""
    fitted = _widths(_bounds(grid), width)
    if fitted is not None:
        return [_table(grid, fitted)]
    zero = _zero_columns(grid)
    notes: list[RenderableType] = []
    if zero:
        named = ", ".join(grid.columns[n].header for n in zero)
        keep = [n for n in range(len(grid.columns)) if n not in zero]
        grid = _only(grid, keep, grid.title)
        notes.append(Text(f"({grid.title}: not shown, 0 on every row: {named})"))
        fitted = _widths(_bounds(grid), width)
        if fitted is not None:
            return [_table(grid, fitted), *notes]
    return [*_split(_merged_keys(grid), width), *notes]
