"""What one reconciliation reads: a business day's posting events, and ids asked for in chunks.

Every fact reader scopes its query the same way (a day, or everything when the day is None), so
the predicates live here once. Lists of ids go to the database in chunks small enough for any
driver's parameter limit. Nothing here runs a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from sqlalchemy.sql import ColumnElement

from revbridge.store.events import CONTEXT_KINDS
from revbridge.store.schema import events

CHUNK = 400  # ids per IN (...): well under SQLite's and psycopg's parameter limits


def chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def posting() -> ColumnElement[bool]:
    """Events that post (context events give others their payer class and post nothing)."""
    return events.c.kind.not_in(sorted(CONTEXT_KINDS))


def occurred(day: date | None) -> ColumnElement[bool]:
    """Events of the business day ``day``; every event when it is None."""
    return events.c.occurred_on == day if day is not None else events.c.key.is_not(None)
