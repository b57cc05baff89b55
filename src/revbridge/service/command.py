"""serve: the HTTP API, the workers (and the listeners) in one process; demo: see it work."""

from __future__ import annotations

from typing import Annotated

import typer

from revbridge.bootstrap import Runtime
from revbridge.cli.common import DbOption, SettingsOption, console, open_runtime
from revbridge.service.runner import Service


def run_server(runtime: Runtime, *, workers: int) -> None:
    """Serve HTTP and MLLP and run the workers until interrupted."""
    service = Service(runtime, mllp=runtime.settings.mllp_port != 0, workers=workers)
    service.start()
    mllp = f", MLLP on {runtime.settings.mllp_host}:{service.mllp_port}" if service.mllp else ""
    console.print(
        f"revbridge serving http://{runtime.settings.http_host}:{service.http_port}{mllp}; Ctrl-C to stop"
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
    with open_runtime(
        db, settings, upgrade=True, http_host=host, http_port=port, mllp_port=mllp_port
    ) as runtime:
        run_server(runtime, workers=workers)
