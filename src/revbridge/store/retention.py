"""Retention: raw payloads past their retention period are removed; everything derived stays.

Only a message in a terminal state (processed, excepted, ignored, duplicate) received before the
cut-off loses its payload (set NULL, ``purged_at`` stamped). Its metadata, events, journals, work
items, lineage and the audit trail stay, so every figure can still be traced to the message that
produced it, only no longer to its bytes. A message with an open work item keeps its payload
whatever its age: the fix will need to replay it; such messages are counted as held back.

Purging runs in batches, each batch and its ``retention.purge`` audit entry committing together,
so intake keeps flowing and the trail never misses a purge. Then the space is reclaimed: on
SQLite the first purge switches the file to incremental auto-vacuum with one full ``VACUUM``, and
later purges only need ``PRAGMA incremental_vacuum``; on PostgreSQL a plain ``VACUUM`` makes the
space reusable without blocking writers, and ``full`` (``VACUUM FULL``, which locks the table)
also returns it to the operating system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, Exists, and_, exists, func, select, text, update

from revbridge.store import audit
from revbridge.store.database import Database, translated
from revbridge.store.queue import TERMINAL
from revbridge.store.schema import messages, work_items


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    cutoff: datetime
    purged: int
    payload_bytes: int  # ciphertext removed
    held_back: int  # past retention and terminal, but with an open work item
    bytes_before: int  # database (SQLite file) or messages table (PostgreSQL) size
    bytes_after: int
    vacuum: str  # what reclaimed the space: "incremental", "full", "plain", or "none"

    def as_json(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "purged": self.purged,
            "payload_bytes": self.payload_bytes,
            "held_back": self.held_back,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "vacuum": self.vacuum,
        }


def _open_item() -> Exists:
    return exists().where(and_(work_items.c.message_id == messages.c.id, work_items.c.status == "open"))


def _due(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        messages.c.payload.is_not(None),
        messages.c.status.in_(TERMINAL),
        messages.c.received_at < cutoff,
    )


def candidates(db: Database, cutoff: datetime) -> tuple[int, int, int]:
    """(purgeable messages, their payload bytes, held back by open work items)."""
    with db.reading() as conn:
        due = _due(cutoff)
        count, size = conn.execute(
            select(func.count(), func.coalesce(func.sum(func.length(messages.c.payload)), 0)).where(
                due, ~_open_item()
            )
        ).one()
        held = conn.execute(select(func.count()).where(due, _open_item())).scalar_one()
    return int(count), int(size), int(held)


def database_bytes(db: Database) -> int:
    with db.reading() as conn:
        if conn.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)
        # Every partition of messages (or the table itself before migration 0006).
        return int(
            conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0) "
                    "FROM pg_partition_tree('messages')"
                )
            ).scalar_one()
        )


def purge(
    db: Database,
    *,
    cutoff: datetime,
    now: datetime,
    actor: str,
    anchor: Path | None,
    batch_size: int = 1000,
    vacuum: bool = True,
    full: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PurgeReport:
    before = database_bytes(db)
    _, _, held = candidates(db, cutoff)
    purged = removed = 0
    while True:
        with db.transaction() as conn:
            picked, count, size = _purge_batch(conn, cutoff, now, batch_size)
            if count:
                audit.append(
                    conn,
                    at=now,
                    actor=actor,
                    action="retention.purge",
                    target="messages",
                    details={"cutoff": cutoff.isoformat(), "messages": str(count), "bytes": str(size)},
                    anchor=anchor,
                )
        purged += count
        removed += size
        if progress is not None and count:
            progress(count)
        if picked < batch_size:
            break
    how = reclaim(db, full=full) if vacuum else "none"
    return PurgeReport(
        cutoff=cutoff,
        purged=purged,
        payload_bytes=removed,
        held_back=held,
        bytes_before=before,
        bytes_after=database_bytes(db),
        vacuum=how,
    )


def _purge_batch(conn: Connection, cutoff: datetime, now: datetime, limit: int) -> tuple[int, int, int]:
    """(rows picked, rows purged, payload bytes removed) for one batch."""
    due = _due(cutoff)
    picked = select(messages.c.id, func.length(messages.c.payload)).where(due, ~_open_item())
    if conn.dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    rows = conn.execute(picked.order_by(messages.c.id).limit(limit)).all()
    if not rows:
        return 0, 0, 0
    sizes = {r[0]: int(r[1] or 0) for r in rows}
    # The state is checked again in the update itself: a message replayed meanwhile is not touched.
    done = conn.execute(
        update(messages)
        .where(messages.c.id.in_(list(sizes)), due)
        .values(payload=None, purged_at=now)
        .returning(messages.c.id)
    ).all()
    return len(rows), len(done), sum(sizes[r[0]] for r in done)


def reclaim(db: Database, *, full: bool = False) -> str:
    """Give the freed pages back; returns how."""
    if db.dialect == "sqlite":
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            mode = cur.execute("PRAGMA auto_vacuum").fetchone()[0]
            if mode == 2 and not full:  # INCREMENTAL: free pages can be released without a rewrite
                # One sqlite3_step frees one page; executescript steps the pragma to the end.
                raw.driver_connection.executescript("PRAGMA incremental_vacuum;")  # type: ignore[union-attr]
                how = "incremental"
            else:
                cur.execute("PRAGMA auto_vacuum = INCREMENTAL")
                cur.execute("VACUUM")  # rewrites the file; takes effect for auto_vacuum too
                how = "full"
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            cur.close()
        finally:
            raw.close()
        return how
    with translated(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL messages" if full else "VACUUM messages"))
    return "full" if full else "plain"
