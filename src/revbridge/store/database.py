"""The one handle on a database that leaves ``store/``, and the transactions it opens.

Everything outside ``store/`` holds a ``Database`` and the transactions it opens (``Tx``) and hands
them back to the store's named functions, which take and return frozen records; nothing outside
builds a query or knows a table (DESIGN.md section 2, as ``eventsourcing`` keeps one recorder
interface). An import-linter contract forbids SQLAlchemy and the tables outside the store, and
``tests/unit/test_store_boundary.py`` checks that nothing outside calls a method on a ``Tx``.

Failures of the driver leave here as the project's own ``StoreError``: ``StoreUnavailable``
when the database cannot be reached or is locked, ``StoreConflict`` when a unique key was taken by
a concurrent writer. Callers above never catch a SQLAlchemy type. The engine hides bound
parameters from error texts: a value could be PHI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeAlias

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from revbridge.core.errors import StoreConflict, StoreError, StoreUnavailable
from revbridge.store.engine import PRIORITY, READONLY, make_engine, priority_waiting

# An open transaction (or read-only connection). Outside store/ it is only passed back to store
# functions; what it is underneath is the store's business.
Tx: TypeAlias = Connection


@contextmanager
def translated() -> Iterator[None]:
    """SQLAlchemy's and the driver's errors as the project's own, named by type only."""
    try:
        yield
    except StoreError:
        raise
    except (OperationalError, InterfaceError) as exc:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise StoreUnavailable(f"database connection lost ({type(exc.orig).__name__})") from exc
        raise StoreUnavailable(f"database unavailable ({_name(exc)})") from exc
    except IntegrityError as exc:
        raise StoreConflict(f"store conflict {_name(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"store error {_name(exc)}") from exc


def _name(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}/{type(orig).__name__}" if orig is not None else type(exc).__name__


class Database:
    """A database revbridge stores in: SQLite (embedded) or PostgreSQL (production)."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str, *, pool_size: int = 10, null_pool: bool = False) -> Database:
        """``null_pool`` keeps no connection open between uses (one-shot commands, tests)."""
        return cls(make_engine(url, pool_size=pool_size, null_pool=null_pool))

    @property
    def engine(self) -> Engine:
        """For store/ modules (and tests that look underneath); nothing else uses it."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def url(self) -> str:
        """The URL with any password masked: fit for messages and logs."""
        return self._engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, *, priority: bool = False) -> Iterator[Tx]:
        """A writing transaction: committed when the block ends, rolled back if it raises. On
        SQLite it takes the one writer's lock at its start (BEGIN IMMEDIATE); a ``priority``
        transaction (intake's, whose callers wait for an acknowledgement) goes before the
        others waiting for it (store/writegate.py)."""
        if not priority:
            with translated(), self._engine.begin() as conn:
                yield conn
            return
        with translated(), self._engine.connect().execution_options(**{PRIORITY: True}) as conn, conn.begin():
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        """A read-only transaction: on SQLite a deferred BEGIN that takes no write lock."""
        with translated(), self._engine.connect().execution_options(**{READONLY: True}) as conn:
            yield conn

    @staticmethod
    @contextmanager
    def savepoint(tx: Tx) -> Iterator[None]:
        """A nested transaction inside ``tx``: what the block wrote is undone if it raises, and
        the outer transaction goes on."""
        with translated():
            nested = tx.begin_nested()
            try:
                yield
            except BaseException:
                nested.rollback()
                raise
            nested.commit()

    def intake_waiting(self) -> bool:
        """On SQLite: whether intake (whose senders wait for an ACK) waits for the one writer's
        lock; a worker then ends its transaction at the next message. False on PostgreSQL."""
        return priority_waiting(self._engine)

    def check_reachable(self) -> None:
        try:
            with self._engine.connect().execution_options(**{READONLY: True}) as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
            raise StoreUnavailable(f"database unreachable ({self.url}): {reason}") from None

    def close(self) -> None:
        """Close every pooled connection (the process is done with this database)."""
        self._engine.dispose()
