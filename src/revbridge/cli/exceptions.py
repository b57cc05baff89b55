"""`revbridge exceptions`: the work queue from the command line, a face over
``revbridge.workqueue``. It parses the arguments, calls the work queue and prints; what becomes of
a work item is decided there, never here.
"""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from revbridge import workqueue
from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.cli.tables import Column, Grid, print_grid
from revbridge.core.errors import InputError

exceptions_app = typer.Typer(
    help="Work items: list, group, resolve, ignore, assign, retry.", no_args_is_help=False
)


@exceptions_app.callback(invoke_without_command=True)
def exceptions(
    ctx: typer.Context,
    status_filter: Annotated[str, typer.Option("--status", help="open, resolved, ignored or all.")] = "open",
    code: Annotated[str | None, typer.Option("--code", help="Only this problem code.")] = None,
    group: Annotated[
        bool, typer.Option("--group", help="Count open items by code and facility, with the oldest age.")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """List work items (default: open ones)."""
    if ctx.invoked_subcommand is not None:
        return
    if status_filter not in (*workqueue.STATUSES, "all"):
        raise InputError(f"unknown status {status_filter!r}: use open, resolved, ignored or all")
    if group:
        if status_filter != workqueue.OPEN:
            raise InputError("--group counts open work items only: leave out --status")
        _groups(code, json_out, db, settings)
        return
    selection = workqueue.Selection(status=None if status_filter == "all" else status_filter, code=code)
    with open_runtime(db, settings) as runtime:
        items = workqueue.find(runtime.db, selection, now=runtime.clock.now())
    if json_out:
        print_json([i.as_json() for i in items])
        return
    # A Grid wraps between words and never cuts a code or an id (Rich would: "UNMAPPED_FAC…")
    table = Grid(
        title=f"work items ({status_filter})",
        columns=tuple(Column(c) for c in ("id", "code", "severity", "locator", "message", "message id")),
    )
    for i in items:
        cells = (str(i.id), i.code, i.severity, i.locator, i.message, i.message_id or "")
        table.add_row(*(escape(c) for c in cells))
    print_grid(console, table)


def _groups(code: str | None, json_out: bool, db: str | None, settings: Path | None) -> None:
    with open_runtime(db, settings) as runtime:
        found = workqueue.groups(runtime.db, now=runtime.clock.now(), code=code)
    if json_out:
        print_json([g.as_json() for g in found])
        return
    table = Grid(
        title="open work items by code and facility",
        columns=(Column("code"), Column("facility"), Column("open", numeric=True), Column("oldest")),
        keys=2,
    )
    for g in found:
        table.add_row(escape(g.code), escape(g.facility or ""), str(g.count), _age(g.oldest_age))
    print_grid(console, table)


def _age(span: timedelta) -> str:
    hours, seconds = divmod(int(span.total_seconds()), 3600)
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if days else f"{hours} h {seconds // 60} min"


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


ItemIds = Annotated[list[int], typer.Argument(help="Work item ids.", show_default=False)]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]


def _close(item_ids: list[int], status: str, reason: str, db: str | None, settings: Path | None) -> None:
    close = workqueue.resolve if status == workqueue.RESOLVED else workqueue.ignore
    with open_runtime(db, settings) as runtime:
        n = close(
            runtime.db,
            runtime.clock,
            item_ids,
            reason=reason,
            actor=_actor(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    console.print(f"{status} {n} work item(s)")


@exceptions_app.command("resolve")
def exceptions_resolve(
    item_ids: ItemIds, reason: Reason, db: DbOption = None, settings: SettingsOption = None
) -> None:
    """Resolve open work items with a reason."""
    _close(item_ids, workqueue.RESOLVED, reason, db, settings)


@exceptions_app.command("ignore")
def exceptions_ignore(
    item_ids: ItemIds, reason: Reason, db: DbOption = None, settings: SettingsOption = None
) -> None:
    """Ignore open work items with a reason."""
    _close(item_ids, workqueue.IGNORED, reason, db, settings)


@exceptions_app.command("assign")
def exceptions_assign(
    item_ids: ItemIds,
    to: Annotated[str, typer.Option("--to", help="Who works them ('' to unassign).")],
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Assign open work items to somebody."""
    with open_runtime(db, settings) as runtime:
        n = workqueue.assign(
            runtime.db,
            runtime.clock,
            item_ids,
            assignee=to or None,
            actor=_actor(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    console.print(f"assigned {n} work item(s)")


@exceptions_app.command("retry")
def exceptions_retry(item_ids: ItemIds, db: DbOption = None, settings: SettingsOption = None) -> None:
    """After a fix, put back the failed journals and messages behind work items to run again."""
    with open_runtime(db, settings) as runtime:
        done = workqueue.retry(
            runtime.db, runtime.clock, item_ids, actor=_actor(), anchor=runtime.settings.resolved_audit_anchor
        )
    console.print(
        f"put back {len(done.journals)} journal(s) and {len(done.messages)} message(s); "
        f"resolved {len(done.items)} work item(s) as retried"
    )
