"""The work queue over the messages table: claim with a lease, finish under the lease.

PostgreSQL workers on any number of hosts claim with ``FOR UPDATE SKIP LOCKED``; SQLite has one
writer, so the claim's SELECTs and its UPDATE ... RETURNING run under BEGIN IMMEDIATE. A claim takes
messages whose lease has expired (their worker died), then pending messages whose retry time has
come, cash first (messages.priority -1: portal payments, staged payment rows, small 835s and FHIR
PaymentReconciliations, then 0: large ones) and in arrival order within a priority, straight off
the (status, priority, id) index.
A worker finishes a message only while it still holds the lease, so a message taken over by
another worker is never completed twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, bindparam, func, or_, select, update

from revbridge.store import announcements
from revbridge.store.database import Database, Tx
from revbridge.store.schema import messages, work_items

PENDING = "pending"
PROCESSING = "processing"
WAITING = "waiting"
PROCESSED = "processed"
EXCEPTED = "excepted"
IGNORED = "ignored"
DUPLICATE = "duplicate"
TERMINAL = (PROCESSED, EXCEPTED, IGNORED, DUPLICATE)
NON_TERMINAL = (PENDING, PROCESSING, WAITING)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    format: str
    channel: str
    key_id: str | None
    blob: bytes | None
    attempts: int
    received_at: datetime
    size: int  # the payload's bytes as received


# The columns a Claimed is made of, in its fields' order.
CLAIMED = (
    messages.c.id,
    messages.c.format,
    messages.c.channel,
    messages.c.key_id,
    messages.c.payload,
    messages.c.attempts,
    messages.c.received_at,
    messages.c.size,
)


def claimable(
    now: datetime, limit: int, *, locking: bool, below: int | None = None
) -> tuple[Select[str], Select[str]]:
    """The claim's two SELECTs: messages whose lease expired (their worker died: few), and pending
    messages whose retry time has come in (priority, id) order (cash first, then arrival order,
    so a reversal never overtakes its charge), read off ix_messages_status_priority_id without
    reading the rest of the backlog; only priorities under ``below`` when given.
    ``locking``: FOR UPDATE SKIP LOCKED (PostgreSQL)."""
    expired = (
        select(messages.c.id)
        .where(messages.c.status == PROCESSING, messages.c.lease_expires_at < now)
        .order_by(messages.c.priority, messages.c.id)
        .limit(limit)
    )
    due = (
        select(messages.c.id)
        .where(
            messages.c.status == PENDING,
            or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
        )
        .order_by(messages.c.priority, messages.c.id)
        .limit(limit)
    )
    if below is not None:
        expired, due = expired.where(messages.c.priority < below), due.where(messages.c.priority < below)
    if locking:
        return expired.with_for_update(skip_locked=True), due.with_for_update(skip_locked=True)
    return expired, due


def claim(
    db: Database, *, owner: str, now: datetime, lease: timedelta, limit: int, below: int | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` messages: expired leases first, then the due pending messages
    (``claimable``; only priorities under ``below`` when given). Returned in the order claimed,
    which is the order to process them in."""
    expired, due = claimable(now, limit, locking=db.dialect == "postgresql", below=below)
    taken = update(messages).values(
        status=PROCESSING,
        lease_owner=owner,
        lease_expires_at=now + lease,
        attempts=messages.c.attempts + 1,
    )
    with db.transaction() as conn:
        ids = list(conn.execute(expired).scalars())
        if len(ids) < limit:
            ids += conn.execute(due.limit(limit - len(ids))).scalars()
        if not ids:
            return []
        rows = conn.execute(taken.where(messages.c.id.in_(ids)).returning(*CLAIMED)).all()
    place = {mid: n for n, mid in enumerate(ids)}
    return sorted((Claimed(*row) for row in rows), key=lambda c: place[c.id])


def any_due(db: Database, now: datetime, *, below: int) -> bool:
    """Whether a pending message of a priority under ``below`` is due now: a read, taking no
    writer's lock, before a claim that would otherwise find nothing."""
    _, due = claimable(now, 1, locking=False, below=below)
    with db.reading() as conn:
        return conn.execute(due).first() is not None


