"""Database engines with the durability the guarantees need (``Database`` wraps them).

SQLite: WAL journal, ``synchronous=FULL`` (a commit survives power loss before we acknowledge),
a busy timeout, and explicit ``BEGIN IMMEDIATE`` for writing transactions so two writers queue on
the lock instead of failing on upgrade. PostgreSQL: ``synchronous_commit=on`` on every connection.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from revbridge.core.errors import InputError

READONLY = "revbridge_readonly"


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class _WriteGate:
    """SQLite has one writer. Inside one process, writers queue on a fair lock instead of
    SQLite's busy handler, which polls with sleeps of up to 100 ms and lets a busy writer starve
    another for seconds. Writers in other processes still meet the busy handler."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def begin(self, conn: Connection) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        if readonly:
            conn.exec_driver_sql("BEGIN")
            return
        self._lock.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        conn.info[_HOLDS_GATE] = True

    def end(self, conn: Connection) -> None:
        if conn.info.pop(_HOLDS_GATE, False):
            self._lock.release()


_HOLDS_GATE = "revbridge_holds_write_gate"


def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute("SET synchronous_commit = on")
    dbapi_conn.commit()


def make_engine(url: str, *, pool_size: int = 10, null_pool: bool = False) -> Engine:
    """An engine for ``url``; ``null_pool`` keeps no connection open between uses."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(f"not a database URL: {url!r}") from None
    pooling: dict[str, Any] = {"poolclass": NullPool} if null_pool else {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # error texts must not quote values: they may be PHI
            **pooling,
        )
        event.listen(engine, "connect", _sqlite_connect)
        gate = _WriteGate()
        event.listen(engine, "begin", gate.begin)
        event.listen(engine, "commit", gate.end)
        event.listen(engine, "rollback", gate.end)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", ""):
            raise InputError("PostgreSQL URLs must use psycopg: postgresql+psycopg://...")
        parsed = parsed.set(drivername="postgresql+psycopg")
        if not null_pool:
            pooling = {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
        engine = create_engine(parsed, hide_parameters=True, **pooling)
        event.listen(engine, "connect", _pg_connect)
        return engine
    raise InputError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
