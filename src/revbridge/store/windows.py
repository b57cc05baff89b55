"""Micro-batch windows (``batch_windows``): one open window per legal entity at a time.

Batch-lane drafts wait in the subledger under their legal entity's open window; the posting loop
closes a window when ``ledger.window.is_due`` says so and stages its journals. On PostgreSQL the
open window is read ``FOR UPDATE`` when lines join it, and windows are taken for closing with
``SKIP LOCKED``, so two processes never close the same window or add lines to one being closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update

from revbridge.ledger.window import window_key
from revbridge.store.database import Tx
from revbridge.store.schema import batch_windows


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    key: str
    legal_entity: str
    opened_at: datetime
    line_count: int


# One statement joins the open window (on PostgreSQL the UPDATE locks its row, as FOR UPDATE did).
# Two processes that found no open window at once may each open one: lines then join the
# oldest, and the posting loop closes both.
_OPEN = (
    select(batch_windows.c.key)
    .where(batch_windows.c.legal_entity == bindparam("p_legal_entity"), batch_windows.c.closed_at.is_(None))
    .order_by(batch_windows.c.key)
    .limit(1)
    .scalar_subquery()
)
_JOIN = (
    update(batch_windows)
    .where(batch_windows.c.key == _OPEN, batch_windows.c.closed_at.is_(None))
    .values(line_count=batch_windows.c.line_count + bindparam("p_lines"))
    .returning(batch_windows.c.key)
)


def join(tx: Tx, legal_entity: str, *, lines: int, now: datetime) -> str:
    """The key of the legal entity's open window (opened now if there is none), which counts
    ``lines`` more lines."""
    key = tx.execute(_JOIN, {"p_legal_entity": legal_entity, "p_lines": lines}).scalar_one_or_none()
    if key is None:
        key = window_key(legal_entity, now)
        tx.execute(
            batch_windows.insert().values(key=key, legal_entity=legal_entity, opened_at=now, line_count=lines)
        )
    return str(key)


def open_windows(tx: Tx) -> list[Window]:
    """The open windows, each locked for this transaction (others skip them on PostgreSQL)."""
    query = select(batch_windows).where(batch_windows.c.closed_at.is_(None)).order_by(batch_windows.c.key)
    if tx.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [
        Window(key=r.key, legal_entity=r.legal_entity, opened_at=r.opened_at, line_count=int(r.line_count))
        for r in tx.execute(query)
    ]


def close(tx: Tx, key: str, *, now: datetime) -> None:
    tx.execute(update(batch_windows).where(batch_windows.c.key == key).values(closed_at=now))
