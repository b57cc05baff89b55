"""period close | open | list: month-end close per legal entity."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from revbridge.cli.common import DbOption, JsonOption, SettingsOption, console, open_runtime, print_json
from revbridge.ledger.period import PeriodStatus
from revbridge.store import periods

period_app = typer.Typer(help="Accounting periods per legal entity (month-end close).", no_args_is_help=True)

EntityArg = Annotated[str, typer.Argument(help="Legal entity code, as in legal_entities.yaml.")]
PeriodArg = Annotated[str, typer.Argument(help="The month, YYYY-MM.")]


def _set(legal_entity: str, period: str, status: PeriodStatus, db: str | None, settings: object) -> None:
    with open_runtime(db, settings) as runtime:  # type: ignore[arg-type]
        periods.set_status(
            runtime.db,
            legal_entity,
            period,
            status,
            actor=f"cli:{getpass.getuser()}",
            now=runtime.clock.now(),
            anchor=runtime.settings.resolved_audit_anchor,
        )
    console.print(f"{legal_entity} {period} is {status.value}")


@period_app.command("close")
def close(
    legal_entity: EntityArg, period: PeriodArg, db: DbOption = None, settings: SettingsOption = None
) -> None:
    """Close a month: later postings dated in it follow the closed-period policy."""
    _set(legal_entity, period, PeriodStatus.CLOSED, db, settings)


@period_app.command("open")
def reopen(
    legal_entity: EntityArg, period: PeriodArg, db: DbOption = None, settings: SettingsOption = None
) -> None:
    """Reopen a closed month."""
    _set(legal_entity, period, PeriodStatus.OPEN, db, settings)


@period_app.command("list")
def list_command(json_out: JsonOption = False, db: DbOption = None, settings: SettingsOption = None) -> None:
    """Periods that have been closed or reopened (any other month is open)."""
    with open_runtime(db, settings) as runtime:
        found = periods.list_periods(runtime.db)
    if json_out:
        print_json(found)
        return
    for p in found or [{"legal_entity": "", "period": "", "status": "every period is open"}]:
        console.print(f"{p['legal_entity']} {p['period']} {p['status']}")
