"""golive load | reverse | list: the go-live cut-over's opening receivables (docs/golive.md)."""

from __future__ import annotations

import getpass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.core.errors import InputError
from revbridge.pipeline import golive as loading
from revbridge.store import golive

golive_app = typer.Typer(help="Go-live cut-over: opening receivables.", no_args_is_help=True)

AsOfOption = Annotated[
    str, typer.Option("--as-of", help="The cut-over date (YYYY-MM-DD) the balances are open at.")
]


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


@golive_app.command("load")
def load_command(
    file: Annotated[Path, typer.Argument(help="Opening balances CSV (docs/golive.md).")],
    as_of: AsOfOption,
    replace: Annotated[
        bool, typer.Option("--replace", help="Reverse a different position loaded for the date first.")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Post the opening receivables as one opening journal per legal entity, once."""
    cutover = _date(as_of)
    text = _read(file)
    with open_runtime(db, settings) as runtime:
        loaded = loading.load(
            runtime.db,
            text,
            as_of=cutover,
            actor=f"cli:{getpass.getuser()}",
            now=runtime.clock.now(),
            replace=replace,
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json(loaded.as_json())
        return
    _print_reversed(loaded)
    verb = "loaded" if loaded.new else "already loaded (nothing posted)"
    for item in loaded.loads:
        console.print(
            f"{item.legal_entity} {cutover.isoformat()}: {item.rows} account(s), "
            f"{item.total.amount} {item.total.currency} {verb}, journal {item.journal_id}",
            highlight=False,
        )


@golive_app.command("reverse")
def reverse_command(
    as_of: AsOfOption, json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None
) -> None:
    """Take the opening position loaded for a cut-over date back out (a reversing journal each)."""
    cutover = _date(as_of)
    with open_runtime(db, settings) as runtime:
        loaded = loading.reverse(
            runtime.db,
            as_of=cutover,
            actor=f"cli:{getpass.getuser()}",
            now=runtime.clock.now(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    if json_out:
        print_json(loaded.as_json())
        return
    _print_reversed(loaded)


def _print_reversed(loaded: loading.Loaded) -> None:
    for item in loaded.reversed:
        console.print(
            f"{item.legal_entity} {item.as_of.isoformat()}: opening journal {item.journal_id} "
            f"reversed by {item.reversed_by}",
            highlight=False,
        )


@golive_app.command("list")
def list_command(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Opening positions loaded, per cut-over date, legal entity and revision (reversed ones too)."""
    with open_runtime(db, settings) as runtime, runtime.db.reading() as tx:
        found = golive.loads(tx, active=False)
    rows = [
        {
            "as_of": item.as_of.isoformat(),
            "legal_entity": item.legal_entity,
            "revision": item.revision,
            "journal_id": item.journal_id,
            "rows": item.rows,
            "total": str(item.total.amount),
            "currency": item.total.currency,
            "loaded_by": item.loaded_by,
            "loaded_at": item.loaded_at.isoformat(),
            "reversed_by": item.reversed_by,
        }
        for item in found
    ]
    if json_out:
        print_json(rows)
        return
    for r in rows or [{"as_of": "no opening position loaded"}]:
        console.print(" ".join(str(v) for v in r.values()), highlight=False)
