"""What people do to work items: assign, resolve, ignore. Each change and its audit entry commit
together, so the audit trail never misses a change and never records one that did not happen:
only the items found open (and, on PostgreSQL, locked) in the same transaction are changed and
audited. Every face (page, CLI, API) comes through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from revbridge.core.clock import Clock
from revbridge.core.errors import InputError
from revbridge.store import Database, Tx, audit, workitems
from revbridge.store.workitems import Standing


def assign(
    db: Database,
    clock: Clock,
    item_ids: Iterable[int],
    *,
    assignee: str | None,
    actor: str,
    anchor: Path | None,
) -> int:
    """Give the open ones among ``item_ids`` to ``assignee`` (None: nobody); returns how many."""
    now = clock.now()
    with db.transaction() as tx:
        chosen = sorted(s.item_id for s in workitems.standing(tx, item_ids))
        workitems.assign(tx, chosen, assignee=assignee, now=now)
        for item_id in chosen:
            audited(tx, item_id, "assign", {"assignee": assignee or ""}, at=now, actor=actor, anchor=anchor)
    return len(chosen)


def resolve(
    db: Database, clock: Clock, item_ids: Iterable[int], *, reason: str, actor: str, anchor: Path | None
) -> int:
    return _close(db, clock, item_ids, workitems.RESOLVED, reason=reason, actor=actor, anchor=anchor)


def ignore(
    db: Database, clock: Clock, item_ids: Iterable[int], *, reason: str, actor: str, anchor: Path | None
) -> int:
    return _close(db, clock, item_ids, workitems.IGNORED, reason=reason, actor=actor, anchor=anchor)


def _close(
    db: Database,
    clock: Clock,
    item_ids: Iterable[int],
    status: str,
    *,
    reason: str,
    actor: str,
    anchor: Path | None,
) -> int:
    """All or nothing: one named item that is not open refuses the whole request."""
    if not reason.strip():
        raise InputError("a reason is required to resolve or ignore a work item")
    now = clock.now()
    with db.transaction() as tx:
        chosen = [s.item_id for s in open_or_refuse(tx, item_ids)]
        workitems.close(tx, chosen, status=status, actor=actor, reason=reason, now=now)
        for item_id in chosen:
            audited(tx, item_id, status, {"reason": reason}, at=now, actor=actor, anchor=anchor)
    return len(chosen)


def open_or_refuse(tx: Tx, item_ids: Iterable[int]) -> tuple[Standing, ...]:
    """The named items, by id, once every one is found open; else an InputError naming the
    others."""
    wanted = set(item_ids)
    if not wanted:
        raise InputError("name at least one work item")
    found = workitems.standing(tx, wanted)
    missing = sorted(wanted - {s.item_id for s in found})
    if missing:
        raise InputError(f"not open work items: {', '.join(map(str, missing))}")
    return found


def audited(
    tx: Tx,
    item_id: int,
    change: str,
    details: Mapping[str, str],
    *,
    at: datetime,
    actor: str,
    anchor: Path | None,
) -> None:
    """The audit entry of one change to one item, in the transaction that makes the change."""
    audit.append(
        tx,
        at=at,
        actor=actor,
        action=f"workitem.{change}",
        target=f"workitem/{item_id}",
        details=details,
        anchor=anchor,
    )