# The worker's per-message statements, built once (building one per call cost more than running it).
_MINE = (
    messages.c.id == bindparam("p_id"),
    messages.c.lease_owner == bindparam("p_owner"),
    messages.c.status == PROCESSING,
)
_HOLDS = select(messages.c.id).where(*_MINE)
_HOLDS_LOCKED = _HOLDS.with_for_update()
_FINISH = (
    update(messages)
    .where(*_MINE)
    .values(
        status=bindparam("p_status"),
        terminal_reason=bindparam("p_reason"),
        lease_owner=None,
        lease_expires_at=None,
        completed_at=bindparam("p_completed_at"),
    )
)
_HOLD_MANY = (
    select(messages.c.id)
    .where(
        messages.c.id.in_(bindparam("p_ids", expanding=True)),
        messages.c.lease_owner == bindparam("p_owner"),
        messages.c.status == PROCESSING,
    )
    .order_by(messages.c.id)
    .with_for_update()
)
_RECEIVED_AT = select(messages.c.received_at).where(messages.c.id == bindparam("p_id"))


def holds_lease(conn: Connection, message_id: str, owner: str) -> bool:
    query = _HOLDS_LOCKED if conn.dialect.name == "postgresql" else _HOLDS
    return conn.execute(query, {"p_id": message_id, "p_owner": owner}).first() is not None


def lock_lease(conn: Connection, message_id: str, owner: str) -> bool:
    """Before a message's work in a transaction that ends with ``finish``: on PostgreSQL, lock
    the message's row if ``owner`` holds its lease (False if not). On SQLite the transaction holds
    the one writer's lock, so nobody can take the lease before ``finish`` checks it: no query."""
    return conn.dialect.name != "postgresql" or holds_lease(conn, message_id, owner)


def lock_leases(conn: Connection, message_ids: Sequence[str], owner: str) -> set[str]:
    """``lock_lease`` for many messages in one statement: the ids whose lease ``owner`` holds
    (on PostgreSQL their rows locked, in id order; on SQLite all of them, checked by ``finish``)."""
    if conn.dialect.name != "postgresql":
        return set(message_ids)
    held: set[str] = set()
    ids = sorted(message_ids)
    for start in range(0, len(ids), 400):
        params = {"p_ids": ids[start : start + 400], "p_owner": owner}
        held.update(mid for (mid,) in conn.execute(_HOLD_MANY, params))
    return held


@dataclass(frozen=True, slots=True)
class Finish:
    """A message's next state, as ``finish`` sets it."""

    message_id: str
    status: str
    reason: str | None


def finish_many(conn: Connection, done: Sequence[Finish], *, owner: str, now: datetime) -> bool:
    """``finish`` for many messages in one executemany; False if any lease was lost meanwhile
    (the caller then undoes the transaction)."""
    if not done:
        return True
    rows = [_finish_row(f.message_id, owner, f.status, f.reason, now) for f in done]
    result = conn.execute(_FINISH, rows)
    if result.rowcount != len(rows):
        return False
    for item in done:
        if item.status == EXCEPTED:
            announcements.message_excepted(conn, item.message_id, now=now)
    return True


def _finish_row(
    message_id: str, owner: str, status: str, reason: str | None, now: datetime
) -> dict[str, object]:
    return {
        "p_id": message_id,
        "p_owner": owner,
        "p_status": status,
        "p_reason": reason,
        "p_completed_at": now if status in TERMINAL else None,
    }


def finish(
    conn: Connection, message_id: str, *, owner: str, status: str, reason: str | None, now: datetime
) -> bool:
    """Move a claimed message to its next state; False if the lease was lost meanwhile."""
    result = conn.execute(_FINISH, _finish_row(message_id, owner, status, reason, now))
    if result.rowcount != 1:
        return False
    if status == EXCEPTED:
        announcements.message_excepted(conn, message_id, now=now)  # the same transaction: events out
    return True


