"""report: the revenue-cycle analytics (issue 18; docs/analytics.md), one command per report.

``revbridge report NAME`` prints readable tables (as wide as their numbers need, never cut);
``--json`` one object ``{report, from, to, by, tables: {name: [row, ...]}, notes}`` with money as
decimal strings; ``--csv`` every table in one CSV with a ``table`` column first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated

import typer
from rich.markup import escape

from revbridge.analytics import Figures, Period, Table
from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.cli.tables import Column, Grid, print_grid
from revbridge.core.errors import InputError
from revbridge.pipeline.analytics import REPORTS, Request, run

report_app = typer.Typer(
    help="Revenue-cycle analytics from the posted journals: " + ", ".join(REPORTS) + ".",
    no_args_is_help=True,
)

FromOption = Annotated[
    str | None,
    typer.Option("--from", help="First date (YYYY-MM-DD; default: the first held).", show_default=False),
]
ToOption = Annotated[
    str | None,
    typer.Option("--to", help="Last date (YYYY-MM-DD; default: the last held).", show_default=False),
]
ByOption = Annotated[Period, typer.Option("--by", help="Period of the time series.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print every table as one CSV.")]
SlaOption = Annotated[
    float | None,
    typer.Option(
        "--sla",
        min=0.001,
        help="Realtime posting SLA in seconds (default: the cash-posting alert's); "
        "the batch lane adds the batch window.",
        show_default=False,
    ),
]


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} must be an ISO date (YYYY-MM-DD), not {text!r}") from None


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,}"
    return str(value)


def _print(figures: Figures) -> None:
    span = f"{figures.start.isoformat()} to {figures.end.isoformat()}"
    console.print(f"[bold]{figures.report}[/bold] {span} by {figures.by}")
    for table in figures.tables:
        _print_table(table)
    for note in figures.notes:
        console.print(note, style="dim", highlight=False)


def _print_table(table: Table) -> None:
    """Laid out by cli/tables.py: at 80 columns or in a pipe a cell wraps between words or the
    table splits into parts repeating the row's key, and a figure is never cut."""
    if not table.rows:
        console.print(f"{table.title}: nothing in the range", highlight=False)
        return
    numeric = [all(isinstance(r[n], int | Decimal) for r in table.rows) for n in range(len(table.columns))]
    leading = next((n for n, right in enumerate(numeric) if right), len(numeric))
    grid = Grid(
        title=table.title,
        columns=tuple(Column(c, numeric=right) for c, right in zip(table.columns, numeric, strict=True)),
        keys=max(1, min(leading, len(numeric) - 1)),
    )
    for row in table.rows:
        grid.add_row(*(escape(_show(v)) for v in row))
    print_grid(console, grid)


def _command(name: str) -> Callable[..., None]:
    def command(
        start: FromOption = None,
        end: ToOption = None,
        by: ByOption = Period.DAY,
        json_out: JsonOption = False,
        csv_out: CsvOption = False,
        sla: SlaOption = None,
        db: DbOption = None,
        settings: SettingsOption = None,
    ) -> None:
        if json_out and csv_out:
            raise InputError("choose one of --json and --csv")
        first, last = _date(start, "--from"), _date(end, "--to")
        with open_runtime(db, settings) as runtime:
            request = Request(
                name=name,
                start=first,
                end=last,
                by=by,
                now=runtime.clock.now(),
                sla_seconds=sla if sla is not None else runtime.settings.alert_cash_posting_p99_seconds,
                connector_for=runtime.connector_for,
            )
            figures = run(runtime.db, request)
        if json_out:
            print_json(figures.as_json())
        elif csv_out:
            typer.echo(figures.as_csv(), nl=False)
        else:
            _print(figures)

    command.__doc__ = REPORTS[name]
    return command


for _name in REPORTS:
    report_app.command(_name)(_command(_name))
