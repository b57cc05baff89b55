"""What the warehouse export reads: events, subledger rows and journal lines, streamed in posting
date order a batch at a time, so a store of any size is exported without loading it whole.

Each read runs in one read-only transaction (one consistent snapshot per dataset) and fetches
``batch`` rows per round trip (a server-side cursor on PostgreSQL). The records carry only what is
already PHI-free in the store: keys, codes, dimensions, money and the patient *token* from an
event's canonical body; the raw messages (which hold PHI, encrypted) are never read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select

from revbridge.core.money import Money
from revbridge.store.database import Database
from revbridge.store.schema import event_lines, events, journal_lines, journals


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """Which posting dates to read (both ends included; None: unbounded) and of which journals."""

    first: date | None = None
    last: date | None = None
    legal_entity: str | None = None  # subledger rows and journal lines only: events have none
    status: str | None = None  # journal lines only


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRow:
    key: str
    kind: str
    message_id: str
    facility: str
    occurred_on: date  # the business date: the export's posting_date partition for events
    amount: Money | None  # the headline amount (charge, payment, claim total), with its currency
    state: str
    patient_token: str | None  # the keyed-HMAC token, never the identifier behind it
    encounter: str | None
    content_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SubledgerRow:
    id: int
    event_key: str
    document_key: str
    revision: str
    lane: str
    legal_entity: str
    posting_date: date
    moved_from: date | None
    account: str
    role: str
    side: str
    amount: Money
    facility: str
    cost_center: str
    payer_class: str
    service_line: str
    journal_id: str | None
    received_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalLineRow:
    journal_id: str
    line_no: int
    lane: str
    legal_entity: str
    posting_date: date
    status: str
    erp_document: str | None
    account: str
    role: str
    debit: Money
    credit: Money
    facility: str
    cost_center: str
    payer_class: str
    service_line: str
    created_at: datetime
    posted_at: datetime | None


def _stream(db: Database, query: Select[Any], batch: int) -> Iterator[Sequence[Any]]:
    with db.reading() as conn:
        result = conn.execution_options(yield_per=batch).execute(query)
        yield from result.partitions(batch)


def _token(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def event_batches(db: Database, span: Span, *, batch: int = 5000) -> Iterator[list[EventRow]]:
    """Events by business date (``occurred_on``), then in the order they were recorded."""
    c = events.c
    query = select(
        c.key, c.kind, c.message_id, c.facility, c.occurred_on, c.amount_minor, c.currency, c.state
    ).add_columns(c.body, c.content_hash, c.created_at)
    if span.first is not None:
        query = query.where(c.occurred_on >= span.first)
    if span.last is not None:
        query = query.where(c.occurred_on <= span.last)
    for rows in _stream(db, query.order_by(c.occurred_on, c.id), batch):
        out = []
        for r in rows:
            body = json.loads(r.body)
            out.append(
                EventRow(
                    key=r.key,
                    kind=r.kind,
                    message_id=r.message_id,
                    facility=r.facility,
                    occurred_on=r.occurred_on,
                    amount=None if r.amount_minor is None else Money.from_minor(r.amount_minor, r.currency),
                    state=r.state,
                    patient_token=_token(body, "patient"),
                    encounter=_token(body, "encounter"),
                    content_hash=r.content_hash,
                    created_at=r.created_at,
                )
            )
        yield out


def subledger_batches(db: Database, span: Span, *, batch: int = 5000) -> Iterator[list[SubledgerRow]]:
    """Subledger rows (``event_lines``) by posting date, then in the order they were staged."""
    c = event_lines.c
    query = select(event_lines)
    if span.first is not None:
        query = query.where(c.posting_date >= span.first)
    if span.last is not None:
        query = query.where(c.posting_date <= span.last)
    if span.legal_entity is not None:
        query = query.where(c.legal_entity == span.legal_entity)
    for rows in _stream(db, query.order_by(c.posting_date, c.id), batch):
        yield [
            SubledgerRow(
                id=r.id,
                event_key=r.event_key,
                document_key=r.document_key,
                revision=r.revision,
                lane=r.lane,
                legal_entity=r.legal_entity,
                posting_date=r.posting_date,
                moved_from=r.moved_from,
                account=r.account,
                role=r.role,
                side=r.side,
                amount=Money.from_minor(r.amount_minor, r.currency),
                facility=r.facility,
                cost_center=r.cost_center,
                payer_class=r.payer_class,
                service_line=r.service_line,
                journal_id=r.journal_id,
                received_at=r.received_at,
                created_at=r.created_at,
            )
            for r in rows
        ]


def journal_line_batches(db: Database, span: Span, *, batch: int = 5000) -> Iterator[list[JournalLineRow]]:
    """Journal lines with their journal's header, by posting date, journal and line number."""
    j, ln = journals.c, journal_lines.c
    query = select(
        ln.journal_id, ln.line_no, j.lane, j.legal_entity, j.posting_date, j.status, j.erp_document
    ).add_columns(
        ln.account,
        ln.role,
        ln.debit_minor,
        ln.credit_minor,
        ln.currency,
        ln.facility,
        ln.cost_center,
        ln.payer_class,
        ln.service_line,
        j.created_at,
        j.posted_at,
    )
    query = query.select_from(journal_lines.join(journals, journals.c.id == ln.journal_id))
    for column, value in ((j.legal_entity, span.legal_entity), (j.status, span.status)):
        if value is not None:
            query = query.where(column == value)
    if span.first is not None:
        query = query.where(j.posting_date >= span.first)
    if span.last is not None:
        query = query.where(j.posting_date <= span.last)
    for rows in _stream(db, query.order_by(j.posting_date, ln.journal_id, ln.line_no), batch):
        yield [
            JournalLineRow(
                journal_id=r.journal_id,
                line_no=r.line_no,
                lane=r.lane,
                legal_entity=r.legal_entity,
                posting_date=r.posting_date,
                status=r.status,
                erp_document=r.erp_document,
                account=r.account,
                role=r.role,
                debit=Money.from_minor(r.debit_minor, r.currency),
                credit=Money.from_minor(r.credit_minor, r.currency),
                facility=r.facility,
                cost_center=r.cost_center,
                payer_class=r.payer_class,
                service_line=r.service_line,
                created_at=r.created_at,
                posted_at=r.posted_at,
            )
            for r in rows
        ]
