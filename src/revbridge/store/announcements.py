"""Events out (issue 19): the event outbox. What happened is announced in the SAME transaction as
the change itself (a journal posted or rejected, a work item opened or resolved, a message
excepted), so an announcement exists exactly when its change committed; the publisher
(``revbridge.events``) claims unsent rows under a lease, sends them and marks them sent, at least
once.

Every announcement has a stable id: a UUID (version 5) of its type, its subject and, for what can
happen again to the same subject (a journal rejected after a fix, a message excepted again by a
replay), its occurrence. Announcing the same thing twice (a reconciliation break seen by every
run) keeps the first row, so consumers see one id per announcement and dedupe on it.

The data is PHI-free by construction: ids, codes, amounts, legal entity, facility codes, the
connector and ERP document; never a work item's free text, an event key (an 835 key holds the
patient control number) or anything from a raw message.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from revbridge.core.money import Money
from revbridge.store import leases
from revbridge.store.database import Database
from revbridge.store.schema import event_outbox, journal_lines, journals, messages, work_items

JOURNAL_POSTED = "journal.posted"
JOURNAL_REJECTED = "journal.rejected"
WORKITEM_OPENED = "workitem.opened"
WORKITEM_RESOLVED = "workitem.resolved"
RECONCILIATION_BROKEN = "reconciliation.broken"
MESSAGE_EXCEPTED = "message.excepted"
TYPES = (
    JOURNAL_POSTED,
    JOURNAL_REJECTED,
    WORKITEM_OPENED,
    WORKITEM_RESOLVED,
    RECONCILIATION_BROKEN,
    MESSAGE_EXCEPTED,
)
_NAMESPACE = uuid.UUID("6f1c2b9e-4d0a-5f43-9a57-1c3e8b7d2a10")


def event_id(kind: str, subject: str, occurrence: int = 1) -> str:
    """The stable id of the ``occurrence``-th announcement of ``kind`` about ``subject``."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}\n{subject}\n{occurrence}"))


_HELD = select(event_outbox.c.seq).where(event_outbox.c.event_id == bindparam("eid"))


def record(
    conn: Connection,
    *,
    kind: str,
    subject: str,
    data: Mapping[str, object],
    now: datetime,
    repeatable: bool = False,
) -> str:
    """Announce ``kind`` about ``subject`` inside the caller's transaction; returns the event id.
    Not ``repeatable``: a second announcement is the first one (kept, not duplicated)."""
    occurrence = 1
    if repeatable:
        count = select(func.count()).where(event_outbox.c.type == kind, event_outbox.c.subject == subject)
        occurrence = int(conn.execute(count).scalar_one()) + 1
        # `revbridge purge` drops old occurrences, so the count can fall behind the numbers in
        # use: a number still held would make this announcement the old one, and it would be lost.
        while conn.execute(_HELD, {"eid": event_id(kind, subject, occurrence)}).first() is not None:
            occurrence += 1
    eid = event_id(kind, subject, occurrence)
    row = {
        "event_id": eid,
        "type": kind,
        "subject": subject[:256],
        "time": now,
        "data": json.dumps(dict(data), sort_keys=True),
        "attempts": 0,
    }
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(insert(event_outbox).values(row).on_conflict_do_nothing(index_elements=["event_id"]))
    return eid


def journal_posted(conn: Connection, journal_id: str, *, now: datetime) -> None:
    """A journal reached ``posted``: its header, totals and facilities (never its event keys)."""
    head = conn.execute(
        select(
            journals.c.legal_entity,
            journals.c.lane,
            journals.c.posting_date,
            journals.c.connector,
            journals.c.erp_document,
        ).where(journals.c.id == journal_id)
    ).one()
    totals = conn.execute(
        select(
            journal_lines.c.currency,
            func.sum(journal_lines.c.debit_minor),
            func.count(),
        )
        .where(journal_lines.c.journal_id == journal_id)
        .group_by(journal_lines.c.currency)
    ).all()
    facilities = conn.execute(
        select(journal_lines.c.facility).where(journal_lines.c.journal_id == journal_id).distinct()
    ).scalars()
    data = {
        "journal_id": journal_id,
        "legal_entity": head.legal_entity,
        "lane": head.lane,
        "posting_date": head.posting_date.isoformat(),
        "connector": head.connector,
        "erp_document": head.erp_document,
        "totals": [
            {"currency": c, "debits": str(Money.from_minor(int(d or 0), c).amount), "lines": int(n)}
            for c, d, n in totals
        ],
        "facilities": sorted(facilities),
    }
    record(conn, kind=JOURNAL_POSTED, subject=journal_id, data=data, now=now)


