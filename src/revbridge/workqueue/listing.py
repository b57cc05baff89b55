"""Finding work items: the selection a face asks for (status, code, facility, assignee, age) and
the items it matches, oldest first. Reads only; parsing a request into a ``Selection`` is the
face's job, and so is rendering what comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from revbridge.store import Database, workitems
from revbridge.store.workitems import WorkItem


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """``status`` None is every status; ``unassigned`` wins over ``assignee``."""

    status: str | None = workitems.OPEN
    code: str | None = None
    facility: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    older_than: timedelta | None = None


def find(db: Database, selection: Selection, *, now: datetime, limit: int = 1000) -> tuple[WorkItem, ...]:
    return tuple(
        workitems.list_items(
            db,
            status=selection.status,
            code=selection.code,
            facility=selection.facility,
            assignee=None if selection.unassigned else selection.assignee,
            unassigned=selection.unassigned,
            older_than=now - selection.older_than if selection.older_than is not None else None,
            limit=limit,
        )
    )
