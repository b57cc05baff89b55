"""Monthly partitions of ``messages`` and ``events`` on PostgreSQL (migration 0006).

``messages`` is range-partitioned by ``received_at`` and ``events`` by ``created_at`` (when the event
was recorded: it only grows, so the months ahead are known; ``occurred_on`` is the business date
and may lie anywhere in the past). Each month is a table ``<table>_pYYYY_MM``; ``<table>_default``
catches a row no month covers (a clock far off, a test backdating rows), and ``ensure`` moves such
rows out of it into their month when that month is created, so the default stays empty in normal
running and retention can drop whole months.

A partitioned table's primary key must include its partition key, so the keys are
``(id, received_at)`` and ``(id, created_at)``; the uniqueness the code relies on lives in
unpartitioned key tables that outlive any dropped month: ``message_keys`` (dedupe keys, as
before) and ``event_keys`` (event business keys, here). The foreign keys from ``message_keys``
and ``events`` to ``messages`` are gone on PostgreSQL for the same reason (ids are UUIDs the
store makes; lineage joins by id).

The store calls ``ensure`` before a write that needs a month: once per process and month it
creates the current month and the next ``AHEAD`` ones in their own short transaction, under an
advisory lock so that concurrent processes create each month once. On SQLite nothing here runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, text
from sqlalchemy.exc import OperationalError

from revbridge.store.types import UtcDateTime

AHEAD = 2  # months created ahead of the current one (each partition costs planning time)

# PostgreSQL-only tables (schema.py holds what both backends share).
pg_metadata = MetaData()

# The business key of every event ever recorded, with the content fingerprint and the message
# that recorded it first: dedupe and conflict detection keep working after the month that held
# the event itself was dropped.
event_keys = Table(
    "event_keys",
    pg_metadata,
    Column("key", String(512), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True, slots=True)
class Layout:
    table: str
    column: str  # the partition key


LAYOUTS = {"messages": Layout("messages", "received_at"), "events": Layout("events", "created_at")}
_known_lock = threading.Lock()  # guards the per-process memories below
_LOCK = 0x72627061  # pg_advisory_xact_lock key: partition DDL, one process at a time


def month_of(when: datetime | date) -> date:
    return date(when.year, when.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_from(month: date, count: int) -> list[date]:
    found = [month]
    while len(found) < count:
        found.append(next_month(found[-1]))
    return found


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def bounds(month: date) -> tuple[str, str]:
    """The month's range as UTC timestamp literals: [first day, first day of the next month)."""
    lo = datetime(month.year, month.month, 1, tzinfo=UTC)
    hi_month = next_month(month)
    hi = datetime(hi_month.year, hi_month.month, 1, tzinfo=UTC)
    return lo.isoformat(), hi.isoformat()


def is_partitioned(conn: Connection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = :t"
        ),
        {"t": table},
    ).first()
    return found is not None


_partitioned_events: set[str] = set()  # database URLs whose events table is partitioned


def is_partitioned_events(conn: Connection) -> bool:
    """Whether ``events`` is partitioned here (PostgreSQL at migration 0006 or later); remembered
    per database once true (a database is not un-partitioned under a running process)."""
    if conn.dialect.name != "postgresql":
        return False
    url = conn.engine.url.render_as_string(hide_password=True)
    if url in _partitioned_events:
        return True
    if not is_partitioned(conn, "events"):
        return False
    with _known_lock:
        _partitioned_events.add(url)
    return True


def existing_months(conn: Connection, table: str) -> list[date]:
    """The months ``table`` has a partition for, oldest first (the default one not counted)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :t"
        ),
        {"t": table},
    ).scalars()
    prefix = f"{table}_p"
    months = []
    for name in rows:
        if name.startswith(prefix):
            year, month = name[len(prefix) :].split("_")
            months.append(date(int(year), int(month), 1))
    return sorted(months)


def create_month(conn: Connection, table: str, month: date) -> bool:
    """Create ``table``'s partition for ``month`` unless it exists, moving the month's rows out of
    the default partition into it; True if it was created. Call under ``lock``."""
    name = partition_name(table, month)
    if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
        return False
    layout = LAYOUTS[table]
    lo, hi = bounds(month)
    # A plain table first, filled from the default partition, then attached: CREATE ... PARTITION
    # OF would fail while the default partition holds rows of the month.
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{default_name(table)}" '
            f"WHERE {layout.column} >= :lo AND {layout.column} < :hi RETURNING *) "
            f'INSERT INTO "{name}" SELECT * FROM moved'
        ),
        {"lo": lo, "hi": hi},
    )
    conn.execute(
        text(f"ALTER TABLE \"{table}\" ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo}') TO ('{hi}')")
    )
    return True


def lock(conn: Connection) -> None:
    """Serialise partition DDL across processes until the transaction ends."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})


def create_default(conn: Connection, table: str) -> None:
    conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{default_name(table)}" PARTITION OF "{table}" DEFAULT'))


_known: dict[str, date] = {}  # database URL -> the month ensured last
_retry_at: dict[str, float] = {}  # database URL -> when to try again after a lock timeout
RETRY_SECONDS = 60.0


def ensure(engine: Engine, when: datetime) -> None:
    """Make sure ``messages`` and ``events`` have their partitions for ``when``'s month and the
    next ``AHEAD`` months, in a transaction of its own; free after the first call per process and
    month. Call it outside any transaction (intake does, before its commit). The DDL waits at most
    ``lock_timeout`` for readers of the default partition; if it cannot get its locks it tries
    again a minute later, and meanwhile a row no month covers lands in the default partition."""
    if engine.dialect.name != "postgresql":
        return
    month = month_of(when.astimezone(UTC))
    url = engine.url.render_as_string(hide_password=True)
    if _known.get(url) == month or _retry_at.get(url, 0.0) > time.monotonic():
        return
    wanted = months_from(month, AHEAD + 1)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            lock(conn)
            for table in LAYOUTS:
                if is_partitioned(conn, table):
                    for m in wanted:
                        create_month(conn, table, m)
    except OperationalError:
        with _known_lock:
            _retry_at[url] = time.monotonic() + RETRY_SECONDS
        return
    with _known_lock:
        _known[url] = month


def forget(engine: Engine) -> None:
    """Drop what this process remembers of ``engine``'s partitions (after months were dropped)."""
    url = engine.url.render_as_string(hide_password=True)
    with _known_lock:
        _known.pop(url, None)
        _retry_at.pop(url, None)
