"""The journal outbox's transitions (DESIGN.md sections 6 and 7): ``staged -> submitting ->
[accepted ->] posted | failed``, each under a lease.

``claim`` takes due journals under a lease: staged ones whose time has come, and submitting ones
whose owner's lease ran out; those are taken over as *uncertain* (their owner may have reached the
ERP before dying), so the dispatcher looks them up before any re-send. The owner ends an attempt
with ``mark_posted``, ``retry_later`` or ``mark_failed``, each only while it still holds the lease;
``release`` gives a journal back untouched and ``requeue`` puts failed ones back after a fix.

An asynchronous ERP may answer "accepted, working on it": ``mark_accepted`` keeps the ERP's ticket
and the journal waits, ``accepted``, until ``claim_checks`` hands it (under a lease, its status
unchanged) to a dispatcher that asks the ERP; ``mark_posted`` and ``mark_failed`` end it as they
end a submission, ``check_later`` sets the next check. An accepted journal is uncertain by
definition (the ERP holds it), so one that fails after it is looked up before any re-send.
Nothing here talks to an ERP (pipeline/dispatcher.py does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, or_, update

from revbridge.store import announcements, leases
from revbridge.store.database import Database, Tx
from revbridge.store.journals import ACCEPTED, FAILED, POSTED, STAGED, SUBMITTING
from revbridge.store.schema import journals


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    legal_entity: str
    lane: str
    connector: str
    attempts: int
    uncertain: bool
    first_received_at: datetime
    ticket: str | None = None  # set when the claim is a check of an accepted journal
    accepted_at: datetime | None = None


# The columns a Claim is made of, in its fields' order (a check adds the ticket and accepted_at).
_CLAIMED = (
    journals.c.id,
    journals.c.legal_entity,
    journals.c.lane,
    journals.c.connector,
    journals.c.attempts,
    journals.c.uncertain,
    journals.c.first_received_at,
)


def claim(db: Database, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Take up to ``limit`` due journals under a lease: staged ones whose time has come, and
    submitting ones whose owner's lease ran out (those become uncertain)."""
    due = or_(
        and_(
            journals.c.status == STAGED,
            or_(journals.c.next_attempt_at.is_(None), journals.c.next_attempt_at <= now),
        ),
        and_(journals.c.status == SUBMITTING, journals.c.lease_expires_at < now),
    )
    rows = leases.take(
        db,
        journals,
        due=due,
        order_by=(journals.c.created_at, journals.c.id),
        values={
            "status": SUBMITTING,
            "lease_owner": owner,
            "lease_expires_at": now + lease,
            "uncertain": case((journals.c.status == SUBMITTING, 1), else_=journals.c.uncertain),
        },
        returning=_CLAIMED,
        limit=limit,
    )
    claimed = [Claim(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5]), r[6]) for r in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


