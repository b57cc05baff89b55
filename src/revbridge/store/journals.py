"""Journals in the store, with their lines and the subledger rows behind them (DESIGN.md
sections 6, 7 and 10).

The posting stage stages a balanced ``Journal`` here in the same transaction that records its
events, so a journal exists exactly when its lines do: a realtime journal with the rows of the
draft it was made of (``stage_realtime``), a batch journal over rows already waiting in its window
(``stage_journal``). Every journal line is linked to the subledger rows summed into it, which is
where ``journal_json`` finds its event keys again. The outbox's transitions (claim, posted,
retry, failed) are in ``store/outbox.py``. Amounts are integer minor units; nothing here talks to
an ERP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypedDict, Unpack

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.ledger.journal import (
    Dimensions,
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    Side,
    journal_to_dict,
    line_key,
)
from revbridge.ledger.role import AccountRole
from revbridge.store import subledger
from revbridge.store.database import Database, Tx
from revbridge.store.schema import event_lines, journal_lines, journals

STAGED = "staged"
SUBMITTING = "submitting"
ACCEPTED = "accepted"  # an asynchronous ERP took it and is still working on it
POSTED = "posted"
FAILED = "failed"
STATES = (STAGED, SUBMITTING, ACCEPTED, POSTED, FAILED)


def stage_journal(
    tx: Tx, journal: Journal, *, connector: str, first_received_at: datetime, now: datetime
) -> bool:
    """Insert the journal and its lines as ``staged``; False (and nothing written) if its id exists.

    Lines that carry event keys are linked to their subledger rows (``event_lines.journal_id`` and
    ``journal_line_id``), which is where ``journal_json`` finds the event keys again.
    """
    line_ids = insert_journal(tx, journal, connector=connector, first_received_at=first_received_at, now=now)
    if line_ids is None:
        return False
    if any(line.event_keys for line in journal.lines):
        _link_event_lines(tx, journal, line_ids)
    return True


def stage_realtime(
    tx: Tx,
    draft: JournalDraft,
    journal: Journal,
    *,
    connector: str,
    first_received_at: datetime,
    now: datetime,
) -> bool:
    """Stage a realtime journal and the subledger rows of the draft it was made of, each row
    linked to the journal line it was summed into; False if the journal was staged before (a
    repeat: its rows are written linked to the journal only)."""
    line_ids = insert_journal(tx, journal, connector=connector, first_received_at=first_received_at, now=now)
    subledger.insert_lines(
        tx,
        draft,
        journal_id=journal.id,
        window=None,
        received_at=first_received_at,
        now=now,
        line_ids=None
        if line_ids is None
        else {line_key(line): i for line, i in zip(journal.lines, line_ids, strict=True)},
    )
    return line_ids is not None


def insert_journal(
    tx: Tx, journal: Journal, *, connector: str, first_received_at: datetime, now: datetime
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
    # RETURNING, not rowcount: psycopg reports rowcount -1 for INSERT ... ON CONFLICT DO NOTHING.
    inserted = tx.execute(_INSERT_JOURNAL[tx.dialect.name == "postgresql"], row).first()
    if inserted is None:
        return None
    rows = [_line_row(journal.id, n, line) for n, line in enumerate(journal.lines, start=1)]
    return [line_id for (line_id,) in tx.execute(_INSERT_LINES, rows)]


# Built once: building them per journal cost more than the inserts (the realtime lane stages a
# journal per cash message). Indexed by "is PostgreSQL".
_INSERT_JOURNAL = tuple(
    dialect.insert(journals).on_conflict_do_nothing().returning(journals.c.id)
    for dialect in (sqlite, postgresql)
)
_INSERT_LINES = journal_lines.insert().returning(journal_lines.c.id, sort_by_parameter_order=True)


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


def _link_event_lines(tx: Tx, journal: Journal, line_ids: Sequence[int]) -> None:
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
        candidates = tx.execute(
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
        tx.execute(
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
    erp_ticket: str | None = None  # the asynchronous ERP's job id, once it accepted the journal
    accepted_at: datetime | None = None
    next_attempt_at: datetime | None
    last_error: str | None
    first_received_at: datetime
    created_at: datetime
    posted_at: datetime | None


def _journals_from_rows(tx: Tx, headers: Sequence[object], *, event_keys: bool = True) -> dict[str, Journal]:
    ids = [h._mapping["id"] for h in headers]  # type: ignore[attr-defined]
    if not ids:
        return {}
    lines: dict[str, list[object]] = {}
    for r in tx.execute(
        select(journal_lines)
        .where(journal_lines.c.journal_id.in_(ids))
        .order_by(journal_lines.c.journal_id, journal_lines.c.line_no)
    ):
        lines.setdefault(r.journal_id, []).append(r)
    keys: dict[int, list[str]] = {}
    linked = (event_lines.c.journal_id.in_(ids), event_lines.c.journal_line_id.is_not(None))
    for journal_line_id, event_key in (
        tx.execute(select(event_lines.c.journal_line_id, event_lines.c.event_key).where(*linked))
        if event_keys
        else ()
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
        with source.reading() as tx:
            return load_many(tx, wanted)
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
        erp_ticket=m["erp_ticket"],
        accepted_at=m["accepted_at"],
    )


class Filters(TypedDict, total=False):
    """What ``matching`` narrows journals by (every one optional)."""

    status: str | None
    legal_entity: str | None
    lane: str | None
    connector: str | None
    date_from: date | None
    date_to: date | None
    ids: Sequence[str] | None


def matching(**filters: Unpack[Filters]) -> Select[tuple[str]]:
    """The ids of the journals passing every given filter: a query the journal pages build on."""
    status = filters.get("status")
    if status is not None and status not in STATES:
        raise InputError(f"unknown journal status {status!r}; one of {', '.join(STATES)}")
    query = select(journals.c.id)
    for name in ("status", "legal_entity", "lane", "connector"):
        if (value := filters.get(name)) is not None:
            query = query.where(journals.c[name] == value)
    if (date_from := filters.get("date_from")) is not None:
        query = query.where(journals.c.posting_date >= date_from)
    if (date_to := filters.get("date_to")) is not None:
        query = query.where(journals.c.posting_date <= date_to)
    if (ids := filters.get("ids")) is not None:
        query = query.where(journals.c.id.in_(list(ids)))
    return query


def list_journals(
    db: Database,
    *,
    limit: int = 1000,
    offset: int = 0,
    newest_first: bool = False,
    event_keys: bool = True,
    **filters: Unpack[Filters],
) -> list[StoredJournal]:
    """Journals passing ``matching``'s filters, by posting date (oldest first unless
    ``newest_first``: then by posting date and staging time, newest first). Without
    ``event_keys`` their lines name no event keys (a batch journal's are thousands)."""
    order = (
        (journals.c.posting_date.desc(), journals.c.created_at.desc(), journals.c.id)
        if newest_first
        else (journals.c.posting_date, journals.c.id)
    )
    query = matching(**filters).with_only_columns(*journals.c).order_by(*order).limit(limit).offset(offset)
    with db.reading() as tx:
        headers = tx.execute(query).all()
        built = _journals_from_rows(tx, headers, event_keys=event_keys)
    return [_stored(h, built[h.id]) for h in headers]


def get(db: Database, journal_id: str) -> StoredJournal | None:
    found = list_journals(db, ids=[journal_id], limit=1)
    return found[0] if found else None


def journal_json(stored: StoredJournal) -> dict[str, object]:
    """The public shape of `revbridge journals --json` (DESIGN.md section 10), extended."""
    return journal_to_dict(stored.journal) | {
        "status": stored.status,
        "erp_reference": stored.erp_document,
        "erp_ticket": stored.erp_ticket,
        "accepted_at": stored.accepted_at.isoformat() if stored.accepted_at else None,
        "connector": stored.connector,
        "attempts": stored.attempts,
        "last_error": stored.last_error,
        "posted_at": stored.posted_at.isoformat() if stored.posted_at else None,
    }


def counts(db: Database) -> dict[str, int]:
    with db.reading() as tx:
        found = {
            s: int(n)
            for s, n in tx.execute(select(journals.c.status, func.count()).group_by(journals.c.status))
        }
    return {status: found.get(status, 0) for status in STATES} | found
