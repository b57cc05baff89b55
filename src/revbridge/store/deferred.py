"""Writes held back until the end of a worker transaction, then sent once per table.

A worker transaction commits several messages; on PostgreSQL every statement is a round trip
that waits for the server, and most of a message's writes (its events, their states, its
subledger rows, the context it brings) are read back by nothing else in the same transaction. So
while a ``Deferred`` is attached to the transaction (``deferring``), the store functions on the
worker's path add their rows to it instead of executing them, and ``flush`` sends each table's
rows in one statement (one executemany) before the transaction commits.

What keeps this the same as writing at once:
- a read on the worker's path that could see a held-back row either reads it from here (event
  keys an earlier message of the transaction recorded, an encounter it registered: the row the
  upsert will write, whole) or first flushes everything held (``flush_touching``: a charge it
  staged, an encounter it cancelled);
- rows are sent in a fixed order of tables (events before the updates of their states) and, per
  table, in the order they were added;
- the caller flushes inside the transaction: a failing flush fails the transaction, which the
  worker then redoes without deferral and with one savepoint per message.
Nothing here is used outside the worker's unguarded transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from revbridge.store.database import Tx

_KEY = "revbridge.deferred"

Send = Callable[[Tx, list[dict[str, object]]], None]


@dataclass(slots=True)
class _Group:
    rank: int
    send: Send
    rows: list[dict[str, object]] = field(default_factory=list)


@dataclass(slots=True)
class Deferred:
    """The rows held back in one transaction, by statement, and what the transaction may keep
    for its length (``cache``: reads nothing in it changes, such as the period calendar)."""

    _groups: dict[str, _Group] = field(default_factory=dict)
    _touched: dict[str, set[Hashable]] = field(default_factory=dict)
    cache: dict[str, object] = field(default_factory=dict)
    # Event keys known to exist (key -> content hash), read once for the transaction's messages.
    seen: dict[str, str] = field(default_factory=dict)
    looked_up: set[str] = field(default_factory=set)

    def add(
        self,
        name: str,
        rank: int,
        send: Send,
        rows: Iterable[dict[str, object]],
        *,
        table: str,
        keys: Iterable[Hashable],
    ) -> None:
        """Hold ``rows`` for statement ``name`` (sent by ``send``; lower ``rank`` first), which
        write the rows of ``table`` identified by ``keys``."""
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group(rank, send)
        group.rows.extend(rows)
        self._touched.setdefault(table, set()).update(keys)

    def held_rows(self, name: str) -> list[dict[str, object]]:
        """The rows held for statement ``name``, in the order they were added."""
        group = self._groups.get(name)
        return list(group.rows) if group is not None else []

    def touches(self, table: str, keys: Iterable[Hashable]) -> bool:
        held = self._touched.get(table)
        return bool(held) and any(key in held for key in keys)  # type: ignore[operator]

    def flush(self, tx: Tx) -> None:
        """Send everything held, table by table, and forget it."""
        groups = sorted(self._groups.values(), key=lambda g: g.rank)
        self._groups = {}
        self._touched = {}
        for group in groups:
            if group.rows:
                group.send(tx, group.rows)


def of(tx: Tx) -> Deferred | None:
    """The transaction's ``Deferred``, if its writes are being held back."""
    found = tx.info.get(_KEY)
    return found if isinstance(found, Deferred) else None


def flush_touching(tx: Tx, table: str, keys: Iterable[Hashable]) -> None:
    """Before reading ``table`` by ``keys``: send what is held if any of those rows is held."""
    deferred = of(tx)
    if deferred is not None and deferred.touches(table, keys):
        deferred.flush(tx)


@contextmanager
def deferring(tx: Tx) -> Iterator[Deferred]:
    """Hold back the worker path's writes in ``tx`` until the caller calls ``flush``; whatever
    happens, the connection carries nothing held once the block is left."""
    deferred = Deferred()
    tx.info[_KEY] = deferred
    try:
        yield deferred
    finally:
        tx.info.pop(_KEY, None)