def claim_checks(db: Database, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Take up to ``limit`` accepted journals whose next check is due (and nobody else's lease
    runs on them) under a lease, their status unchanged: the ERP is asked, not sent anything."""
    due = and_(
        journals.c.status == ACCEPTED,
        or_(journals.c.next_attempt_at.is_(None), journals.c.next_attempt_at <= now),
        or_(journals.c.lease_expires_at.is_(None), journals.c.lease_expires_at < now),
    )
    rows = leases.take(
        db,
        journals,
        due=due,
        order_by=(journals.c.next_attempt_at, journals.c.id),
        values={"lease_owner": owner, "lease_expires_at": now + lease},
        returning=(*_CLAIMED, journals.c.erp_ticket, journals.c.accepted_at),
        limit=limit,
        probe=True,  # most rounds have no check due: a read, not a write transaction
    )
    claimed = [
        Claim(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5]), r[6], r[7] or "", r[8] or now) for r in rows
    ]
    claimed.sort(key=lambda c: c.id)
    return claimed


def _mine(journal_id: str, owner: str) -> ColumnElement[bool]:
    """The journal is under ``owner``'s lease: submitting, or accepted and being checked."""
    return and_(
        journals.c.id == journal_id,
        journals.c.lease_owner == owner,
        journals.c.status.in_((SUBMITTING, ACCEPTED)),
    )


def mark_accepted(
    tx: Tx, journal_id: str, *, owner: str, ticket: str, connector: str, now: datetime, check_at: datetime
) -> bool:
    """The ERP took the journal and is working on it: keep its ticket, check again at ``check_at``."""
    result = tx.execute(
        update(journals)
        .where(_mine(journal_id, owner))
        .values(
            status=ACCEPTED,
            erp_ticket=ticket[:256],
            accepted_at=now,
            connector=connector,
            uncertain=1,
            next_attempt_at=check_at,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
        )
    )
    return result.rowcount == 1


def check_later(tx: Tx, journal_id: str, *, owner: str, at: datetime, error: str | None) -> bool:
    """An accepted journal the ERP is still working on (or could not be asked about): next check
    at ``at``; ``error`` says why the ERP could not be asked, if it could not."""
    result = tx.execute(
        update(journals)
        .where(_mine(journal_id, owner), journals.c.status == ACCEPTED)
        .values(
            next_attempt_at=at,
            lease_owner=None,
            lease_expires_at=None,
            last_error=error[:2000] if error else None,
        )
    )
    return result.rowcount == 1


def mark_posted(tx: Tx, journal_id: str, *, owner: str, document: str, connector: str, now: datetime) -> bool:
    result = tx.execute(
        update(journals)
        .where(_mine(journal_id, owner))
        .values(
            status=POSTED,
            erp_document=document,
            connector=connector,
            uncertain=0,
            next_attempt_at=None,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            posted_at=now,
        )
    )
    if result.rowcount != 1:
        return False
    announcements.journal_posted(tx, journal_id, now=now)  # the same transaction: events out
    return True


def retry_later(
    tx: Tx,
    journal_id: str,
    *,
    owner: str,
    at: datetime,
    attempts: int,
    uncertain: bool,
    connector: str,
    error: str,
) -> bool:
    return _end_attempt(tx, journal_id, owner, STAGED, at, attempts, uncertain, connector, error)


def mark_failed(
    tx: Tx,
    journal_id: str,
    *,
    owner: str,
    attempts: int,
    uncertain: bool,
    connector: str,
    error: str,
) -> bool:
    return _end_attempt(tx, journal_id, owner, FAILED, None, attempts, uncertain, connector, error)


def _end_attempt(
    tx: Tx,
    journal_id: str,
    owner: str,
    status: str,
    next_attempt_at: datetime | None,
    attempts: int,
    uncertain: bool,
    connector: str,
    error: str,
) -> bool:
    """An attempt that did not post: back to staged with a time, or failed; only under the lease."""
    result = tx.execute(
        update(journals)
        .where(_mine(journal_id, owner))
        .values(
            status=status,
            attempts=attempts,
            uncertain=1 if uncertain else 0,
            connector=connector,
            next_attempt_at=next_attempt_at,
            lease_owner=None,
            lease_expires_at=None,
            last_error=error[:2000],
        )
    )
    return result.rowcount == 1


def release(tx: Tx, journal_ids: Sequence[str], *, owner: str, at: datetime) -> int:
    """Give claimed journals back untouched (the connector's circuit is open): no attempt spent."""
    if not journal_ids:
        return 0
    result = tx.execute(
        update(journals)
        .where(
            journals.c.id.in_(list(journal_ids)),
            journals.c.lease_owner == owner,
            journals.c.status == SUBMITTING,
        )
        .values(status=STAGED, next_attempt_at=at, lease_owner=None, lease_expires_at=None)
    )
    return int(result.rowcount)


def requeue(tx: Tx, journal_ids: Sequence[str], *, now: datetime) -> int:
    """Failed journals back to staged after the cause was fixed: attempts start again; a journal
    that may have reached the ERP keeps its uncertain flag, so it is still looked up first."""
    result = tx.execute(
        update(journals)
        .where(journals.c.id.in_(list(journal_ids)), journals.c.status == FAILED)
        .values(status=STAGED, attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount)
