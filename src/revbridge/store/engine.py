"""Database engines with the durability the guarantees need (``Database`` wraps them).

SQLite: WAL journal, ``synchronous=FULL`` (a commit survives power loss before we acknowledge),
a busy timeout, and explicit ``BEGIN IMMEDIATE`` for writing transactions, taken after the write
gate (store/writegate.py) so writers in any thread or process queue fairly and intake goes first.
PostgreSQL: ``synchronous_commit=on`` on every connection.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from revbridge.core.errors import InputError
from revbridge.store.writegate import WriteGate

READONLY = "revbridge_readonly"
PRIORITY = "revbridge_priority"  # a writer others wait for (intake: its callers wait for an ACK)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def priority_waiting(engine: Engine) -> bool:
    """SQLite: whether intake waits for the one writer's lock (store/writegate.py)."""
    gate = _GATES.get(engine)
    return gate is not None and gate.priority_waiting()


class _Gated:
    """BEGIN on SQLite: deferred for readers; writers take the write gate (store/writegate.py)
    before ``BEGIN IMMEDIATE``, intake's group commit (the ``PRIORITY`` option) first."""

    def __init__(self, gate: WriteGate) -> None:
        self._gate = gate

    def begin(self, conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(READONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        self._gate.acquire(priority=bool(options.get(PRIORITY, False)))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._gate.release()
            raise
        conn.info[_HOLDS_GATE] = True

    def end(self, conn: Connection) -> None:
        if conn.info.pop(_HOLDS_GATE, False):
            self._gate.release()


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
        on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
        if on_disk:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,  # error texts must not quote values: they may be PHI
            **pooling,
        )
        event.listen(engine, "connect", _sqlite_connect)
        write_gate = WriteGate(Path(database).resolve() if on_disk else None)
        _GATES[engine] = write_gate
        weakref.finalize(engine, write_gate.close)  # its lock files close with the engine
        gate = _Gated(write_gate)
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
