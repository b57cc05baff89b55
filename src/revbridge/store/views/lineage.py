"""A message's lineage as the store holds it: the message's metadata, the events it produced with
the place in the message each came from, the subledger lines each event booked, and the sealed
payload for the one audited view of raw content.

The workbench's lineage page and the API's message view ask the same questions here. Metadata
never includes the payload or the acknowledgement; ``sealed_payload`` hands out the ciphertext and
its key id only, to be opened by the message store's keyring after the caller has decided the
view may happen and audited it. ``statuses`` says where a batch of messages is now (the CLI's
ingest report).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, RowMapping, select

from revbridge.store.database import Database, Tx
from revbridge.store.schema import event_lines, events, messages

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

CHUNK = 400  # ids per IN list: well below every driver's limit on bound parameters


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFacts:
    id: str
    channel: str
    format: str
    status: str
    terminal_reason: str | None
    duplicate_of: str | None
    dedupe_key: str | None
    locator: str
    correlation_id: str
    content_hash: str
    size: int
    attempts: int
    key_id: str | None
    received_at: datetime
    completed_at: datetime | None
    purged_at: datetime | None
    payload_available: bool  # False once retention purged the raw payload


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducedEvent:
    key: str
    kind: str
    state: str
    occurred_on: date
    facility: str
    locator: str  # where in the message it came from; "" when the event names no place
    amount_minor: int | None
    currency: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Produced:
    message: MessageFacts
    events: tuple[ProducedEvent, ...]  # in the order they were recorded


@dataclass(frozen=True, slots=True, kw_only=True)
class BookedLine:
    id: int
    event_key: str
    lane: str
    posting_date: date
    account: str
    role: str
    side: str  # debit | credit
    amount_minor: int
    currency: str
    journal_id: str | None  # None while the line waits in an open batch window
    journal_line_id: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SealedPayload:
    format: str
    key_id: str | None
    payload: bytes | None  # None once retention purged it


def _fields(row: RowMapping, record: type[DataclassInstance]) -> dict[str, Any]:
    return {f.name: row[f.name] for f in fields(record)}


def _event(row: Row[Any]) -> ProducedEvent:
    source = json.loads(row.body).get("source") or {}
    return ProducedEvent(
        key=row.key,
        kind=row.kind,
        state=row.state,
        occurred_on=row.occurred_on,
        facility=row.facility,
        locator=str(source.get("locator", "")),
        amount_minor=row.amount_minor,
        currency=row.currency,
    )


def produced(tx: Tx, message_id: str) -> Produced | None:
    """The message's metadata and the events it produced; None for an unknown id."""
    shown = [c for c in messages.c if c.name in MessageFacts.__dataclass_fields__]
    row = tx.execute(
        select(*shown, messages.c.payload.is_not(None).label("payload_available")).where(
            messages.c.id == message_id
        )
    ).first()
    if row is None:
        return None
    facts = MessageFacts(
        **(_fields(row._mapping, MessageFacts) | {"payload_available": bool(row.payload_available)})
    )
    rows = tx.execute(select(events).where(events.c.message_id == message_id).order_by(events.c.id))
    return Produced(message=facts, events=tuple(_event(r) for r in rows))


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    return (values[start : start + CHUNK] for start in range(0, len(values), CHUNK))


def booked(tx: Tx, event_keys: Sequence[str]) -> tuple[BookedLine, ...]:
    """The subledger lines of these events; each event's lines in the order they were booked."""
    found: list[BookedLine] = []
    for keys in _chunks(event_keys):
        query = select(event_lines).where(event_lines.c.event_key.in_(keys)).order_by(event_lines.c.id)
        found.extend(BookedLine(**_fields(r._mapping, BookedLine)) for r in tx.execute(query))
    return tuple(found)


def sealed_payload(db: Database, message_id: str) -> SealedPayload | None:
    """The message's format and its payload as stored (sealed); None for an unknown id."""
    with db.reading() as tx:
        row = tx.execute(
            select(messages.c.format, messages.c.key_id, messages.c.payload).where(
                messages.c.id == message_id
            )
        ).first()
    if row is None:
        return None
    payload = bytes(row.payload) if row.payload is not None else None
    return SealedPayload(format=row.format, key_id=row.key_id, payload=payload)


def statuses(db: Database, message_ids: Sequence[str]) -> Mapping[str, str]:
    """The current state of each of these messages that exists, by id."""
    found: dict[str, str] = {}
    with db.reading() as tx:
        for ids in _chunks(message_ids):
            query = select(messages.c.id, messages.c.status).where(messages.c.id.in_(ids))
            found.update(tx.execute(query).all())
    return found
