"""A worker transaction over several messages, with their writes sent once per table.

On PostgreSQL each statement is a round trip that waits for the server, and a message took about
nine. In a worker's transaction (pipeline/worker.py) the messages' leases are locked in one
statement, the event keys they bring are looked up in one, their status updates go in one
executemany, and the rows nothing in the transaction reads back (events, event states, subledger
rows, encounter and charge context) are held and sent once per table before the commit
(store/deferred.py). The guarantees stay the worker's: every message's events, posting, work
items and status commit together or not at all; if anything fails (a store error, a lost
lease), the transaction is undone (``Redo``) and the worker runs it again without any of this,
one savepoint per message, so the failure undoes that message alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from revbridge.core.errors import StoreError
from revbridge.core.problem import Outcome
from revbridge.store import Tx, deferred, queue
from revbridge.store import events as event_store

# Leases locked and event keys looked up for this many messages at once: a transaction takes
# about 3 on a loaded PostgreSQL, a whole claimed batch (64) on an idle SQLite.
AHEAD = 16


class LeaseLost(Exception):
    """The worker no longer holds a message's lease: nothing of the message may commit."""


class Redo(Exception):
    """A message failed in a transaction without savepoints: undo it and run it again with them."""


class CommitFailed(Exception):
    """The transaction over the first ``taken`` messages could not commit."""

    def __init__(self, taken: int, reason: str) -> None:
        super().__init__(reason)
        self.taken, self.reason = taken, reason


class Batched:
    def __init__(
        self, tx: Tx, held: deferred.Deferred, owner: str, group: Sequence[tuple[queue.Claimed, Outcome[Any]]]
    ) -> None:
        self._tx, self._held, self._owner, self._group = tx, held, owner, group
        self._asked: set[str] = set()
        self._leases: set[str] = set()
        self._next = 0
        self._finished: list[queue.Finish] = []

    def lock(self, message_id: str) -> None:
        """Raise LeaseLost unless the worker holds the message's lease (its row locked, on
        PostgreSQL). The leases are locked, and the event keys looked up, for the next ``AHEAD``
        messages at once."""
        if message_id not in self._asked:
            self._look_ahead(message_id)
        if message_id not in self._leases:
            raise LeaseLost

    def _look_ahead(self, message_id: str) -> None:
        ids = [message.id for message, _ in self._group]
        start = ids.index(message_id, self._next)
        ahead = self._group[start : start + AHEAD]
        self._next = start + len(ahead)
        asked = [message.id for message, _ in ahead]
        self._asked.update(asked)
        self._leases |= queue.lock_leases(self._tx, asked, self._owner)
        event_store.look_up(self._tx, [event.key for _, outcome in ahead for event in outcome.items])

    def finish(self, message_id: str, status: str, reason: str | None) -> None:
        self._finished.append(queue.Finish(message_id, status, reason))

    def flush(self, now: datetime) -> None:
        """Send what the messages held back and their new states; Redo if that fails."""
        try:
            self._held.flush(self._tx)
            finished = queue.finish_many(self._tx, self._finished, owner=self._owner, now=now)
        except StoreError as exc:
            raise Redo from exc
        if not finished:
            raise Redo


@contextmanager
def batched(tx: Tx, group: Sequence[tuple[queue.Claimed, Outcome[Any]]], owner: str) -> Iterator[Batched]:
    """Hold back ``tx``'s writes for the messages of ``group`` it takes, in order (the caller
    flushes before the commit)."""
    with deferred.deferring(tx) as held:
        yield Batched(tx, held, owner, group)
