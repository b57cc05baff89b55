"""journals and replay: what was posted, and reprocessing after a fix."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.core.errors import InputError
from revbridge.store import journals
from revbridge.workqueue import ReplayChoice, messages_to_replay


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} must be an ISO date or date-time, not {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def journals_command(
    status: Annotated[
        str | None, typer.Option("--status", help="staged, submitting, accepted, posted or failed.")
    ] = None,
    legal_entity: Annotated[str | None, typer.Option("--legal-entity")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 1000,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Journals with their lines, ERP reference and state (DESIGN.md section 10 shape)."""
    if status is not None and status not in journals.STATES:
        raise InputError(f"unknown journal status {status!r}: use one of {', '.join(journals.STATES)}")
    with open_runtime(db, settings) as runtime:
        found = journals.list_journals(runtime.db, status=status, legal_entity=legal_entity, limit=limit)
        rows = [journals.journal_json(j) for j in found]
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} journal(s)")
    for col in ("id", "lane", "legal entity", "posting date", "status", "ERP reference", "lines", "debits"):
        table.add_column(col)
    for j in rows:
        lines = j["lines"]
        assert isinstance(lines, list)
        total = _sum_debits(lines)
        table.add_row(
            str(j["id"])[:12],
            str(j["lane"]),
            str(j["legal_entity"]),
            str(j["posting_date"]),
            str(j["status"]),
            str(j.get("erp_reference") or ""),
            str(len(lines)),
            total,
        )
    console.print(table)


def _sum_debits(lines: list[object]) -> str:
    total = Decimal(0)
    for line in lines:
        assert isinstance(line, dict)
        total += Decimal(str(line["debit"]))
    return str(total)


def replay(
    message: Annotated[list[str] | None, typer.Option("--message", help="A message id (repeatable).")] = None,
    exception_code: Annotated[
        str | None, typer.Option("--exception-code", help="Messages with open items of this code.")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Messages received at or after (ISO).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Messages received before (ISO).")] = None,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Reprocess messages with today's configuration and post only the difference."""
    with open_runtime(db, settings) as runtime:
        choice = ReplayChoice(
            message_ids=tuple(message or ()),
            code=exception_code,
            since=_when(since, "--since"),
            until=_when(until, "--until"),
        )
        ids = messages_to_replay(runtime.db, choice)
        replayer = runtime.replayer()
        actor = f"cli:{getpass.getuser()}"
        results = [replayer.replay(mid, actor=actor) for mid in ids]
        runtime.settle(close_windows=True)  # post what the replay staged, as ingest --process does
    if json_out:
        print_json([r.as_json() for r in results])
        return
    changed = sum(1 for r in results if r.journals_drafted)
    excepted = sum(1 for r in results if r.status == "excepted")
    console.print(
        f"replayed {len(results)} message(s): {changed} changed what is posted, {excepted} still excepted"
    )
