"""Claiming rows under a lease: the one statement every outbox-like table's ``claim`` runs.

The journal outbox (``outbox``) and the event outbox (``announcements``) hand due rows to one of
several processes at a time. Each claim is one ``UPDATE ... WHERE key IN (candidates) RETURNING``:
the candidates are the oldest due rows, locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so two
claimers never wait on, nor take, the same row (SQLite has one writer: the transaction is enough).
Where most rounds find nothing due, ``probe`` first asks in a read-only transaction, so an idle
poller does not open a write transaction (and take SQLite's write lock) every round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update

from revbridge.store.database import Database


def take(
    db: Database,
    table: Table,
    *,
    due: ColumnElement[bool],
    order_by: Sequence[ColumnElement[Any]],
    values: Mapping[str, Any],
    returning: Sequence[ColumnElement[Any]],
    limit: int,
    probe: bool = False,
) -> Sequence[Any]:
    """Set ``values`` (the lease, a status) on up to ``limit`` rows that are ``due``, taken in
    ``order_by`` order, and return their ``returning`` columns as rows (in no particular order)."""
    key = next(iter(table.primary_key.columns))
    if probe:
        with db.reading() as tx:
            if tx.execute(select(key).where(due).limit(1)).first() is None:
                return []
    candidates = select(key).where(due).order_by(*order_by).limit(limit)
    if db.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(table).where(key.in_(candidates.scalar_subquery())).values(**values).returning(*returning)
    )
    with db.transaction() as tx:
        return tx.execute(statement).all()
