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

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.errors import StoreError
from revbridge.core.problem import Outcome
from revbridge.store import Tx, deferred, queue
from revbridge.store import events as event_store

# Leases locked and event keys looked up ahead for this many messages of a transaction; a
# transaction that gets further looks each next message up on its own.
AHEAD = 32


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
        self, tx: Tx, held: deferred.Deferred, owner: str, asked: set[str], leases: set[str]
    ) -> None:
        self._tx, self._held, self._owner = tx, held, owner
        self._asked, self._leases = asked, leases
        self._finished: list[queue.Finish] = []

    def lock(self, message_id: str) -> None:
        """Raise LeaseLost unless the worker holds the message's lease (its row locked, on
        PostgreSQL)."""
        if message_id in self._asked:
            held = message_id in self._leases
        else:
            held = queue.lock_lease(self._tx, message_id, self._owner)
        if not held:
            raise LeaseLost

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
def batched(
    tx: Tx, group: Sequence[tuple[queue.Claimed, Outcome[CanonicalEvent]]], owner: str
) -> Iterator[Batched]:
    """Hold back ``tx``'s writes for the messages of ``group`` it will take (the caller flushes
    before the commit); Redo if the look-ahead reads fail."""
    with deferred.deferring(tx) as held:
        ahead = group[:AHEAD]
        asked = {message.id for message, _ in ahead}
        try:
            leases = queue.lock_leases(tx, sorted(asked), owner)
            event_store.look_up(tx, [event.key for _, outcome in ahead for event in outcome.items])
        except StoreError as exc:
            raise Redo from exc
        yield Batched(tx, held, owner, asked, leases)
