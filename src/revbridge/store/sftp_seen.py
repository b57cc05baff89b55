"""The files each SFTP source took, in revbridge's own store.

A row is written after the file's messages are committed (never before), so a crash between the
two leaves no row: the file is downloaded again and dedupe absorbs its messages. A source on a
read-only server (``after: remember``) skips a file whose name, size and mtime are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select

from revbridge.store.database import Database
from revbridge.store.schema import sftp_seen


@dataclass(frozen=True, slots=True)
class Taken:
    name: str
    size: int
    mtime: int
    sha256: str
    outcome: str  # stored | duplicate | refused


def remember(db: Database, source: str, taken: Taken, now: datetime) -> None:
    """Record a taken file; taking the same file again (a re-download after a crash) is a no-op."""
    key = (
        (sftp_seen.c.source == source)
        & (sftp_seen.c.name == taken.name)
        & (sftp_seen.c.size == taken.size)
        & (sftp_seen.c.mtime == taken.mtime)
    )
    with db.transaction() as tx:
        if tx.execute(select(sftp_seen.c.name).where(key)).first() is not None:
            return
        tx.execute(
            insert(sftp_seen).values(
                source=source,
                name=taken.name,
                size=taken.size,
                mtime=taken.mtime,
                sha256=taken.sha256,
                outcome=taken.outcome,
                taken_at=now,
            )
        )


def seen(db: Database, source: str) -> set[tuple[str, int, int]]:
    """(name, size, mtime) of every file the source took."""
    with db.reading() as tx:
        rows = tx.execute(
            select(sftp_seen.c.name, sftp_seen.c.size, sftp_seen.c.mtime).where(sftp_seen.c.source == source)
        ).all()
    return {(r.name, int(r.size), int(r.mtime)) for r in rows}


def summary(db: Database) -> dict[str, dict[str, object]]:
    """Per source: files taken by outcome and when the last was taken, for ``revbridge status``."""
    with db.reading() as tx:
        rows = tx.execute(
            select(sftp_seen.c.source, sftp_seen.c.outcome, func.count(), func.max(sftp_seen.c.taken_at))
            .group_by(sftp_seen.c.source, sftp_seen.c.outcome)
            .order_by(sftp_seen.c.source)
        ).all()
    found: dict[str, dict[str, object]] = {}
    for source, outcome, count, last in rows:
        entry = found.setdefault(source, {"taken": {}, "last_taken_at": None})
        taken = entry["taken"]
        assert isinstance(taken, dict)
        taken[outcome] = int(count)
        stamp = last.isoformat() if last is not None else None
        if stamp is not None and (entry["last_taken_at"] is None or stamp > str(entry["last_taken_at"])):
            entry["last_taken_at"] = stamp
    return found
