"""Work items: every problem, located and assignable, until somebody resolves or ignores it.

A problem found again on a retry or replay does not open a second item: items are matched by a
fingerprint of code, message, locator and event key while they are open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select, update

from revbridge.core.ids import digest
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.store.database import Database
from revbridge.store.schema import work_items

OPEN = "open"
RESOLVED = "resolved"
IGNORED = "ignored"
STATUSES = (OPEN, RESOLVED, IGNORED)

# Service levels by severity: when an item should be worked by.
DUE = {
    Severity.ERROR: timedelta(days=1),
    Severity.WARNING: timedelta(days=3),
    Severity.INFO: timedelta(days=7),
}


def fingerprint(code: str, message_id: str | None, locator: str, event_key: str | None) -> str:
    return digest(code, message_id or "", locator, event_key or "")


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


def record(
    conn: Connection,
    problems: Iterable[Problem],
    *,
    now: datetime,
    message_id: str | None,
    facility: str | None = None,
) -> list[str]:
    """Open an item per problem unless an open item with the same fingerprint exists; returns
    the codes of the items opened."""
    rows = []
    seen: set[str] = set()
    for p in problems:
        fp = fingerprint(str(p.code), message_id, p.locator, p.event_key)
        if fp in seen:
            continue
        seen.add(fp)
        exists = conn.execute(
            select(work_items.c.id)
            .where(work_items.c.fingerprint == fp, work_items.c.status == OPEN)
            .limit(1)
        ).first()
        if exists is not None:
            continue
        rows.append(
            {
                "code": str(p.code),
                "severity": str(p.severity),
                "status": OPEN,
                "locator": (p.locator or "(message)")[:256],
                "message": p.message,
                "message_id": message_id,
                "event_key": p.event_key,
                "facility": facility,
                "details": json.dumps(dict(p.details)),
                "fingerprint": fp,
                "assignee": None,
                "due_at": now + DUE.get(p.severity, DUE[Severity.ERROR]),
                "created_at": now,
                "updated_at": now,
                "resolved_by": None,
                "resolution": None,
            }
        )
    if rows:
        conn.execute(work_items.insert(), rows)
    return [str(r["code"]) for r in rows]


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
    result = conn.execute(
        update(work_items)
        .where(work_items.c.id.in_(list(item_ids)), work_items.c.status == OPEN)
        .values(status=status, resolved_by=actor, resolution=reason, updated_at=now)
    )
    return int(result.rowcount)


def assign(conn: Connection, item_ids: Sequence[int], *, assignee: str | None, now: datetime) -> int:
    result = conn.execute(
        update(work_items)
        .where(work_items.c.id.in_(list(item_ids)), work_items.c.status == OPEN)
        .values(assignee=assignee, updated_at=now)
    )
    return int(result.rowcount)


def close_for_messages(
    conn: Connection, message_ids: Sequence[str], *, actor: str, reason: str, now: datetime
) -> int:
    """Resolve the open items of messages a replay has just processed cleanly."""
    result = conn.execute(
        update(work_items)
        .where(work_items.c.message_id.in_(list(message_ids)), work_items.c.status == OPEN)
        .values(status=RESOLVED, resolved_by=actor, resolution=reason, updated_at=now)
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
    result = conn.execute(
        query.values(status=RESOLVED, resolved_by=actor, resolution="cleared by replay", updated_at=now)
    )
    return int(result.rowcount)
