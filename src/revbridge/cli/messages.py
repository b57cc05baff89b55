"""ingest and status: getting messages in and seeing where they ended (the work items they
left are `revbridge exceptions`, in cli/exceptions.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revbridge import runtime_status
from revbridge.bootstrap import Runtime
from revbridge.cli.common import (
    DbOption,
    JsonOption,
    SettingsOption,
    console,
    err_console,
    open_runtime,
    print_json,
)
from revbridge.core.errors import InputError
from revbridge.pipeline.intake import AUTO, Received
from revbridge.store import queue, workitems
from revbridge.store.views import lineage

PROGRESS_THRESHOLD = 5


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, and the files inside named directories (recursively, sorted)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError(f"{path}: not a regular file or directory")
        else:
            raise InputError(f"{path}: no such file or directory")
    return found


def _progress(total: int, quiet: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or total < PROGRESS_THRESHOLD,
        transient=True,
    )


@dataclass(frozen=True, slots=True)
class Rejected:
    path: Path
    reason: str


def ingest_files(
    runtime: Runtime, files: list[Path], fmt: str, *, quiet: bool, named: set[Path] | None = None
) -> tuple[list[Received], list[Rejected]]:
    """Store every file. A file named on the command line that cannot be read is an error; a file
    met inside a directory that is not a message (a README) is reported and skipped."""
    received: list[Received] = []
    rejected: list[Rejected] = []
    with _progress(len(files), quiet) as progress:
        task = progress.add_task("ingesting", total=len(files))
        for path in files:
            try:
                data = path.read_bytes()
                if not data.strip():
                    raise InputError("the file is empty")
                received.extend(runtime.intake.receive(data, channel=f"file:{path.name}"[:64], format=fmt))
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror})") from None
            except InputError as exc:
                if named is None or path in named:
                    raise InputError(f"{path}: {exc}") from None
                rejected.append(Rejected(path, str(exc)))
            progress.advance(task)
    return received, rejected


def process_all(runtime: Runtime, *, quiet: bool, close_windows: bool = True) -> int:
    total = queue.pending_count(runtime.db)
    with _progress(total, quiet) as progress:
        task = progress.add_task("processing", total=total)
        return runtime.settle(close_windows=close_windows, on_result=lambda _r: progress.advance(task))


def _ingest_report(runtime: Runtime, received: list[Received], processed: bool) -> list[dict[str, Any]]:
    accepted = (r.accepted for r in received)
    stored = [a.message_id for a in accepted if a.status != "duplicate" and a.message_id]
    status_of = lineage.statuses(runtime.db, stored)
    report = []
    for rec in received:
        acc = rec.accepted
        problems = [
            {"code": str(p.code), "severity": str(p.severity), "locator": p.locator, "message": p.message}
            for p in rec.problems
        ]
        if processed and acc.status != "duplicate":
            problems = [
                {"code": w.code, "severity": w.severity, "locator": w.locator, "message": w.message}
                for w in workitems.list_items(runtime.db, status=None, message_id=acc.message_id)
            ]
        report.append(
            {
                "message_id": acc.message_id,
                "format": rec.envelope.format,
                "status": "duplicate"
                if acc.status == "duplicate"
                else status_of.get(acc.message_id, acc.status),
                "duplicate_of": acc.duplicate_of,
                "problems": problems,
            }
        )
    return report


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to ingest.", show_default=False)],
    format: Annotated[str, typer.Option("--format", help="auto, hl7v2, x12, fhir or portal.")] = AUTO,
    process: Annotated[
        bool, typer.Option("--process", help="Process what was ingested before returning.")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Store messages from files durably; with --process, also run them through the pipeline."""
    files = expand(paths)
    named = {p for p in paths if p.is_file()}
    with open_runtime(db, settings) as runtime:
        received, rejected = ingest_files(runtime, files, format, quiet=json_out, named=named)
        if process:
            process_all(runtime, quiet=json_out)
        report = _ingest_report(runtime, received, process)
    report.extend(
        {
            "file": str(r.path),
            "message_id": None,
            "format": None,
            "status": "rejected",
            "duplicate_of": None,
            "problems": [
                {"code": "UNSUPPORTED_FORMAT", "severity": "error", "locator": "", "message": r.reason}
            ],
        }
        for r in rejected
    )
    if json_out:
        print_json(report)
    else:
        for r in rejected:
            err_console.print(f"revbridge: skipped {r.path}: {r.reason}", highlight=False)
        _print_ingest_summary(files, report)
    if rejected:
        raise typer.Exit(1)


def _print_ingest_summary(files: list[Path], report: list[dict[str, Any]]) -> None:
    by_status: dict[str, int] = {}
    for row in report:
        by_status[str(row["status"])] = by_status.get(str(row["status"]), 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
    console.print(f"ingested {len(files)} file(s): {len(report)} message(s): {summary}")


def status(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Counts of messages by state (terminal and not), journals by state, open work items."""
    with open_runtime(db, settings) as runtime:
        data: dict[str, Any] = dict(runtime.status())
        # staging, brokers, sftp, events_out: a kind with nothing configured or recorded is left out
        data.update(runtime_status.sources(runtime))
    if json_out:
        print_json(data)
        return
    table = Table(title="messages")
    table.add_column("state")
    table.add_column("count", justify="right")
    msgs = data["messages"]
    assert isinstance(msgs, dict)
    for state, n in msgs.items():
        table.add_row(state, str(n))
    console.print(table)
    console.print(f"journals: {data['journals']}  open work items: {data['work_items']}")
    for name, source in data.get("staging", {}).items():
        waiting = source.get("waiting")
        console.print(
            f"staging {name}: high-water {source.get('high_water')}, "
            f"waiting {'unknown (' + str(source.get('error')) + ')' if waiting is None else waiting}",
            highlight=False,
        )
    for name, source in data.get("brokers", {}).items():
        waiting = source.get("waiting")
        console.print(
            f"broker {name}: {source.get('broker')} {source.get('queue')}, "
            f"waiting {'unknown (' + str(source.get('error')) + ')' if waiting is None else waiting}",
            highlight=False,
        )
    for name, source in data.get("sftp", {}).items():
        taken = source.get("taken") or {}
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(taken.items())) or "none"
        console.print(
            f"sftp {name}: files taken: {counts}; last at {source.get('last_taken_at') or 'never'}",
            highlight=False,
            soft_wrap=True,
        )
    events = data.get("events_out")
    if events:
        console.print(
            f"events out ({events['sink']}): {events['pending']} pending, {events['failing']} failing, "
            f"{events['sent']} sent; oldest pending {events['oldest_pending_at'] or 'none'}",
            highlight=False,
        )
