"""Work items: the rows behind the work queue, every problem located and assignable until
somebody resolves or ignores it.

``revbridge.workqueue`` decides (which problems open items, when they are due, what a retry puts
back); this module only stores and reads the rows, and decides nothing beyond what a row holds. A
problem found again on a retry or replay does not open a second item: items are matched by a
fingerprint of code, message, locator and event key while they are open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select, update

from revbridge.core.ids import digest
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.store import announcements
from revbridge.store.database import Database
from revbridge.store.schema import messages, work_items

OPEN = "open"
RESOLVED = "resolved"
IGNORED = "ignored"
STATUSES = (OPEN, RESOLVED, IGNORED)

# Bound on the values in one IN (...) list: SQLite builds before 3.32 allow 999 parameters.
CHUNK = 500


def fingerprint(code: str, message_id: str | None, locator: str, event_key: str | None) -> str:
    return digest(code, message_id or "", locator, event_key or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewItem:
    """A work item about to be opened, as the work queue decided it."""

    code: str
    severity: str
    locator: str
    message: str
    message_id: str | None
    event_key: str | None
    facility: str | None
    details: tuple[tuple[str, str], ...]
    fingerprint: str
    due_at: datetime | None

    @classmethod
    def of(
        cls, problem: Problem, *, message_id: str | None, facility: str | None, due_at: datetime | None
    ) -> NewItem:
        return cls(
            code=str(problem.code),
            severity=str(problem.severity),
            locator=problem.locator,
            message=problem.message,
            message_id=message_id,
            event_key=problem.event_key,
            facility=facility,
            details=problem.details,
            fingerprint=fingerprint(str(problem.code), message_id, problem.locator, problem.event_key),
            due_at=due_at,
        )


def unopened(conn: Connection, drafts: Iterable[NewItem]) -> tuple[NewItem, ...]:
    """The drafts no open item holds yet (by fingerprint), the first of each, in their order."""
    first: dict[str, NewItem] = {}
    for draft in drafts:
        first.setdefault(draft.fingerprint, draft)
    wanted = sorted(first)
    held: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        query = select(work_items.c.fingerprint).where(
            work_items.c.fingerprint.in_(wanted[start : start + CHUNK]), work_items.c.status == OPEN
        )
        held.update(fp for (fp,) in conn.execute(query))
    return tuple(d for fp, d in first.items() if fp not in held)


def insert(conn: Connection, items: Sequence[NewItem], *, now: datetime) -> None:
    """Open ``items`` as they are; deduplicating them is the caller's decision."""
    if not items:
        return
    rows = [
        {
            "code": i.code,
            "severity": i.severity,
            "status": OPEN,
            # the column is 256 wide; a locator is a path into a message, its head names the place
            "locator": (i.locator or "(message)")[:256],
            "message": i.message,
            "message_id": i.message_id,
            "event_key": i.event_key,
            "facility": i.facility,
            "details": json.dumps(dict(i.details)),
            "fingerprint": i.fingerprint,
            "assignee": None,
            "due_at": i.due_at,
            "created_at": now,
            "updated_at": now,
            "resolved_by": None,
            "resolution": None,
        }
        for i in items
    ]
    inserted = conn.execute(
        work_items.insert().returning(work_items.c.id, sort_by_parameter_order=True), rows
    )
    announcements.workitems_opened(conn, [int(i) for (i,) in inserted], now=now)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    id: int
    code: str
    severity: str
    status: str
    locator: str
    message: str
    message_id: str | None
    event_key: str | None
    facility: str | None
    details: dict[str, str]
    assignee: str | None
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_by: str | None
    resolution: str | None

    def as_json(self) -> dict[str, object]:
        """The public shape of `revbridge exceptions --json` (DESIGN.md section 10), extended."""
        return {
            "id": self.id,
            "code": self.code,
            "severity": self.severity,
            "status": self.status,
            "locator": self.locator,
            "message": self.message,
            "message_id": self.message_id,
            "event_key": self.event_key,
            "created_at": self.created_at.isoformat(),
            "facility": self.facility,
            "details": self.details,
            "assignee": self.assignee,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "updated_at": self.updated_at.isoformat(),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
        }


