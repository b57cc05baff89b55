"""Opening work items: which problems become items, and when each is due.

Every problem a stage reports becomes an open work item, unless an open item already says the
same thing (same fingerprint: code, message, locator, event key), so a retry or replay that
meets a problem again does not open it twice. Runs inside the caller's transaction, beside
whatever found the problems; it stores through ``store.workitems`` and must not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from revbridge.core.problem import Problem, Severity
from revbridge.store import Tx, workitems
from revbridge.store.workitems import NewItem


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLevels:
    """How long an item may stay open, by severity, before it is overdue. Neither the settings
    nor the configuration name service levels yet; these are the defaults until they do."""

    error: timedelta = timedelta(days=1)
    warning: timedelta = timedelta(days=3)
    info: timedelta = timedelta(days=7)

    def due(self, severity: Severity, opened_at: datetime) -> datetime:
        match severity:
            case Severity.WARNING:
                return opened_at + self.warning
            case Severity.INFO:
                return opened_at + self.info
            case _:
                return opened_at + self.error


DEFAULT_SERVICE_LEVELS = ServiceLevels()


def open_items(
    tx: Tx,
    problems: Iterable[Problem],
    *,
    now: datetime,
    message_id: str | None,
    facility: str | None = None,
    levels: ServiceLevels = DEFAULT_SERVICE_LEVELS,
) -> tuple[NewItem, ...]:
    """Open an item per problem not already open; returns the items opened, in problem order."""
    opened = workitems.unopened(
        tx,
        (
            NewItem.of(p, message_id=message_id, facility=facility, due_at=levels.due(p.severity, now))
            for p in problems
        ),
    )
    workitems.insert(tx, opened, now=now)
    return opened
