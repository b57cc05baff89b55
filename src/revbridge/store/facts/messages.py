"""Messages and their work items as reconciliation reads them: completeness and held amounts.

Completeness counts the messages of a day (received that UTC day, or carrying events of that
business day) by state and checks each terminal state's evidence: the work items recorded against
it, the rule that ignored it, the original of a duplicate. The tie-out names the codes of the open
work items that hold an event or its message. These readers run inside the caller's read-only
transaction; they return codes and states, never a message's content.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.sql import ColumnElement

from revbridge.reconcile import MessageFact
from revbridge.store.database import Tx
from revbridge.store.schema import events, messages, work_items


def _received(day: date | None) -> ColumnElement[bool]:
    """The messages of a day: received that UTC day, or carrying events of that business day."""
    if day is None:
        return messages.c.id.is_not(None)
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return or_(
        and_(messages.c.received_at >= start, messages.c.received_at < start + timedelta(days=1)),
        messages.c.id.in_(select(events.c.message_id).where(events.c.occurred_on == day)),
    )


def messages_of(tx: Tx, day: date | None) -> tuple[MessageFact, ...]:
    """The messages of ``day`` (None: every message), each with the codes of every work item
    recorded against it, whatever their status, and whether the original it names exists."""
    original = messages.alias("original")
    rows = tx.execute(
        select(
            messages.c.id,
            messages.c.channel,
            messages.c.format,
            messages.c.status,
            messages.c.received_at,
            messages.c.duplicate_of,
            messages.c.terminal_reason,
            original.c.id.label("original_id"),
        )
        .select_from(messages.outerjoin(original, original.c.id == messages.c.duplicate_of))
        .where(_received(day))
        .order_by(messages.c.received_at, messages.c.id)
    ).all()
    codes = _work_item_codes(tx, day)
    return tuple(
        MessageFact(
            id=r.id,
            channel=r.channel,
            format=r.format,
            status=r.status,
            received_at=r.received_at,
            duplicate_of=r.duplicate_of,
            duplicate_found=r.original_id is not None,
            terminal_reason=r.terminal_reason,
            work_items=tuple(sorted(codes.get(r.id, ()))),
        )
        for r in rows
    )


def _work_item_codes(tx: Tx, day: date | None) -> dict[str, set[str]]:
    query = select(work_items.c.message_id, work_items.c.code).where(work_items.c.message_id.is_not(None))
    if day is not None:
        query = query.where(work_items.c.message_id.in_(select(messages.c.id).where(_received(day))))
    found: dict[str, set[str]] = defaultdict(set)
    for message_id, code in tx.execute(query):
        found[message_id].add(code)
    return found


def codes_of(tx: Tx, day: date | None) -> dict[str, tuple[str, ...]]:
    """Codes of open work items by event key and by message id: why held events are held."""
    query = select(work_items.c.event_key, work_items.c.message_id, work_items.c.code).where(
        work_items.c.status == "open"
    )
    if day is not None:
        of_day = events.c.occurred_on == day
        query = query.where(
            or_(
                work_items.c.message_id.in_(select(events.c.message_id).where(of_day)),
                work_items.c.event_key.in_(select(events.c.key).where(of_day)),
            )
        )
    found: dict[str, set[str]] = defaultdict(set)
    for event_key, message_id, code in tx.execute(query):
        if event_key:
            found[event_key].add(code)
        if message_id:
            found[message_id].add(code)
    return {k: tuple(sorted(v)) for k, v in found.items()}
