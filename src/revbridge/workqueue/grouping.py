"""The open work, grouped: how many items of each code (and facility) are open and how old the
oldest is, and the values the work queue's filters offer. Reads only; a face renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from revbridge.store import Database, workitems


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    code: str
    facility: str | None
    count: int
    oldest_at: datetime
    oldest_age: timedelta

    def as_json(self) -> dict[str, object]:
        """The shape of `revbridge exceptions --group --json`."""
        return {
            "code": self.code,
            "facility": self.facility,
            "count": self.count,
            "oldest_created_at": self.oldest_at.isoformat(),
            "oldest_age_seconds": int(self.oldest_age.total_seconds()),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Choices:
    """What the filters offer: the values open items carry now."""

    codes: tuple[str, ...]
    facilities: tuple[str, ...]
    assignees: tuple[str, ...]


def groups(db: Database, *, now: datetime, code: str | None = None) -> tuple[Group, ...]:
    """Open items by code and facility, ordered by code, then facility (none first)."""
    return tuple(
        Group(
            code=g.code,
            facility=g.facility,
            count=g.count,
            oldest_at=g.oldest_at,
            oldest_age=max(now - g.oldest_at, timedelta(0)),
        )
        for g in workitems.open_groups(db, code=code)
    )


def choices(db: Database) -> Choices:
    found = workitems.open_groups(db)
    return Choices(
        codes=tuple(sorted({g.code for g in found})),
        facilities=tuple(sorted({g.facility for g in found if g.facility})),
        assignees=workitems.open_assignees(db),
    )
