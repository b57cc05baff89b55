"""What every command shares: the --db/--settings options, runtime construction, output helpers
and the rule that errors are one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from revbridge.bootstrap import Runtime, build
from revbridge.settings import load_settings

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: the embedded SQLite file under $REVBRIDGE_HOME).",
        envvar="REVBRIDGE_DB",
        show_default=False,
    ),
]
SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings", help="A YAML settings file.", envvar="REVBRIDGE_SETTINGS_FILE", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@contextmanager
def open_runtime(
    db: str | None, settings_file: Path | None, *, upgrade: bool | None = None, **overrides: Any
) -> Iterator[Runtime]:
    """Build the runtime for one command. An embedded SQLite store (the default file or one named
    with --db) is created or upgraded to the current schema; PostgreSQL must be upgraded on
    purpose (`revbridge db upgrade`) unless the command says so."""
    settings = load_settings(settings_file, db=db, **overrides)
    if upgrade is None:
        upgrade = settings.embedded_store
    runtime = build(settings, upgrade=upgrade)
    try:
        yield runtime
    finally:
        runtime.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
