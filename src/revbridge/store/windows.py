"""Micro-batch windows (``batch_windows``): one open window per legal entity at a time.

Batch-lane drafts wait in the subledger under their legal entity's open window; the posting loop
closes a window when ``ledger.window.is_due`` says so and stages its journals. Joining a window
writes nothing on its row: its lines are counted from the subledger when the posting loop reads
the open windows, and the count is kept on the row when it closes. (Keeping it on the row on
every join made the row hot: every worker process posting to one legal entity queued on it for
the rest of its transaction.) On PostgreSQL lines join under a share lock on the window's row
(``FOR SHARE``: joiners do not wait for each other), and the posting loop takes windows for
closing ``FOR UPDATE SKIP LOCKED``, so it never closes a window while lines joining it are not
committed yet, two processes never close the same window, and nothing joins one being closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from revbridge.ledger.window import window_key
from revbridge.store import deferred
from revbridge.store.database import Tx
from revbridge.store.schema import batch_windows, event_lines


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    key: str
    legal_entity: str
    opened_at: datetime
    line_count: int


# Two processes that found no open window at once may each open one: lines then join the
# oldest, and the posting loop closes both. (SQLite renders no FOR SHARE: its one writer is lock
# enough.)
_OPEN = (
    select(batch_windows.c.key)
    .where(batch_windows.c.legal_entity == bindparam("p_legal_entity"), batch_windows.c.closed_at.is_(None))
    .order_by(batch_windows.c.key)
    .limit(1)
    .with_for_update(read=True)
)
# The lines waiting in a window: its subledger rows not yet in a journal.
_LINES = (
    select(func.count())
    .select_from(event_lines)
    .where(event_lines.c.window_key == batch_windows.c.key, event_lines.c.journal_id.is_(None))
    .scalar_subquery()
)


def join(tx: Tx, legal_entity: str, *, now: datetime) -> str:
    """The key of the legal entity's open window (opened now if there is none); the caller
    writes the lines under it in this transaction. A worker transaction joins each legal
    entity's window once: its share lock (or SQLite's one writer) keeps it open until commit."""
    held = deferred.of(tx)
    cached = held.cache.get(f"window:{legal_entity}") if held is not None else None
    if isinstance(cached, str):
        return cached
    key = tx.execute(_OPEN, {"p_legal_entity": legal_entity}).scalar_one_or_none()
    if key is None:
        key = window_key(legal_entity, now)
        tx.execute(
            batch_windows.insert().values(key=key, legal_entity=legal_entity, opened_at=now, line_count=0)
        )
    if held is not None:
        held.cache[f"window:{legal_entity}"] = str(key)
    return str(key)


def open_windows(tx: Tx) -> list[Window]:
    """The open windows, each locked for this transaction (others skip them on PostgreSQL)."""
    query = (
        select(
            batch_windows.c.key,
            batch_windows.c.legal_entity,
            batch_windows.c.opened_at,
            _LINES.label("lines"),
        )
        .where(batch_windows.c.closed_at.is_(None))
        .order_by(batch_windows.c.key)
    )
    if tx.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=batch_windows)
    return [
        Window(key=r.key, legal_entity=r.legal_entity, opened_at=r.opened_at, line_count=int(r.lines))
        for r in tx.execute(query)
    ]


def close(tx: Tx, key: str, *, now: datetime, line_count: int) -> None:
    """Close a window taken by ``open_windows``, keeping how many lines it closed with."""
    tx.execute(
        update(batch_windows).where(batch_windows.c.key == key).values(closed_at=now, line_count=line_count)
    )


def lines_waiting(tx: Tx) -> int:
    """Subledger lines waiting in a window for their journal (the batch lane not closed yet)."""
    query = (
        select(func.count())
        .select_from(event_lines)
        .where(event_lines.c.window_key.is_not(None), event_lines.c.journal_id.is_(None))
    )
    return int(tx.execute(query).scalar_one())
