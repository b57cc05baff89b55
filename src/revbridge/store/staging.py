"""The staging-table poller's marks in revbridge's own store.

A mark is the last key of a source table whose row is stored. ``write`` is called by the message
store's committer inside the transaction that commits the messages carrying it (store/messages.py),
so a mark is never ahead of what is durable: a crash before that commit leaves the old mark, and
the rows are read and stored again (duplicates, which dedupe absorbs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from revbridge.store.database import Database
from revbridge.store.schema import staging_marks


@dataclass(frozen=True, slots=True)
class StagingMark:
    source: str  # the configured source name
    high_water: str  # the key column's value, as text


def write(conn: Connection, marks: Iterable[StagingMark], now: datetime) -> None:
    """Set each source's mark (the last one given per source wins)."""
    latest = {m.source: m.high_water for m in marks}
    for source, value in latest.items():
        done = conn.execute(
            update(staging_marks)
            .where(staging_marks.c.source == source)
            .values(high_water=value, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(insert(staging_marks).values(source=source, high_water=value, updated_at=now))


def read(db: Database, source: str) -> str | None:
    with db.reading() as conn:
        value = conn.execute(
            select(staging_marks.c.high_water).where(staging_marks.c.source == source)
        ).scalar_one_or_none()
    return None if value is None else str(value)


def all_marks(db: Database) -> dict[str, dict[str, str]]:
    """Every source's mark and when it moved, for ``revbridge status``."""
    with db.reading() as conn:
        rows = conn.execute(select(staging_marks).order_by(staging_marks.c.source)).all()
    return {r.source: {"high_water": r.high_water, "updated_at": r.updated_at.isoformat()} for r in rows}