def _item(row: object) -> WorkItem:
    m = row._mapping  # type: ignore[attr-defined]
    return WorkItem(
        id=m["id"],
        code=m["code"],
        severity=m["severity"],
        status=m["status"],
        locator=m["locator"],
        message=m["message"],
        message_id=m["message_id"],
        event_key=m["event_key"],
        facility=m["facility"],
        details=json.loads(m["details"] or "{}"),
        assignee=m["assignee"],
        due_at=m["due_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        resolved_by=m["resolved_by"],
        resolution=m["resolution"],
    )


def list_items(
    db: Database,
    *,
    status: str | None = OPEN,
    code: str | None = None,
    message_id: str | None = None,
    facility: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    older_than: datetime | None = None,
    limit: int = 1000,
) -> list[WorkItem]:
    query = select(work_items).order_by(work_items.c.id).limit(limit)
    if status:
        query = query.where(work_items.c.status == status)
    if code:
        query = query.where(work_items.c.code == code)
    if message_id:
        query = query.where(work_items.c.message_id == message_id)
    if facility:
        query = query.where(work_items.c.facility == facility)
    if assignee:
        query = query.where(work_items.c.assignee == assignee)
    if unassigned:
        query = query.where(or_(work_items.c.assignee.is_(None), work_items.c.assignee == ""))
    if older_than:
        query = query.where(work_items.c.created_at < older_than)
    with db.reading() as conn:
        return [_item(r) for r in conn.execute(query)]


def get(db: Database, item_id: int) -> WorkItem | None:
    with db.reading() as conn:
        row = conn.execute(select(work_items).where(work_items.c.id == item_id)).first()
    return _item(row) if row is not None else None


def close(
    conn: Connection, item_ids: Sequence[int], *, status: str, actor: str, reason: str, now: datetime
) -> int:
    if status not in (RESOLVED, IGNORED):
        raise ValueError(f"cannot close an item as {status!r}")
    closed = conn.execute(
        update(work_items)
        .where(work_items.c.id.in_(list(item_ids)), work_items.c.status == OPEN)
        .values(status=status, resolved_by=actor, resolution=reason, updated_at=now)
        .returning(work_items.c.id, work_items.c.code)
    ).all()
    announcements.workitems_resolved(conn, [(int(i), c) for i, c in closed], status=status, now=now)
    return len(closed)


def assign(conn: Connection, item_ids: Sequence[int], *, assignee: str | None, now: datetime) -> int:
    result = conn.execute(
        update(work_items)
        .where(work_items.c.id.in_(list(item_ids)), work_items.c.status == OPEN)
        .values(assignee=assignee, updated_at=now)
    )
    return int(result.rowcount)


def open_error_codes(conn: Connection, message_id: str) -> set[str]:
    """The codes of a message's open ERROR items, as seen inside the caller's transaction."""
    query = select(work_items.c.code).where(
        work_items.c.message_id == message_id,
        work_items.c.status == OPEN,
        work_items.c.severity == str(Severity.ERROR),
    )
    return {code for (code,) in conn.execute(query)}


def counts_by_code(db: Database, status: str = OPEN) -> dict[str, int]:
    query = (
        select(work_items.c.code, func.count())
        .where(work_items.c.status == status)
        .group_by(work_items.c.code)
    )
    with db.reading() as conn:
        return {code: int(n) for code, n in conn.execute(query)}


def resolve_cleared(
    conn: Connection, message_id: str, *, still: Iterable[Problem], actor: str, now: datetime
) -> int:
    """Resolve the message's open items that a replay no longer finds (``still`` is what it
    found); a duplicate-content conflict stays open, a replay cannot clear it."""
    keep = {fingerprint(str(p.code), message_id, p.locator, p.event_key) for p in still}
    query = update(work_items).where(
        work_items.c.message_id == message_id,
        work_items.c.status == OPEN,
        work_items.c.code != str(ProblemCode.DUPLICATE_CONFLICT),
    )
    if keep:
        query = query.where(work_items.c.fingerprint.not_in(keep))
    closed = conn.execute(
        query.values(
            status=RESOLVED, resolved_by=actor, resolution="cleared by replay", updated_at=now
        ).returning(work_items.c.id, work_items.c.code)
    ).all()
    announcements.workitems_resolved(conn, [(int(i), c) for i, c in closed], status=RESOLVED, now=now)
    return len(closed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """An open work item and where what it is about stands: its message, or the journal an ERP
    failure names."""

    item_id: int
    code: str
    message_id: str | None
    message_status: str | None
    journal_id: str | None


def standing(conn: Connection, item_ids: Iterable[int]) -> tuple[Standing, ...]:
    """The open ones among these items. On PostgreSQL they stay locked until the caller's
    transaction ends, so what it then changes and audits is what it saw."""
    query = (
        select(work_items.c.id, work_items.c.code, work_items.c.details, messages.c.id, messages.c.status)
        .select_from(work_items.outerjoin(messages, messages.c.id == work_items.c.message_id))
        .where(work_items.c.id.in_(sorted(set(item_ids))), work_items.c.status == OPEN)
        .order_by(work_items.c.id)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=work_items)
    return tuple(
        Standing(
            item_id=int(item_id),
            code=code,
            message_id=message_id,
            message_status=status,
            journal_id=json.loads(details or "{}").get("journal_id"),
        )
        for item_id, code, details, message_id, status in conn.execute(query)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenGroup:
    code: str
    facility: str | None
    count: int
    oldest_at: datetime


def open_groups(db: Database, *, code: str | None = None) -> tuple[OpenGroup, ...]:
    """Open items counted by code and facility, with the creation time of the oldest."""
    query = (
        select(work_items.c.code, work_items.c.facility, func.count(), func.min(work_items.c.created_at))
        .where(work_items.c.status == OPEN)
        .group_by(work_items.c.code, work_items.c.facility)
    )
    if code:
        query = query.where(work_items.c.code == code)
    with db.reading() as conn:
        rows = conn.execute(query).all()
    found = (OpenGroup(code=c, facility=f, count=int(n), oldest_at=at) for c, f, n, at in rows)
    # sorted here: SQLite and PostgreSQL put a NULL facility at opposite ends
    return tuple(sorted(found, key=lambda g: (g.code, g.facility or "")))


def open_assignees(db: Database) -> tuple[str, ...]:
    query = (
        select(work_items.c.assignee)
        .distinct()
        .where(work_items.c.status == OPEN, work_items.c.assignee.is_not(None), work_items.c.assignee != "")
        .order_by(work_items.c.assignee)
    )
    with db.reading() as conn:
        return tuple(name for (name,) in conn.execute(query))


def open_for_messages(db: Database, message_ids: Sequence[str]) -> frozenset[int]:
    """The ids of the open items of these messages."""
    found: set[int] = set()
    wanted = sorted(set(message_ids))
    with db.reading() as conn:
        for start in range(0, len(wanted), CHUNK):
            query = select(work_items.c.id).where(
                work_items.c.message_id.in_(wanted[start : start + CHUNK]), work_items.c.status == OPEN
            )
            found.update(int(i) for (i,) in conn.execute(query))
    return frozenset(found)


def oldest_open_by_severity(db: Database, *, now: datetime) -> dict[str, float]:
    """Seconds since the oldest open item of each severity was opened: what the work-queue SLA
    alert reads at scrape time. A severity with no open item is absent."""
    query = (
        select(work_items.c.severity, func.min(work_items.c.created_at))
        .where(work_items.c.status == OPEN)
        .group_by(work_items.c.severity)
    )
    with db.reading() as conn:
        rows = conn.execute(query).all()
    return {str(sev): max(0.0, (now - at).total_seconds()) for sev, at in rows if at is not None}