def journal_rejected(
    conn: Connection, journal_id: str, *, code: str, connector: str, attempts: int, now: datetime
) -> None:
    """A journal ended ``failed`` (the ERP refused it, or gave up after ``attempts``)."""
    legal_entity = conn.execute(
        select(journals.c.legal_entity).where(journals.c.id == journal_id)
    ).scalar_one()
    data = {
        "journal_id": journal_id,
        "legal_entity": legal_entity,
        "connector": connector,
        "code": code,
        "attempts": attempts,
    }
    record(conn, kind=JOURNAL_REJECTED, subject=journal_id, data=data, now=now, repeatable=True)


def workitems_opened(conn: Connection, item_ids: Sequence[int], *, now: datetime) -> None:
    if not item_ids:
        return
    rows = conn.execute(
        select(
            work_items.c.id,
            work_items.c.code,
            work_items.c.severity,
            work_items.c.locator,
            work_items.c.message_id,
            work_items.c.facility,
            work_items.c.details,
            work_items.c.due_at,
        ).where(work_items.c.id.in_(list(item_ids)))
    ).all()
    for row in rows:
        details = json.loads(row.details or "{}")
        data = {
            "work_item_id": int(row.id),
            "code": row.code,
            "severity": row.severity,
            "locator": row.locator,
            "message_id": row.message_id,
            "facility": row.facility,
            "journal_id": details.get("journal_id"),
            "legal_entity": details.get("legal_entity"),
            "due_at": row.due_at.isoformat() if row.due_at else None,
        }
        record(conn, kind=WORKITEM_OPENED, subject=f"workitem {row.id}", data=data, now=now)


def workitems_resolved(
    conn: Connection, closed: Sequence[tuple[int, str]], *, status: str, now: datetime
) -> None:
    """Items (id, code) closed as ``status`` (resolved, or ignored: both end the item)."""
    for item_id, code in closed:
        data = {"work_item_id": int(item_id), "code": code, "status": status}
        record(conn, kind=WORKITEM_RESOLVED, subject=f"workitem {item_id}", data=data, now=now)


