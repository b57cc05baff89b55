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

Even a worker that yields at every message boundary takes the writer between intake's commits,
and with senders that wait for each acknowledgement every such wait lowers their rate. So when its
last batch was full (more is waiting) and intake stores ``HOLD_RATE`` messages a second or more
(counted over the last ``HOLD_WINDOW_SECONDS``), the worker holds off before its next claim: it
claims nothing while that rate lasts, for at most ``HOLD_SECONDS``; a burst's backlog is then
taken in larger batches after it. A hold is never followed by another until a claim has found
fewer messages than it asked for (the worker caught up): through a sustained rate above what the
worker posts, it holds once, for ``HOLD_SECONDS``, and then works as it would without the hold.
Cash is not held: when a cash message is due during a hold, the worker claims the cash alone
(``cash_only``) and then holds on, within the same bound.

On PostgreSQL there is no one writer and intake never waits for a worker: this changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from revbridge.core.clock import Clock
from revbridge.formats.base import IN_ORDER
from revbridge.store import Database, queue

# A transaction commits after 15 ms (its message done): intake waits at most that for SQLite's
# writer, and workers hold few row locks against each other on PostgreSQL (whole batches
# deadlocked). After 10 ms once intake waits (SQLite; the worker's fsync still amortised).
TRANSACTION_SECONDS, YIELD_AFTER_SECONDS = 0.015, 0.010
# A burst: a claimed batch of at least BURST_BATCH messages that arrived at BURST_RATE or faster
# (more than a worker posts on SQLite), the oldest of them younger than BURST_SECONDS.
BURST_BATCH, BURST_RATE, BURST_SECONDS = 16, 1000.0, 3.0
# The longest a worker in a burst waits for intake before it writes anyway.
BURST_PATIENCE_SECONDS = 0.05
# A hold: while intake stores HOLD_RATE a second or more (the top of a large hospital's peak of
# 330-500 msg/s; a burst with a worker beside intake still stores 1,000 or more on the development
# machine), counted over HOLD_WINDOW_SECONDS and looked at every HOLD_POLL_SECONDS, for HOLD_SECONDS
# at most: ADT and DFT (posted in batch windows) wait that much more in a burst; cash does not.
HOLD_RATE, HOLD_SECONDS, HOLD_WINDOW_SECONDS, HOLD_POLL_SECONDS = 500.0, 2.0, 0.25, 0.05
_POLL_SECONDS = 0.0005


def intake_first(db: Database, clock: Clock) -> IntakeFirst:
    """The policy of a worker on ``db``; it may hold only on SQLite (one writer)."""
    if db.dialect != "sqlite":
        return IntakeFirst(db.intake_waiting)

    def arrivals(seconds: float) -> int:
        return queue.arrivals_since(db, clock.now() - timedelta(seconds=seconds))

    def cash_due() -> bool:
        return queue.any_due(db, clock.now(), below=IN_ORDER)

    return IntakeFirst(db.intake_waiting, arrivals=arrivals, cash_due=cash_due)


class IntakeFirst:
    """One worker's policy; ``claimed`` is told the age of each claimed batch. ``arrivals(s)``
    counts the messages stored in the last ``s`` seconds (None: never hold)."""

    def __init__(
        self,
        intake_waiting: Callable[[], bool],
        *,
        arrivals: Callable[[float], int] | None = None,
        cash_due: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._intake_waiting = intake_waiting
        self._arrivals = arrivals
        self._cash_due = cash_due
        self._monotonic = monotonic
        self._sleep = sleep
        self.burst = False
        self._full = False  # the last claim found as many as it asked for: more is waiting
        self._may_hold = True  # no hold yet, or a claim has come back short since the last
        self._hold_until: float | None = None  # a hold under way, let off to claim cash

    def claimed(self, received: Sequence[datetime], now: datetime, *, limit: int) -> None:
        """The batch just claimed (its messages' arrival times, at most ``limit``) says whether
        this is a burst, and whether the worker has caught up. A claim of cash alone, within a
        hold, says neither."""
        if self.cash_only:
            return
        self._full = len(received) >= limit
        if not self._full:
            self._may_hold = True
        if not received:
            return
        oldest, newest = min(received), max(received)
        span = (newest - oldest).total_seconds()
        self.burst = (
            len(received) >= BURST_BATCH
            and (now - oldest).total_seconds() < BURST_SECONDS
            and (len(received) - 1) >= BURST_RATE * span
        )

    def before_claiming(self) -> float:
        """With more waiting, hold off while intake stores fast (see above); then as
        ``before_writing``. Returns the seconds held (0.0: no hold). A hold that finds cash due
        returns with ``cash_only`` set: the worker claims the cash alone, and the hold goes on
        at its next claim, within the same HOLD_SECONDS."""
        held = 0.0
        unheld = self._hold_until is None and self._arrivals is not None
        if unheld and self._full and self._may_hold and self._fast():
            self._may_hold = False
            self._hold_until = self._monotonic() + HOLD_SECONDS
        if self._hold_until is not None:
            started = self._monotonic()
            while self._monotonic() < self._hold_until and self._fast():
                if self._cash_due is not None and self._cash_due():
                    return self._monotonic() - started
                self._sleep(HOLD_POLL_SECONDS)
            held = self._monotonic() - started
            self._hold_until = None
        self.before_writing()
        return held

    @property
    def cash_only(self) -> bool:
        """Whether the next claim is within a hold, and takes cash alone."""
        return self._hold_until is not None

    def _fast(self) -> bool:
        assert self._arrivals is not None
        return self._arrivals(HOLD_WINDOW_SECONDS) >= HOLD_RATE * HOLD_WINDOW_SECONDS

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
