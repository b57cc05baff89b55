"""The queries behind the journal pages: the search's choices, one journal's lines, and the
subledger rows behind one line.

A batch journal's line adds up many events (a day's charges for a cost centre); the subledger
rows linked to it (``event_lines.journal_line_id``) are its contributions, each with the event and
message it came from, so every figure sent to the ERP can be traced back. Searching journals
themselves is ``store.journals.list_journals``; this module only adds what the pages show beside
it. Amounts stay integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Row, func, select

from revbridge.store.database import Database
from revbridge.store.schema import event_lines, events, journal_lines, journals


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLine:
    id: int
    journal_id: str
    line_no: int
    account: str
    role: str
    debit_minor: int
    credit_minor: int
    currency: str
    facility: str
    cost_center: str
    payer_class: str
    service_line: str
    events: int  # subledger rows linked to this line


OPENING_KIND = "GoLiveOpening"


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    event_key: str
    kind: str  # the event's kind, or OPENING_KIND for a go-live opening position's rows
    occurred_on: date
    message_id: str | None  # None for a go-live opening position (no message brought it)
    side: str  # debit | credit
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineBehind:
    line: StoredLine
    contributions: tuple[Contribution, ...]  # in the order they were booked


def legal_entities(db: Database) -> tuple[str, ...]:
    """Every legal entity that has a journal, sorted."""
    with db.reading() as tx:
        query = select(journals.c.legal_entity).distinct().order_by(journals.c.legal_entity)
        return tuple(tx.execute(query).scalars())


def with_account(db: Database, account: str) -> tuple[str, ...]:
    """The ids of the journals with a line on ``account``."""
    with db.reading() as tx:
        query = select(journal_lines.c.journal_id).distinct().where(journal_lines.c.account == account)
        return tuple(tx.execute(query).scalars())


def _line(row: Row[Any], events_behind: int) -> StoredLine:
    m = row._mapping
    fields = {name: m[name] for name in StoredLine.__dataclass_fields__ if name != "events"}
    return StoredLine(**fields, events=events_behind)


def lines(db: Database, journal_id: str) -> tuple[StoredLine, ...]:
    """A journal's lines in order, each with the number of subledger rows behind it."""
    with db.reading() as tx:
        rows = tx.execute(
            select(journal_lines)
            .where(journal_lines.c.journal_id == journal_id)
            .order_by(journal_lines.c.line_no)
        ).all()
        behind: dict[int, int] = dict(
            tx.execute(
                select(event_lines.c.journal_line_id, func.count())
                .where(event_lines.c.journal_id == journal_id, event_lines.c.journal_line_id.is_not(None))
                .group_by(event_lines.c.journal_line_id)
            ).all()
        )
    return tuple(_line(row, int(behind.get(row.id, 0))) for row in rows)


def line_behind(db: Database, journal_id: str, line_id: int) -> LineBehind | None:
    """Line ``line_id`` of journal ``journal_id`` and the subledger rows linked to it; None if the
    journal has no such line."""
    with db.reading() as tx:
        row = tx.execute(
            select(journal_lines).where(
                journal_lines.c.id == line_id, journal_lines.c.journal_id == journal_id
            )
        ).first()
        if row is None:
            return None
        # Outer: a go-live opening position's rows have no canonical event (no message brought them).
        rows = tx.execute(
            select(
                event_lines.c.event_key,
                func.coalesce(events.c.kind, OPENING_KIND).label("kind"),
                func.coalesce(events.c.occurred_on, event_lines.c.posting_date).label("occurred_on"),
                events.c.message_id,
                event_lines.c.side,
                event_lines.c.amount_minor,
                event_lines.c.currency,
            )
            .outerjoin(events, events.c.key == event_lines.c.event_key)
            .where(event_lines.c.journal_line_id == line_id)
            .order_by(event_lines.c.id)
        ).all()
    contributions = tuple(Contribution(**r._mapping) for r in rows)
    return LineBehind(line=_line(row, len(contributions)), contributions=contributions)