def message_excepted(conn: Connection, message_id: str, *, now: datetime) -> None:
    """A message ended ``excepted``: its channel, format and the codes of its open items."""
    head = conn.execute(
        select(messages.c.channel, messages.c.format).where(messages.c.id == message_id)
    ).one()
    codes = conn.execute(
        select(work_items.c.code)
        .where(work_items.c.message_id == message_id, work_items.c.status == "open")
        .distinct()
    ).scalars()
    data = {
        "message_id": message_id,
        "channel": head.channel,
        "format": head.format,
        "codes": sorted(codes),
    }
    record(conn, kind=MESSAGE_EXCEPTED, subject=f"message {message_id}", data=data, now=now, repeatable=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakNotice:
    """A reconciliation break as announced: PHI-free fields of ``reconcile.breaks.Break``."""

    control: str
    subject: str
    message: str
    expected: str | None
    actual: str | None
    difference: str | None
    currency: str | None
    event_count: int


def breaks_found(db: Database, notices: Sequence[BreakNotice], *, now: datetime) -> int:
    """Announce reconciliation breaks (a break already announced is not announced again);
    returns how many were new."""
    if not notices:
        return 0
    with db.transaction() as conn:
        before = int(conn.execute(select(func.count()).select_from(event_outbox)).scalar_one())
        for notice in notices:
            subject = f"{notice.control} {notice.subject} {notice.message}"
            record(conn, kind=RECONCILIATION_BROKEN, subject=subject, data=_notice(notice), now=now)
        after = int(conn.execute(select(func.count()).select_from(event_outbox)).scalar_one())
    return after - before


def _notice(notice: BreakNotice) -> dict[str, object]:
    return {
        "control": notice.control,
        "subject": notice.subject,
        "message": notice.message,
        "expected": notice.expected,
        "actual": notice.actual,
        "difference": notice.difference,
        "currency": notice.currency,
        "event_count": notice.event_count,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """An unsent announcement claimed for sending."""

    seq: int
    event_id: str
    kind: str
    subject: str
    time: datetime
    data: dict[str, object]
    attempts: int


# The columns a Pending is made of, in its fields' order.
_PENDING = (
    event_outbox.c.seq,
    event_outbox.c.event_id,
    event_outbox.c.type,
    event_outbox.c.subject,
    event_outbox.c.time,
    event_outbox.c.data,
    event_outbox.c.attempts,
)


def _pending(r: Any) -> Pending:  # a row of _PENDING's columns
    return Pending(
        seq=int(r[0]),
        event_id=r[1],
        kind=r[2],
        subject=r[3],
        time=r[4],
        data=json.loads(r[5]),
        attempts=int(r[6]),
    )


def claim(db: Database, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Pending]:
    """Take up to ``limit`` unsent announcements that are due (no live lease, no later retry
    time), oldest first, under ``owner``'s lease (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    due = and_(
        event_outbox.c.sent_at.is_(None),
        or_(event_outbox.c.next_attempt_at.is_(None), event_outbox.c.next_attempt_at <= now),
        or_(event_outbox.c.lease_expires_at.is_(None), event_outbox.c.lease_expires_at < now),
    )
    rows = leases.take(
        db,
        event_outbox,
        due=due,
        order_by=(event_outbox.c.seq,),
        values={"lease_owner": owner, "lease_expires_at": now + lease},
        returning=_PENDING,
        limit=limit,
        probe=True,  # most rounds find nothing: a read, not a write transaction
    )
    found = [_pending(r) for r in rows]
    found.sort(key=lambda p: p.seq)
    return found


def mark_sent(db: Database, seqs: Sequence[int], *, owner: str, now: datetime) -> int:
    if not seqs:
        return 0
    with db.transaction() as conn:
        result = conn.execute(
            update(event_outbox)
            .where(event_outbox.c.seq.in_(list(seqs)), event_outbox.c.lease_owner == owner)
            .values(sent_at=now, lease_owner=None, lease_expires_at=None, last_error=None)
        )
    return int(result.rowcount)


def retry_later(db: Database, pending: Pending, *, owner: str, at: datetime, error: str) -> bool:
    """A send that failed: attempt counted, due again at ``at``, the reason kept (type names only)."""
    with db.transaction() as conn:
        result = conn.execute(
            update(event_outbox)
            .where(event_outbox.c.seq == pending.seq, event_outbox.c.lease_owner == owner)
            .values(
                attempts=pending.attempts + 1,
                next_attempt_at=at,
                lease_owner=None,
                lease_expires_at=None,
                last_error=error[:2000],
            )
        )
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class Backlog:
    unsent: int
    oldest: datetime | None


def backlog(db: Database) -> Backlog:
    """How many announcements wait to be sent, and when the oldest of them happened."""
    with db.reading() as conn:
        n, oldest = conn.execute(
            select(func.count(), func.min(event_outbox.c.time)).where(event_outbox.c.sent_at.is_(None))
        ).one()
    return Backlog(int(n), oldest)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tally:
    """The event outbox at a glance, for ``revbridge status`` and the workbench overview."""

    pending: int  # not sent, no send failed yet
    failing: int  # not sent, at least one send failed: retried with backoff
    sent: int  # sent and kept until ``revbridge purge`` drops them
    oldest_unsent: datetime | None


def tally(db: Database) -> Tally:
    failed = event_outbox.c.attempts > 0
    unsent = event_outbox.c.sent_at.is_(None)
    with db.reading() as conn:
        row = conn.execute(
            select(
                func.count().filter(and_(unsent, ~failed)),
                func.count().filter(and_(unsent, failed)),
                func.count().filter(event_outbox.c.sent_at.is_not(None)),
                func.min(event_outbox.c.time).filter(unsent),
            )
        ).one()
    return Tally(pending=int(row[0]), failing=int(row[1]), sent=int(row[2]), oldest_unsent=row[3])


def listed(db: Database, *, limit: int = 1000) -> list[Pending]:
    """Announcements, oldest first, sent or not (tests and `revbridge events` read these)."""
    query = select(*_PENDING).order_by(event_outbox.c.seq).limit(limit)
    with db.reading() as conn:
        rows = conn.execute(query).all()
    return [_pending(r) for r in rows]
