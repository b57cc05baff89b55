"""`revbridge export --format parquet`: the warehouse export (issue 18) of events, subledger rows
and journal lines, with a progress bar on stderr and a `--json` summary of what was written."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from revbridge.cli.common import console, err_console, open_runtime, print_json
from revbridge.connectors.warehouse import export
from revbridge.store.warehouse import Span


def export_parquet(
    out: Path,
    span: Span,
    *,
    json_out: bool,
    db: str | None,
    settings: Path | None,
) -> None:
    """Export the three datasets under ``out`` and print what was written."""
    with (
        open_runtime(db, settings) as runtime,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress,
    ):
        tasks = {name: progress.add_task(f"exporting {name}", total=None) for name in _NAMES}
        written = export(
            runtime.db, out, span, progress=lambda name, rows: progress.advance(tasks[name], rows)
        )
    summary = {
        "format": "parquet",
        "out": str(out),
        "from": _iso(span.first),
        "to": _iso(span.last),
        "datasets": {w.name: w.as_json() for w in written},
    }
    if json_out:
        print_json(summary)
        return
    for w in written:
        removed = f", removed {len(w.removed)} empty partition(s)" if w.removed else ""
        console.print(f"{w.name}: {w.rows} row(s) in {len(w.files)} partition(s){removed}")
    console.print(f"wrote the Parquet export under {out}")


_NAMES = ("events", "subledger", "journals")


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
