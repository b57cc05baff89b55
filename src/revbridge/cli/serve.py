"""serve: the HTTP API, the workers (and the listeners) in one process; demo: see it work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from revbridge.bootstrap import Runtime
from revbridge.cli.common import DbOption, SettingsOption, console, runtime
from revbridge.cli.messages import expand, ingest_files, process_all
from revbridge.core.errors import InputError
from revbridge.service import Service
from revbridge.store import workitems


def run_server(rt: Runtime, *, workers: int) -> None:
    """Serve HTTP and MLLP and run the workers until interrupted."""
    service = Service(rt, mllp=rt.settings.mllp_port != 0, workers=workers)
    service.start()
    mllp = f", MLLP on {rt.settings.mllp_host}:{service.mllp_port}" if service.mllp else ""
    console.print(
        f"revbridge serving http://{rt.settings.http_host}:{service.http_port}{mllp}; Ctrl-C to stop"
    )
    service.wait()


def serve(
    host: Annotated[str | None, typer.Option("--host", help="HTTP listen address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port.")] = None,
    mllp_port: Annotated[int | None, typer.Option("--mllp-port", help="MLLP port (0 disables).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Worker threads in this process.")] = 1,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Serve the HTTP API and process messages until interrupted (upgrades the schema first)."""
    with runtime(db, settings, upgrade=True, http_host=host, http_port=port, mllp_port=mllp_port) as rt:
        run_server(rt, workers=workers)


def _corpus() -> Path:
    candidates = [os.environ.get("REVBRIDGE_CORPUS"), "../shared/corpus"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    raise InputError("sample corpus not found: set REVBRIDGE_CORPUS to the shared corpus directory")


def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Print the summary and exit.")] = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Ingest and process the sample corpus into the embedded store and print a summary."""
    corpus = _corpus()
    with runtime(db, settings, upgrade=True) as rt:
        files = expand([corpus / d for d in ("hl7v2", "x12_835", "x12_837", "fhir")])
        received, _skipped = ingest_files(rt, files, "auto", quiet=False)
        process_all(rt, quiet=False)
        status = rt.status()
        table = Table(title=f"{len(files)} corpus files, {len(received)} messages")
        table.add_column("message state")
        table.add_column("count", justify="right")
        for state, n in status["messages"].items():
            table.add_row(state, str(n))
        console.print(table)
        codes = workitems.counts_by_code(rt.db)
        items = Table(title="open work items by code")
        items.add_column("code")
        items.add_column("count", justify="right")
        for code, n in sorted(codes.items()):
            items.add_row(code, str(n))
        console.print(items)
        if not no_serve:
            run_server(rt, workers=1)
