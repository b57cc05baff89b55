"""What people do to work items: assign, resolve, ignore. Each change and its audit entry commit
together, so the audit trail never misses a resolution and never records one that did not happen."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from revbridge.core.clock import Clock
from revbridge.core.errors import InputError
from revbridge.store import audit, workitems
from revbridge.store.database import Database


def close_items(
    db: Database,
    clock: Clock,
    item_ids: Sequence[int],
    *,
    status: str,
    actor: str,
    reason: str,
    anchor: Path | None,
) -> int:
    if not reason.strip():
        raise InputError("a reason is required to resolve or ignore a work item")
    if not item_ids:
        raise InputError("name at least one work item")
    now = clock.now()
    with db.transaction() as conn:
        changed = workitems.close(conn, item_ids, status=status, actor=actor, reason=reason, now=now)
        if changed != len(set(item_ids)):
            open_ids = {i.id for i in workitems.list_items(db, status=workitems.OPEN)}
            missing = sorted(set(item_ids) - open_ids)
            raise InputError(f"not open work items: {', '.join(map(str, missing))}")
        for item_id in sorted(set(item_ids)):
            audit.append(
                conn,
                at=now,
                actor=actor,
                action=f"workitem.{status}",
                target=f"workitem/{item_id}",
                details={"reason": reason},
                anchor=anchor,
            )
    return changed


def assign_items(
    db: Database,
    clock: Clock,
    item_ids: Sequence[int],
    *,
    assignee: str | None,
    actor: str,
    anchor: Path | None,
) -> int:
    now = clock.now()
    with db.transaction() as conn:
        changed = workitems.assign(conn, item_ids, assignee=assignee, now=now)
        for item_id in sorted(set(item_ids)):
            audit.append(
                conn,
                at=now,
                actor=actor,
                action="workitem.assign",
                target=f"workitem/{item_id}",
                details={"assignee": assignee or ""},
                anchor=anchor,
            )
    return changed
