"""Journals as reconciliation reads them: headers with their lines, as ``JournalFact``s.

The journal control checks each journal balances, equals the subledger rows linked to it and was
delivered; the daily tie-out asks which journals a day reached. These readers fetch ``journals``
and ``journal_lines`` by id (or every journal) inside the caller's read-only transaction. They
never change a journal's state: the outbox does that.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import ColumnElement

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile import JournalFact, JournalLineFact
from revbridge.store.database import Tx
from revbridge.store.facts.scope import chunks
from revbridge.store.schema import journal_lines, journals


def journal_ids_dated(tx: Tx, day: date | None) -> set[str]:
    """The ids of the journals whose posting date is ``day`` (None: every journal)."""
    query = select(journals.c.id)
    if day is not None:
        query = query.where(journals.c.posting_date == day)
    return {jid for (jid,) in tx.execute(query)}


def journals_of(tx: Tx, ids: set[str] | None) -> tuple[JournalFact, ...]:
    """The journals with these ids (None: every journal) with their lines, by posting date."""
    conditions: Iterable[ColumnElement[bool]]
    if ids is None:
        conditions = [journals.c.id.is_not(None)]
    else:
        conditions = (journals.c.id.in_(chunk) for chunk in chunks(ids))
    headers: list[Any] = []
    lines: dict[str, list[JournalLineFact]] = defaultdict(list)
    for condition in conditions:
        headers.extend(tx.execute(select(journals).where(condition)).all())
        query = select(journal_lines).order_by(journal_lines.c.id)
        if ids is not None:
            query = query.where(journal_lines.c.journal_id.in_(select(journals.c.id).where(condition)))
        for r in tx.execute(query):
            lines[r.journal_id].append(_line(r))
    return tuple(
        _journal(h, tuple(lines.get(h.id, ()))) for h in sorted(headers, key=lambda h: (h.posting_date, h.id))
    )


def _line(r: Any) -> JournalLineFact:
    return JournalLineFact(
        id=int(r.id),
        account=r.account,
        role=AccountRole(r.role),
        debit=Money.from_minor(int(r.debit_minor), r.currency),
        credit=Money.from_minor(int(r.credit_minor), r.currency),
        facility=r.facility,
        cost_center=r.cost_center,
        payer_class=r.payer_class,
    )


def _journal(h: Any, lines: tuple[JournalLineFact, ...]) -> JournalFact:
    return JournalFact(
        id=h.id,
        lane=h.lane,
        legal_entity=h.legal_entity,
        posting_date=h.posting_date,
        status=h.status,
        connector=h.connector,
        erp_document=h.erp_document,
        last_error=h.last_error,
        created_at=h.created_at,
        lines=lines,
    )
