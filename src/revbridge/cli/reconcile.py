"""reconcile: prove the numbers tie (DESIGN.md section 8), or name what does not.

Exit 0 when every control ties; 1 when anything does not, each break named on its own line.
Held items (the work queue's) and in-flight items (not yet stale) are shown, never counted.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from revbridge.cli.common import (
    DbOption,
    JsonOption,
    SettingsOption,
    console,
    err_console,
    open_runtime,
    print_json,
)
from revbridge.cli.tables import Column, Grid, print_grid
from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.pipeline.reconciliation import announce, report
from revbridge.reconcile import Report

TICK = "[green]yes[/green]"
CROSS = "[bold red]NO[/bold red]"


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date must be an ISO date (YYYY-MM-DD), not {text!r}") from None


def reconcile_command(
    day: Annotated[
        str | None, typer.Option("--date", help="The business day to reconcile (default: everything).")
    ] = None,
    stale_after: Annotated[
        int,
        typer.Option(
            "--stale-after", min=1, help="Minutes work may be in flight before it counts as a break."
        ),
    ] = 30,
    events: Annotated[
        bool, typer.Option("--events", help="With --json: list the event keys behind every figure.")
    ] = False,
    json_out: JsonOption = False,
    db: DbOption = None,
    settings: SettingsOption = None,
) -> None:
    """Remittance cash = BPR02; source = subledger = journals = ERP per day, facility and event kind;
    the AR roll-forward; every message in a terminal state. Exit 1 naming every break."""
    chosen = _day(day)
    with open_runtime(db, settings) as runtime:
        found = report(
            runtime.db,
            day=chosen,
            now=runtime.clock.now(),
            in_flight=timedelta(minutes=stale_after),
            connector_for=runtime.connector_for,
        )
        announce(runtime.db, found, now=runtime.clock.now())  # events out: reconciliation.broken
    if json_out:
        print_json(found.as_json(keys=events))
    else:
        print_report(found)
    if not found.ties:
        if not json_out:
            err_console.print(
                f"revbridge: reconciliation does not tie: {len(found.breaks)} break(s)", highlight=False
            )
        raise typer.Exit(1)


def _amount(value: Money) -> str:
    return f"{value.amount:,}"


def print_report(found: Report) -> None:
    scope = found.day.isoformat() if found.day else "all dates"
    verdict = "[green]ties[/green]" if found.ties else f"[bold red]{len(found.breaks)} break(s)[/bold red]"
    console.print(f"Reconciliation for {scope} at {found.generated_at:%Y-%m-%d %H:%M:%S %Z}: {verdict}")
    _completeness(found)
    _remittances(found)
    _daily(found)
    _journals(found)
    _rollforward(found)
    _breaks(found)


def _completeness(found: Report) -> None:
    totals = found.completeness.totals()
    table = Grid(
        "Messages by day received, source and state",
        (Column("day"), Column("source"), *(Column(s, numeric=True) for s in totals)),
        keys=2,
    )
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for received, source, state, n in found.completeness.counts:
        rows.setdefault((received.isoformat(), source), {})[state] = n
    for (shown, source), states in sorted(rows.items()):
        table.add_row(shown, source, *(str(states.get(s, 0)) for s in totals))
    table.add_row("total", "", *(str(n) for n in totals.values()), style="bold")
    print_grid(console, table)
    for u in found.completeness.unfinished:
        flag = " [bold red](stale)[/bold red]" if u.stale else ""
        console.print(f"  not yet terminal: message {u.message_id} {u.state} for {u.age}{flag}")


def _remittances(found: Report) -> None:
    rows = found.remittances.rows
    if not rows:
        return
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    shown = [r for r in rows if r.status not in ("ties", "notification")]
    if not shown:
        console.print(f"Remittances, cash posted = BPR02: {summary}")
        return
    table = Grid(
        f"Remittances, cash posted = BPR02: {summary} (those that tie are in --json)",
        tuple(
            Column(c, numeric=c in ("BPR02", "cash booked", "acknowledged"))
            for c in ("paid", "remittance", "BPR02", "cash booked", "acknowledged", "status")
        ),
        keys=2,
    )
    for r in shown:
        status = r.status + (f" ({', '.join(r.held_codes)})" if r.held_codes else "")
        table.add_row(
            r.occurred_on.isoformat(),
            r.remittance_id,
            _amount(r.amount),
            _amount(r.booked),
            _amount(r.acknowledged),
            status if r.status != "break" else f"[bold red]{status}[/bold red]",
        )
    print_grid(console, table)


def _daily(found: Report) -> None:
    columns = (
        "day",
        "facility",
        "kind",
        "events",
        "source",
        "held",
        "by rule",
        "subledger",
        "ERP",
        "in flight",
    )
    table = Grid(
        "Daily tie-out: source = subledger = ERP, per facility and event kind",
        tuple(Column(c, numeric=c not in ("day", "facility", "kind")) for c in (*columns, "ties")),
        keys=3,
    )
    for r in found.daily.rows:
        held = _amount(r.held) + (f" ({', '.join(c for c, _ in r.held_codes)})" if r.held_codes else "")
        table.add_row(
            r.day.isoformat(),
            r.facility,
            r.kind,
            str(r.events),
            _amount(r.source),
            held,
            _amount(r.by_rule),
            _amount(r.subledger),
            _amount(r.acknowledged),
            _amount(r.in_flight),
            TICK if r.ties else CROSS,
        )
    print_grid(console, table)


def _journals(found: Report) -> None:
    counts = {k: n for k, n in found.journals.counts().items() if n}
    text = ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"
    console.print(
        f"Journals by delivery: {text}; {len(found.journals.unjournaled)} subledger row(s) in open windows"
    )


def _rollforward(found: Report) -> None:
    ar = found.ar
    span = f"{ar.start.isoformat()} to {ar.end.isoformat()}" if ar.start else f"through {ar.end.isoformat()}"
    cols = (
        "legal entity",
        "payer class",
        "opening",
        "+ charges",
        "- payments",
        "- adjustments",
        "+/- transfers",
    )
    table = Grid(
        f"AR roll-forward {span}",
        tuple(
            Column(c, numeric=c not in ("legal entity", "payer class"))
            for c in (*cols, "= closing", "journals", "ties")
        ),
        keys=2,
    )
    broken = {b.subject for b in ar.breaks}
    for r in ar.rows:
        subject = f"AR {r.legal_entity} {r.payer_class or '(no payer class)'}"
        table.add_row(
            r.legal_entity,
            r.payer_class or "(none)",
            _amount(r.opening),
            _amount(r.charges),
            _amount(r.payments),
            _amount(r.adjustments),
            _amount(r.transfers),
            _amount(r.closing),
            _amount(r.journaled),
            CROSS if subject in broken else TICK,
        )
    print_grid(console, table)


def _breaks(found: Report) -> None:
    if found.ties:
        return
    table = Grid(
        f"{len(found.breaks)} break(s)",
        tuple(
            Column(c, numeric=c == "difference")
            for c in ("control", "subject", "what does not tie", "difference", "events")
        ),
        keys=2,
    )
    for b in found.breaks:
        difference = b.difference
        keys = ", ".join(b.event_keys[:3]) + (f" (+{len(b.event_keys) - 3})" if len(b.event_keys) > 3 else "")
        table.add_row(
            b.control.value, b.subject, b.message, str(difference.amount) if difference else "", keys
        )
    print_grid(console, table)
