"""trial-balance and export: the embedded ledger's balances, and the store's journals as files."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.cli.warehouse import export_parquet
from revbridge.connectors import registry
from revbridge.connectors.exports import FbdiSettings
from revbridge.connectors.file import FileSettings, publish, render
from revbridge.core.errors import ConfigurationError, InputError
from revbridge.ledger.journal import Journal
from revbridge.store import Database, journals
from revbridge.store.general_ledger import trial_balance
from revbridge.store.warehouse import Span

PAGE = 5000  # journals per read while exporting
PARQUET = "parquet"  # the warehouse export: three datasets, not one import file
BULK_NAMES = {"csv": "journals.csv", "fbdi": "GlInterface.zip", "beancount": "journals.beancount"}


def register(app: typer.Typer) -> None:
    app.command("trial-balance")(trial_balance_command)
    app.command("export")(export_command)


def trial_balance_command(
    legal_entity: Annotated[str | None, typer.Option("--legal-entity", help="One legal entity.")] = None,
    period: Annotated[str | None, typer.Option("--period", help="YYYY-MM: that month's movements.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="One account number.")] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """The embedded ledger's debits, credits and balance per legal entity, account and currency."""
    with open_runtime(db, settings) as runtime:
        rows = trial_balance(runtime.db, legal_entity=legal_entity, period=period, account=account)
    if json_out:
        print_json([row.as_json() for row in rows])
        return
    scope = " ".join(x for x in (legal_entity, period, account) if x) or "all postings"
    table = Table(title=f"Trial balance: {scope}")
    for column in ("legal entity", "account", "currency", "debit", "credit", "balance"):
        table.add_column(column, justify="right" if column in ("debit", "credit", "balance") else "left")
    totals: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for row in rows:
        table.add_row(
            row.legal_entity,
            row.account,
            row.currency,
            str(row.debit.amount),
            str(row.credit.amount),
            str(row.balance.amount),
        )
        debit, credit = totals.get((row.legal_entity, row.currency), (Decimal(0), Decimal(0)))
        totals[(row.legal_entity, row.currency)] = (debit + row.debit.amount, credit + row.credit.amount)
    for (le, currency), (debit, credit) in sorted(totals.items()):
        table.add_row(le, "total", currency, str(debit), str(credit), str(debit - credit), style="bold")
    console.print(table)


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} must be an ISO date (YYYY-MM-DD), not {text!r}") from None


def _fbdi(ledger_ids: list[str], connector_settings: Path | None) -> FbdiSettings:
    values: dict[str, Any] = {}
    if connector_settings is not None:
        try:
            loaded = yaml.safe_load(connector_settings.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise InputError(f"cannot read {connector_settings}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise InputError(f"{connector_settings} is not valid YAML") from None
        if not isinstance(loaded, dict) or not isinstance(loaded.get("fbdi", {}), dict):
            raise InputError(f"{connector_settings} must hold the file connector's settings (with fbdi:)")
        values = dict(loaded.get("fbdi", {}))
    ids = dict(values.get("ledger_ids") or {})
    for pair in ledger_ids:
        legal_entity, sep, ledger = pair.partition("=")
        if not sep or not legal_entity or not ledger:
            raise InputError(f"--ledger-id takes LEGAL_ENTITY=LEDGER_ID, not {pair!r}")
        ids[legal_entity] = ledger
    values["ledger_ids"] = ids
    try:
        fbdi: FbdiSettings = registry.settings_record("export.fbdi", FbdiSettings, values, {})
    except ConfigurationError as exc:
        raise InputError(str(exc)) from None
    return fbdi


def export_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the file (or datasets) into.")],
    file_format: Annotated[str, typer.Option("--format", help="csv, fbdi, beancount or parquet.")],
    connector: Annotated[str, typer.Option("--connector", help="Only file exports exist.")] = "file",
    status: Annotated[str, typer.Option("--status", help="posted (default) or staged.")] = journals.POSTED,
    legal_entity: Annotated[str | None, typer.Option("--legal-entity")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First posting date, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last posting date, YYYY-MM-DD.")] = None,
    ledger_id: Annotated[
        list[str] | None, typer.Option("--ledger-id", help="FBDI: LEGAL_ENTITY=LEDGER_ID (repeatable).")
    ] = None,
    connector_settings: Annotated[
        Path | None, typer.Option("--connector-settings", help="YAML: the file connector's settings.")
    ] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Write the store's journals into one import file, or (parquet) events, subledger rows and
    journal lines as warehouse datasets (docs/connectors.md lists the columns)."""
    if connector != "file":
        raise InputError(f"only the file connector exports (--connector file), not {connector!r}")
    if file_format not in (*BULK_NAMES, PARQUET):
        raise InputError(f"--format must be one of {', '.join((*BULK_NAMES, PARQUET))}, not {file_format!r}")
    if status not in (journals.POSTED, journals.STAGED):
        raise InputError(f"--status must be posted or staged, not {status!r}")
    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    if first is not None and last is not None and first > last:
        raise InputError(f"--from {first} is after --to {last}")
    if file_format == PARQUET:
        span = Span(first=first, last=last, legal_entity=legal_entity, status=status)
        export_parquet(out, span, json_out=json_out, db=db, settings=settings)
        return
    fbdi = _fbdi(ledger_id or [], connector_settings) if file_format == "fbdi" else None
    with open_runtime(db, settings) as runtime:
        selected = _selected(runtime.db, status=status, legal_entity=legal_entity, first=first, last=last)
    summary: dict[str, object] = {"format": file_format, "status": status, "journals": len(selected)}
    if not selected:
        summary |= {"file": None, "lines": 0}
        if json_out:
            print_json(summary)
        else:
            console.print(f"no {status} journals match; nothing written")
        return
    target = out / BULK_NAMES[file_format]
    summary |= _write(selected, FileSettings(directory=out, format=file_format, fbdi=fbdi), target)
    if json_out:
        print_json(summary)
        return
    console.print(f"wrote {summary['journals']} {status} journal(s), {summary['lines']} line(s) to {target}")


def _selected(
    db: Database, *, status: str, legal_entity: str | None, first: date | None, last: date | None
) -> list[Journal]:
    """Every journal that matches, read a page of ``PAGE`` at a time."""
    selected: list[Journal] = []
    while True:
        page = journals.list_journals(
            db,
            status=status,
            legal_entity=legal_entity,
            date_from=first,
            date_to=last,
            limit=PAGE,
            offset=len(selected),
        )
        selected += [stored.journal for stored in page]
        if len(page) < PAGE:
            return selected


def _write(selected: list[Journal], file_settings: FileSettings, target: Path) -> dict[str, object]:
    """Render the journals and publish them at ``target`` whole: readers see all of it or nothing."""
    content = render(selected, file_settings)
    try:
        publish(target, content)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None
    return {
        "file": str(target),
        "lines": sum(len(j.lines) for j in selected),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
