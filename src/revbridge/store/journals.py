"""Journals in the store and their outbox state (DESIGN.md sections 6, 7 and 10).

The posting stage stages a balanced ``Journal`` here (``stage_journal``), in the same transaction
that records its events, so a journal exists exactly when its lines do. The outbox then moves it
``staged -> submitting -> posted | failed``: ``claim`` takes due journals under a lease (a journal
whose lease ran out is taken over and counts as *uncertain*: its owner may have reached the ERP
before dying), and the owner finishes it with ``mark_posted``, ``retry_later`` or ``mark_failed``,
each only while it still holds the lease. ``retry_later`` puts the journal back to ``staged``
with a time; ``uncertain`` says the ERP may already have it, so it is looked up before any
re-send. Amounts are integer minor units; nothing here talks to an ERP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalLine, Lane, Side, journal_to_dict
from revbridge.ledger.role import AccountRole
from revbridge.store.database import Database, Tx
from revbridge.store.schema import event_lines, journal_lines, journals

STAGED = "staged"
SUBMITTING = "submitting"
POSTED = "posted"
FAILED = "failed"
STATES = (STAGED, SUBMITTING, POSTED, FAILED)


def stage_journal(
    conn: Connection, journal: Journal, *, connector: str, first_received_at: datetime, now: datetime
) -> bool:
    """Insert the journal and its lines as ``staged``; False (and nothing written) if its id exists.

    Lines that carry event keys are linked to their subledger rows (``event_lines.journal_id`` and
    ``journal_line_id``), which is where ``journal_json`` finds the event keys again.
    """
    line_ids = insert_journal(
        conn, journal, connector=connector, first_received_at=first_received_at, now=now
    )
    if line_ids is None:
        return False
    if any(line.event_keys for line in journal.lines):
        _link_event_lines(conn, journal, line_ids)
    return True


def insert_journal(
    conn: Connection, journal: Journal, *, connector: str, first_received_at: datetime, now: datetime
) -> list[int] | None:
    """Insert the journal and its lines as ``staged`` and return the lines' ids in order, or None
    (and nothing written) if its id exists. The caller links the subledger rows; ``stage_journal``
    links rows already there."""
    row = {
        "id": journal.id,
        "lane": journal.lane.value,
        "legal_entity": journal.legal_entity,
        "posting_date": journal.posting_date,
        "reference": journal.reference,
        "moved_from": json.dumps([d.isoformat() for d in journal.moved_from]),
        "status": STAGED,
        "connector": connector,
        "erp_document": None,
        "attempts": 0,
        "uncertain": 0,
        "next_attempt_at": None,
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": None,
        "first_received_at": first_received_at,
        "created_at": now,
        "posted_at": None,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    # RETURNING, not rowcount: psycopg reports rowcount -1 for INSERT ... ON CONFLICT DO NOTHING.
    inserted = conn.execute(
        dialect.insert(journals).values(row).on_conflict_do_nothing().returning(journals.c.id)
    ).first()
    if inserted is None:
        return None
    rows = [_line_row(journal.id, n, line) for n, line in enumerate(journal.lines, start=1)]
    statement = journal_lines.insert().returning(journal_lines.c.id, sort_by_parameter_order=True)
    return [line_id for (line_id,) in conn.execute(statement, rows)]


def _line_row(journal_id: str, line_no: int, line: JournalLine) -> dict[str, object]:
    minor = line.amount.to_minor()
    return {
        "journal_id": journal_id,
        "line_no": line_no,
        "account": line.account,
        "role": line.role.value,
        "debit_minor": minor if line.side is Side.DEBIT else 0,
        "credit_minor": minor if line.side is Side.CREDIT else 0,
        "currency": line.amount.currency,
        "facility": line.dimensions.facility,
        "cost_center": line.dimensions.cost_center,
        "payer_class": line.dimensions.payer_class,
        "service_line": line.dimensions.service_line,
    }


def _link_event_lines(conn: Connection, journal: Journal, line_ids: Sequence[int]) -> None:
    """Point each subledger row of this journal's events at the journal line it was summed into:
    the row's event is among the line's keys and its account, role, side, currency and dimensions
    are the line's. One pass over the rows (an ERA's journal has thousands)."""
    line_of: dict[tuple[str, ...], list[tuple[int, frozenset[str]]]] = {}
    for line, line_id in zip(journal.lines, line_ids, strict=True):
        line_of.setdefault(_line_shape(line), []).append((line_id, frozenset(line.event_keys)))
    keys = sorted({key for line in journal.lines for key in line.event_keys})
    c = event_lines.c
    updates = []
    for start in range(0, len(keys), 400):
        candidates = conn.execute(
            select(
                c.id,
                c.event_key,
                c.account,
                c.role,
                c.side,
                c.currency,
                c.facility,
                c.cost_center,
                c.payer_class,
                c.service_line,
            ).where(
                c.event_key.in_(keys[start : start + 400]),
                c.legal_entity == journal.legal_entity,
                c.journal_line_id.is_(None),
                or_(c.journal_id.is_(None), c.journal_id == journal.id),
            )
        )
        for row_id, event_key, *shape in candidates:
            for line_id, line_keys in line_of.get(tuple(shape), ()):
                if event_key in line_keys:
                    updates.append({"row_id": row_id, "jid": journal.id, "lid": line_id})
                    break
    if updates:
        conn.execute(
            update(event_lines)
            .where(event_lines.c.id == bindparam("row_id"))
            .values(journal_id=bindparam("jid"), journal_line_id=bindparam("lid")),
            updates,
        )


def _line_shape(line: JournalLine) -> tuple[str, ...]:
    d = line.dimensions
    return (
        line.account,
        line.role.value,
        line.side.value,
        line.amount.currency,
        d.facility,
        d.cost_center,
        d.payer_class,
        d.service_line,
    )


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredJournal:
    journal: Journal
    status: str
    connector: str
    erp_document: str | None
    attempts: int
    uncertain: bool
    next_attempt_at: datetime | None
    last_error: str | None
    first_received_at: datetime
    created_at: datetime
    posted_at: datetime | None


def _journals_from_rows(conn: Connection, headers: Sequence[object]) -> dict[str, Journal]:
    ids = [h._mapping["id"] for h in headers]  # type: ignore[attr-defined]
    if not ids:
        return {}
    lines: dict[str, list[object]] = {}
    for r in conn.execute(
        select(journal_lines)
        .where(journal_lines.c.journal_id.in_(ids))
        .order_by(journal_lines.c.journal_id, journal_lines.c.line_no)
    ):
        lines.setdefault(r.journal_id, []).append(r)
    keys: dict[int, list[str]] = {}
    for journal_line_id, event_key in conn.execute(
        select(event_lines.c.journal_line_id, event_lines.c.event_key).where(
            event_lines.c.journal_id.in_(ids), event_lines.c.journal_line_id.is_not(None)
        )
    ):
        keys.setdefault(int(journal_line_id), []).append(event_key)
    result = {}
    for h in headers:
        m = h._mapping  # type: ignore[attr-defined]
        result[m["id"]] = Journal(
            id=m["id"],
            lane=Lane(m["lane"]),
            legal_entity=m["legal_entity"],
            posting_date=m["posting_date"],
            reference=m["reference"],
            lines=tuple(_line(r, m["legal_entity"], keys) for r in lines.get(m["id"], [])),
            moved_from=tuple(date.fromisoformat(d) for d in json.loads(m["moved_from"] or "[]")),
        )
    return result


def _line(row: object, legal_entity: str, keys: dict[int, list[str]]) -> JournalLine:
    m = row._mapping  # type: ignore[attr-defined]
    debit = m["debit_minor"] > 0
    return JournalLine(
        account=m["account"],
        role=AccountRole(m["role"]),
        side=Side.DEBIT if debit else Side.CREDIT,
        amount=Money.from_minor(m["debit_minor"] if debit else m["credit_minor"], m["currency"]),
        dimensions=Dimensions(
            legal_entity=legal_entity,
            facility=m["facility"],
            cost_center=m["cost_center"],
            payer_class=m["payer_class"],
            service_line=m["service_line"],
        ),
        event_keys=tuple(keys.get(int(m["id"]), ())),
    )


def load_many(source: Tx | Database, ids: Iterable[str]) -> dict[str, Journal]:
    wanted = list(dict.fromkeys(ids))
    if isinstance(source, Database):
        with source.reading() as conn:
            return load_many(conn, wanted)
    headers = source.execute(select(journals).where(journals.c.id.in_(wanted))).all()
    return _journals_from_rows(source, headers)


def load(source: Tx | Database, journal_id: str) -> Journal:
    found = load_many(source, [journal_id])
    if journal_id not in found:
        raise InputError(f"no journal {journal_id!r}")
    return found[journal_id]


def _stored(row: object, journal: Journal) -> StoredJournal:
    m = row._mapping  # type: ignore[attr-defined]
    return StoredJournal(
        journal=journal,
        status=m["status"],
        connector=m["connector"],
        erp_document=m["erp_document"],
        attempts=int(m["attempts"]),
        uncertain=bool(m["uncertain"]),
        next_attempt_at=m["next_attempt_at"],
        last_error=m["last_error"],
        first_received_at=m["first_received_at"],
        created_at=m["created_at"],
        posted_at=m["posted_at"],
    )


def list_journals(
    db: Database,
    *,
    status: str | None = None,
    legal_entity: str | None = None,
    lane: str | None = None,
    connector: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    ids: Sequence[str] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[StoredJournal]:
    if status is not None and status not in STATES:
        raise InputError(f"unknown journal status {status!r}; one of {', '.join(STATES)}")
    query = select(journals).order_by(journals.c.posting_date, journals.c.id).limit(limit).offset(offset)
    for column, value in (
        (journals.c.status, status),
        (journals.c.legal_entity, legal_entity),
        (journals.c.lane, lane),
        (journals.c.connector, connector),
    ):
        if value is not None:
            query = query.where(column == value)
    if date_from is not None:
        query = query.where(journals.c.posting_date >= date_from)
    if date_to is not None:
        query = query.where(journals.c.posting_date <= date_to)
    if ids is not None:
        query = query.where(journals.c.id.in_(list(ids)))
    with db.reading() as conn:
        headers = conn.execute(query).all()
        built = _journals_from_rows(conn, headers)
    return [_stored(h, built[h.id]) for h in headers]


def get(db: Database, journal_id: str) -> StoredJournal | None:
    found = list_journals(db, ids=[journal_id], limit=1)
    return found[0] if found else None


def journal_json(stored: StoredJournal) -> dict[str, object]:
    """The public shape of `revbridge journals --json` (DESIGN.md section 10), extended."""
    return journal_to_dict(stored.journal) | {
        "status": stored.status,
        "erp_reference": stored.erp_document,
        "connector": stored.connector,
        "attempts": stored.attempts,
        "last_error": stored.last_error,
        "posted_at": stored.posted_at.isoformat() if stored.posted_at else None,
    }


def counts(db: Database) -> dict[str, int]:
    with db.reading() as conn:
        found = {
            s: int(n)
            for s, n in conn.execute(select(journals.c.status, func.count()).group_by(journals.c.status))
        }
    return {status: found.get(status, 0) for status in STATES} | found


# ---- the outbox's transitions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    legal_entity: str
    lane: str
    connector: str
    attempts: int
    uncertain: bool
    first_received_at: datetime


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
    candidates = select(journals.c.id).where(due).order_by(journals.c.created_at, journals.c.id).limit(limit)
    if db.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(journals)
        .where(journals.c.id.in_(candidates.scalar_subquery()))
        .values(
            status=SUBMITTING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            uncertain=case((journals.c.status == SUBMITTING, 1), else_=journals.c.uncertain),
        )
        .returning(
            journals.c.id,
            journals.c.legal_entity,
            journals.c.lane,
            journals.c.connector,
            journals.c.attempts,
            journals.c.uncertain,
            journals.c.first_received_at,
        )
    )
    with db.transaction() as conn:
        rows = conn.execute(statement).all()
    claimed = [Claim(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5]), r[6]) for r in rows]
    claimed.sort(key=lambda c: c.id)
    return claimed


def _mine(journal_id: str, owner: str) -> ColumnElement[bool]:
    return and_(journals.c.id == journal_id, journals.c.lease_owner == owner, journals.c.status == SUBMITTING)


def mark_posted(
    conn: Connection, journal_id: str, *, owner: str, document: str, connector: str, now: datetime
) -> bool:
    result = conn.execute(
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
    return result.rowcount == 1


def retry_later(
    conn: Connection,
    journal_id: str,
    *,
    owner: str,
    at: datetime,
    attempts: int,
    uncertain: bool,
    connector: str,
    error: str,
) -> bool:
    return _end_attempt(conn, journal_id, owner, STAGED, at, attempts, uncertain, connector, error)


def mark_failed(
    conn: Connection,
    journal_id: str,
    *,
    owner: str,
    attempts: int,
    uncertain: bool,
    connector: str,
    error: str,
) -> bool:
    return _end_attempt(conn, journal_id, owner, FAILED, None, attempts, uncertain, connector, error)


def _end_attempt(
    conn: Connection,
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
    result = conn.execute(
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


def release(conn: Connection, journal_ids: Sequence[str], *, owner: str, at: datetime) -> int:
    """Give claimed journals back untouched (the connector's circuit is open): no attempt spent."""
    if not journal_ids:
        return 0
    result = conn.execute(
        update(journals)
        .where(
            journals.c.id.in_(list(journal_ids)),
            journals.c.lease_owner == owner,
            journals.c.status == SUBMITTING,
        )
        .values(status=STAGED, next_attempt_at=at, lease_owner=None, lease_expires_at=None)
    )
    return int(result.rowcount)


def requeue(conn: Connection, journal_ids: Sequence[str], *, now: datetime) -> int:
    """Failed journals back to staged after the cause was fixed: attempts start again; a journal
    that may have reached the ERP keeps its uncertain flag, so it is still looked up first."""
    result = conn.execute(
        update(journals)
        .where(journals.c.id.in_(list(journal_ids)), journals.c.status == FAILED)
        .values(status=STAGED, attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount)
