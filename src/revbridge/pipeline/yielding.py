"""How long a worker holds SQLite's one writer while intake waits for it (issue 16).

A worker's transaction commits after ``TRANSACTION_SECONDS`` (its fsync amortised over the
messages in it), or after ``YIELD_AFTER_SECONDS`` once intake waits for the writer: intake's
senders are waiting for their acknowledgements. That is the steady state, and at a hospital's
peak rate it is what keeps the worker up with intake (docs/PERFORMANCE.md, Soak).

A burst is different: senders pour in faster than any worker can post, and every millisecond the
worker writes is a millisecond intake does not acknowledge. The worker tells one from the batch it
has just claimed: many messages that arrived faster than ``BURST_RATE``, the oldest younger than
``BURST_SECONDS``. In a burst it goes second: it waits up to ``BURST_PATIENCE_SECONDS`` for intake
to stop waiting before it writes, and ends its transaction at the next message as soon as intake
waits. At a steady rate it can keep up with (a hospital's peak: 300 msg/s), or once the backlog is
older, it keeps its share whatever intake does, so a backlog always drains (a burst's within
seconds of its end) and cash, claimed first, is never held long.

On PostgreSQL there is no one writer and intake never waits for a worker: this changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

# A transaction commits after 15 ms (its message done): intake waits at most that for SQLite's
# writer, and workers hold few row locks against each other on PostgreSQL (whole batches
# deadlocked). After 10 ms once intake waits (SQLite; the worker's fsync still amortised).
TRANSACTION_SECONDS, YIELD_AFTER_SECONDS = 0.015, 0.010
# A burst: a claimed batch of at least BURST_BATCH messages that arrived at BURST_RATE or faster
# (more than a worker posts on SQLite), the oldest of them younger than BURST_SECONDS.
BURST_BATCH, BURST_RATE, BURST_SECONDS = 16, 1000.0, 3.0
# The longest a worker in a burst waits for intake before it writes anyway.
BURST_PATIENCE_SECONDS = 0.05
_POLL_SECONDS = 0.0005


class IntakeFirst:
    """One worker's policy; ``claimed`` is told the age of each claimed batch."""

    def __init__(
        self,
        intake_waiting: Callable[[], bool],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._intake_waiting = intake_waiting
        self._monotonic = monotonic
        self._sleep = sleep
        self.burst = False

    def claimed(self, received: Sequence[datetime], now: datetime) -> None:
        """The batch just claimed (its messages' arrival times) says whether this is a burst."""
        if not received:
            return
        oldest, newest = min(received), max(received)
        span = (newest - oldest).total_seconds()
        self.burst = (
            len(received) >= BURST_BATCH
            and (now - oldest).total_seconds() < BURST_SECONDS
            and (len(received) - 1) >= BURST_RATE * span
        )

    def before_writing(self) -> None:
        """In a burst, wait (a little) until intake does not wait for the writer."""
        if not self.burst:
            return
        deadline = self._monotonic() + BURST_PATIENCE_SECONDS
        while self._intake_waiting() and self._monotonic() < deadline:
            self._sleep(_POLL_SECONDS)

    def time_is_up(self, spent: float) -> bool:
        """Whether a transaction that has written for ``spent`` seconds should commit now."""
        if spent >= TRANSACTION_SECONDS:
            return True
        if not self.burst and spent < YIELD_AFTER_SECONDS:
            return False
        return self._intake_waiting()
