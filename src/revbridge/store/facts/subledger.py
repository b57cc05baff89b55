"""The subledger as reconciliation reads it: ``event_lines`` rows as ``LineFact``s.

Every control follows the money through these rows: the rows of a day's events, the rows of every
journal those events reached (a batch journal mixes days), and the last posting date when the AR
roll-forward runs to the end of the store. Amounts leave the database as integer minor units and
become signed ``Money`` here (debit positive). These readers run inside the caller's read-only
transaction and never write.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement, Select

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile import LineFact
from revbridge.store.database import Tx
from revbridge.store.facts.scope import chunks, occurred, posting
from revbridge.store.schema import event_lines, events


def signed() -> ColumnElement[Any]:
    """A row's amount in minor units, debit positive."""
    return case(
        (event_lines.c.side == "debit", event_lines.c.amount_minor), else_=-event_lines.c.amount_minor
    )


def line_fact(row: Any) -> LineFact:
    m = row._mapping
    minor = int(m["amount_minor"])
    return LineFact(
        id=int(m["id"]),
        event_key=m["event_key"],
        document_key=m["document_key"],
        revision=m["revision"],
        legal_entity=m["legal_entity"],
        posting_date=m["posting_date"],
        account=m["account"],
        role=AccountRole(m["role"]),
        net=Money.from_minor(minor if m["side"] == "debit" else -minor, m["currency"]),
        facility=m["facility"],
        cost_center=m["cost_center"],
        payer_class=m["payer_class"],
        journal_id=m["journal_id"],
        journal_line_id=int(m["journal_line_id"]) if m["journal_line_id"] is not None else None,
        created_at=m["created_at"],
    )


def rows() -> Select[Any]:
    """Every subledger row, in the order it was written: readers add their own conditions."""
    return select(event_lines).order_by(event_lines.c.id)


def lines_of_events(tx: Tx, day: date | None) -> tuple[LineFact, ...]:
    """The rows of ``day``'s posting events (None: every row of the subledger)."""
    if day is None:
        return tuple(line_fact(r) for r in tx.execute(rows()))
    keys = select(events.c.key).where(occurred(day), posting())
    return tuple(line_fact(r) for r in tx.execute(rows().where(event_lines.c.event_key.in_(keys))))


def lines_of_journals(tx: Tx, ids: set[str]) -> tuple[LineFact, ...]:
    """Every row in the journals ``ids``, whichever day its event happened on."""
    found: list[LineFact] = []
    for chunk in chunks(ids):
        found.extend(line_fact(r) for r in tx.execute(rows().where(event_lines.c.journal_id.in_(chunk))))
    return tuple(found)


def last_posting_date(tx: Tx) -> date | None:
    value = tx.execute(select(func.max(event_lines.c.posting_date))).scalar()
    return value if isinstance(value, date) else None