def retry_later(db: Database, message_id: str, *, owner: str, at: datetime, reason: str) -> bool:
    with db.transaction() as conn:
        result = conn.execute(
            update(messages)
            .where(
                messages.c.id == message_id, messages.c.lease_owner == owner, messages.c.status == PROCESSING
            )
            .values(
                status=PENDING,
                next_attempt_at=at,
                lease_owner=None,
                lease_expires_at=None,
                terminal_reason=reason,
            )
        )
    return result.rowcount == 1


def requeue(conn: Connection, message_ids: Sequence[str], *, now: datetime) -> int:
    """Put messages back to pending (replay): attempts start again."""
    result = conn.execute(
        update(messages)
        .where(messages.c.id.in_(list(message_ids)), messages.c.status.not_in([DUPLICATE, PROCESSING]))
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
            terminal_reason=None,
            completed_at=None,
        )
    )
    return int(result.rowcount)


def counts(db: Database) -> dict[str, int]:
    with db.reading() as conn:
        rows = conn.execute(select(messages.c.status, func.count()).group_by(messages.c.status))
        found = {status: int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in (*TERMINAL, *NON_TERMINAL)} | found


def pending_count(db: Database) -> int:
    with db.reading() as conn:
        query = select(func.count()).select_from(messages).where(messages.c.status.in_([PENDING, PROCESSING]))
        return int(conn.execute(query).scalar_one())


def arrivals_since(db: Database, since: datetime) -> int:
    """How many messages were stored at or after ``since`` (off the received_at index): how fast
    intake is storing, read without the writer's lock."""
    with db.reading() as conn:
        query = select(func.count()).select_from(messages).where(messages.c.received_at >= since)
        return int(conn.execute(query).scalar_one())


def received_at(tx: Tx, message_id: str) -> datetime:
    value = tx.execute(_RECEIVED_AT, {"p_id": message_id}).scalar_one()
    assert isinstance(value, datetime)
    return value


def stored(tx: Tx, message_id: str) -> Claimed:
    """A message as a worker claims it (its sealed payload included), whatever its state: what
    a replay parses again."""
    row = tx.execute(select(*CLAIMED).where(messages.c.id == message_id)).one()
    return Claimed(*row)


def waiting_ids(db: Database) -> list[str]:
    """Messages whose events wait for context, oldest first."""
    with db.reading() as tx:
        query = select(messages.c.id).where(messages.c.status == WAITING).order_by(messages.c.id)
        return [mid for (mid,) in tx.execute(query)]


def take_waiting(tx: Tx, message_id: str) -> bool:
    """Lock a waiting message for this transaction; False if it no longer waits (or, on
    PostgreSQL, another process holds it)."""
    query = select(messages.c.id).where(messages.c.id == message_id, messages.c.status == WAITING)
    if tx.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return tx.execute(query).first() is not None


def settle(tx: Tx, message_id: str, *, status: str, reason: str, now: datetime) -> None:
    """Set the state a waiting message or a replay ends in (no lease: the caller holds the row)."""
    tx.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(status=status, terminal_reason=reason, completed_at=now)
    )
    if status == EXCEPTED:
        announcements.message_excepted(tx, message_id, now=now)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayChoice:
    """Which messages a replay asks for: by id, by the code of an open item, or by receipt time
    (every condition given applies)."""

    message_ids: tuple[str, ...] = ()
    code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def replayable_messages(db: Database, choice: ReplayChoice) -> tuple[str, ...]:
    """The messages chosen that a replay may take (finished, not duplicates), by id."""
    query = select(messages.c.id).where(messages.c.status.in_(TERMINAL), messages.c.status != DUPLICATE)
    if choice.message_ids:
        query = query.where(messages.c.id.in_(sorted(set(choice.message_ids))))
    if choice.code:
        with_items = select(work_items.c.message_id).where(
            work_items.c.code == choice.code, work_items.c.status == "open"
        )
        query = query.where(messages.c.id.in_(with_items))
    if choice.since:
        query = query.where(messages.c.received_at >= choice.since)
    if choice.until:
        query = query.where(messages.c.received_at < choice.until)
    with db.reading() as tx:
        return tuple(mid for (mid,) in tx.execute(query.order_by(messages.c.id)))
