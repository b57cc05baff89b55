"""A worker gives SQLite's one writer to intake during a burst, and takes its share once the
backlog is old (pipeline/yielding.py).

Intake waiting for the writer is what a waiting priority writer holds: the ``<database>-gate``
file locked shared (store/writegate.py). The test holds it from outside, as intake in the serving
process would, and releases it at a moment it notes; the worker's commits are noted as they
happen. A fresh backlog: the worker commits its messages only after the release. An old one
(the clock moved on past BURST_SECONDS): it commits while intake still waits. A burst is a
batch of at least BURST_BATCH messages that arrived at once.

The hold: after a full batch, while intake stores HOLD_RATE a second or more, the worker claims
nothing, for HOLD_SECONDS at most and once until it has caught up; cash due in a hold is
claimed alone, and the hold goes on. The policy's tests count arrivals with a fake; the last two
have real intake commit 1,000 messages a second beside the worker.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import event, select

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.formats.base import SMALL_CASH
from revbridge.pipeline import yielding
from revbridge.pipeline.worker import Worker
from revbridge.pipeline.yielding import IntakeFirst
from revbridge.store.messages import Arrival
from revbridge.store.schema import messages

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'store.db'}", tmp_path, formats=FORMATS, clock=FixedClock(T0)
    )
    try:
        yield runtime
    finally:
        runtime.close()


def _put(rt: Runtime, n: int) -> None:
    for i in range(n):
        rt.store.accept(Arrival(channel="test", format="lines", payload=f"charge {i} 10.00".encode()))


def _intake_waits_until(gate: Path, release_after: float) -> tuple[threading.Thread, list[float]]:
    """Hold the gate shared (a priority writer waiting) and let go after ``release_after`` s."""
    fd = os.open(gate, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    released: list[float] = []

    def let_go() -> None:
        time.sleep(release_after)
        released.append(time.monotonic())
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    thread = threading.Thread(target=let_go)
    thread.start()
    return thread, released


def _run_noting_commits(rt: Runtime) -> list[float]:
    commits: list[float] = []

    def noted(_conn: object) -> None:
        commits.append(time.monotonic())

    event.listen(rt.db.engine, "commit", noted)
    try:
        assert rt.worker(owner="w").run_once() == yielding.BURST_BATCH
    finally:
        event.remove(rt.db.engine, "commit", noted)
    return commits


def _statuses(rt: Runtime) -> list[str]:
    with rt.db.reading() as tx:
        return sorted(str(s) for s in tx.execute(select(messages.c.status)).scalars())


def _run_while_intake_waits(
    rt: Runtime, tmp_path: Path, *, backlog_age: float, release_after: float
) -> tuple[list[float], float]:
    """A batch of BURST_BATCH messages ``backlog_age`` seconds old, worked once while intake waits
    for ``release_after`` seconds: the worker's commit times and the release time."""
    _put(rt, yielding.BURST_BATCH)
    rt.clock.advance(timedelta(seconds=backlog_age))  # type: ignore[attr-defined]
    waiter, released = _intake_waits_until(Path(f"{tmp_path / 'store.db'}-gate"), release_after)
    try:
        commits = _run_noting_commits(rt)
    finally:
        waiter.join()
    assert _statuses(rt) == ["processed"] * yielding.BURST_BATCH
    return commits, released[0]


def test_in_a_burst_the_worker_writes_only_once_intake_stops_waiting(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yielding, "BURST_PATIENCE_SECONDS", 30.0)
    commits, released = _run_while_intake_waits(rt, tmp_path, backlog_age=1.0, release_after=0.5)
    _claim, *work = commits  # the claim went before anyone knew the backlog's age
    assert work and min(work) > released, "the worker wrote while intake waited"


def test_with_an_old_backlog_the_worker_takes_its_share_while_intake_waits(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(yielding, "BURST_PATIENCE_SECONDS", 30.0)
    age = yielding.BURST_SECONDS + 1
    commits, released = _run_while_intake_waits(rt, tmp_path, backlog_age=age, release_after=3.0)
    assert commits and max(commits) < released, "the worker waited for intake with an old backlog"


class _Intake:
    def __init__(self, waits: bool) -> None:
        self.waits = waits
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.waits


def test_the_policy_holds_the_writer_longer_once_the_backlog_is_old() -> None:
    intake = _Intake(waits=True)
    policy = IntakeFirst(intake, sleep=lambda _s: None)
    policy.claimed([T0], T0 + timedelta(seconds=yielding.BURST_SECONDS + 0.1), limit=64)
    assert not policy.burst
    assert not policy.time_is_up(yielding.YIELD_AFTER_SECONDS / 2)  # its fsync amortised first
    assert policy.time_is_up(yielding.YIELD_AFTER_SECONDS)
    policy.before_writing()
    assert intake.asked == 1  # only time_is_up asked: no wait outside a burst

    batch = [T0 + timedelta(milliseconds=n) for n in range(yielding.BURST_BATCH)]  # 1,000 a second
    policy.claimed(batch, T0 + timedelta(seconds=2.5), limit=64)
    assert policy.burst
    assert policy.time_is_up(0.0)  # at the next message boundary
    intake.waits = False
    assert not policy.time_is_up(yielding.TRANSACTION_SECONDS / 2)
    assert policy.time_is_up(yielding.TRANSACTION_SECONDS)  # whoever waits
    policy.claimed([], T0 + timedelta(hours=1), limit=64)  # nothing claimed: nothing learnt
    assert policy.burst
    policy.claimed(batch[:-1], T0 + timedelta(seconds=2.5), limit=64)  # too few to say
    assert not policy.burst
    steady = [T0 + timedelta(milliseconds=2 * n) for n in range(yielding.BURST_BATCH)]  # 500 a second
    policy.claimed(steady, T0 + timedelta(seconds=1), limit=64)
    assert not policy.burst
    left_over = T0 + timedelta(seconds=yielding.BURST_SECONDS + 0.1)  # a backlog left over
    policy.claimed(batch, left_over, limit=64)
    assert not policy.burst


def test_in_a_burst_the_worker_waits_for_intake_at_most_its_patience() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    policy = IntakeFirst(_Intake(waits=True), monotonic=lambda: now[0], sleep=sleep)
    policy.claimed([T0] * yielding.BURST_BATCH, T0, limit=64)
    policy.before_writing()
    assert yielding.BURST_PATIENCE_SECONDS <= now[0] < yielding.BURST_PATIENCE_SECONDS + 0.01
    assert slept and max(slept) <= 0.001


class _Arrivals:
    """What intake stored in the window asked about: ``rate`` a second for the first ``polls``
    questions, then nothing (the burst is over)."""

    def __init__(self, rate: float, polls: int) -> None:
        self.rate, self.polls, self.asked = rate, polls, 0

    def __call__(self, seconds: float) -> int:
        self.asked += 1
        return int(self.rate * seconds) if self.asked <= self.polls else 0


def _policy(arrivals: _Arrivals) -> tuple[IntakeFirst, list[float]]:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    return IntakeFirst(lambda: False, arrivals=arrivals, monotonic=lambda: now[0], sleep=sleep), now


FULL = [T0 + timedelta(milliseconds=n) for n in range(64)]


def test_with_more_waiting_the_worker_claims_nothing_while_intake_stores_fast() -> None:
    arrivals = _Arrivals(rate=yielding.HOLD_RATE, polls=10)
    policy, _now = _policy(arrivals)
    policy.claimed(FULL, T0 + timedelta(seconds=0.1), limit=64)
    held = policy.before_claiming()
    assert arrivals.asked == 11  # held while the rate lasted, and no longer
    assert held == pytest.approx(9 * yielding.HOLD_POLL_SECONDS)  # the first look decided to hold


def test_a_hold_is_bounded_and_not_repeated_until_the_worker_has_caught_up() -> None:
    arrivals = _Arrivals(rate=10 * yielding.HOLD_RATE, polls=10**6)  # intake never slows
    policy, _now = _policy(arrivals)
    policy.claimed(FULL, T0, limit=64)
    assert policy.before_claiming() == pytest.approx(yielding.HOLD_SECONDS, abs=yielding.HOLD_POLL_SECONDS)
    for _ in range(3):  # a sustained rate: the worker takes its share, batch after batch
        policy.claimed(FULL, T0, limit=64)
        assert policy.before_claiming() == 0.0
    policy.claimed(FULL[:10], T0, limit=64)  # it caught up: fewer than it asked for
    policy.claimed(FULL, T0, limit=64)
    assert policy.before_claiming() > 0.0


def test_a_hold_lets_cash_through_and_goes_on_within_its_bound() -> None:
    """Cash due during a hold is claimed alone (a patient's payment is not held for a burst of
    charges); the hold then goes on, and all its parts together last HOLD_SECONDS at most."""
    arrivals = _Arrivals(rate=10 * yielding.HOLD_RATE, polls=10**6)  # intake never slows
    asked = [0]

    def cash_due() -> bool:
        asked[0] += 1
        return asked[0] == 5

    now = [0.0]
    policy = IntakeFirst(
        lambda: False,
        arrivals=arrivals,
        cash_due=cash_due,
        monotonic=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    policy.claimed(FULL, T0, limit=64)
    assert not policy.cash_only
    first = policy.before_claiming()
    assert policy.cash_only and first == pytest.approx(4 * yielding.HOLD_POLL_SECONDS)
    policy.claimed(FULL[:1], T0, limit=64)  # the cash alone: it says nothing of the backlog
    rest = policy.before_claiming()
    assert not policy.cash_only
    assert first + rest == pytest.approx(yielding.HOLD_SECONDS, abs=yielding.HOLD_POLL_SECONDS)
    policy.claimed(FULL, T0, limit=64)
    assert policy.before_claiming() == 0.0  # not again until a claim comes back short


def test_no_hold_below_the_rate_after_a_short_batch_or_on_postgresql() -> None:
    slow = _Arrivals(rate=yielding.HOLD_RATE * 0.9, polls=10**6)  # a hospital's peak
    policy, _now = _policy(slow)
    policy.claimed(FULL, T0, limit=64)
    assert policy.before_claiming() == 0.0
    fast = _Arrivals(rate=10 * yielding.HOLD_RATE, polls=10**6)
    policy, _now = _policy(fast)
    policy.claimed(FULL[:63], T0, limit=64)  # nothing more waiting
    assert policy.before_claiming() == 0.0 and fast.asked == 0
    no_writer = IntakeFirst(lambda: False, sleep=lambda _s: pytest.fail("slept"))
    no_writer.claimed(FULL, T0, limit=64)
    assert no_writer.before_claiming() == 0.0


def test_the_worker_holds_its_claim_through_a_burst_on_sqlite_only(db_url: str, tmp_path: Path) -> None:
    """Real intake commits at 1,000 messages a second for a second, with a full batch taken: on
    SQLite the worker's next claim waits until the burst is over; on PostgreSQL it does not."""
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)  # the system clock: arrivals are counted
    try:
        worker, stop, feeder = _a_burst_after_a_full_batch(rt, seconds=1.0)
        began = time.monotonic()
        claimed = worker.run_once()
        took = time.monotonic() - began
        feeder.join()
        assert claimed > 0
        if rt.db.dialect == "sqlite":  # held until the burst ended, not for all of HOLD_SECONDS
            assert stop - began - 0.1 <= took <= stop - began + yielding.HOLD_WINDOW_SECONDS + 0.9, took
        else:
            assert took < 0.5, took
        assert worker.drain() + claimed + 64 == len(_statuses(rt))
        assert set(_statuses(rt)) == {"processed"}
    finally:
        rt.close()


def test_a_patients_payment_is_claimed_within_a_hold_and_the_burst_still_waits(tmp_path: Path) -> None:
    """SQLite: real intake stores 1,000 messages a second after a full batch; a cash message
    stored in the burst is claimed alone, at once, while the burst's messages wait for its end."""
    rt = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, formats=FORMATS)  # the system clock
    try:
        worker, stop, feeder = _a_burst_after_a_full_batch(rt, seconds=1.5)
        try:
            paid = Arrival(channel="test", format="lines", payload=b"CHARGE paid 5.00", priority=SMALL_CASH)
            cash = rt.store.accept(paid).message_id
            began = time.monotonic()
            assert worker.run_once() == 1
            assert time.monotonic() - began < 0.5
            with rt.db.reading() as tx:
                states = dict(tx.execute(select(messages.c.id, messages.c.status)).all())
            assert states.pop(cash) == "processed"
            assert set(states.values()) == {"processed", "pending"}  # the first 64; the burst waits
            assert worker.run_once() > 0  # the hold went on until the burst was over
            assert time.monotonic() >= stop - 0.1
        finally:
            feeder.join()
        worker.drain()
        assert set(_statuses(rt)) == {"processed"}
    finally:
        rt.close()


def _a_burst_after_a_full_batch(rt: Runtime, *, seconds: float) -> tuple[Worker, float, threading.Thread]:
    """A worker that has just claimed a full batch, and intake storing 1,000 messages a second
    until ``stop`` (monotonic), under way for 0.3 s."""
    _put_at_once(rt, 64, "first")
    worker = rt.worker(owner="w")
    assert worker.run_once() == 64
    stop = time.monotonic() + seconds
    feeder = threading.Thread(target=_feed_until, args=(rt, stop))
    feeder.start()
    time.sleep(0.3)
    return worker, stop, feeder


def _put_at_once(rt: Runtime, n: int, tag: str) -> None:
    payloads = [f"charge {tag}-{i} 10.00".encode() for i in range(n)]
    rt.store.accept_many([Arrival(channel="test", format="lines", payload=p) for p in payloads])


def _feed_until(rt: Runtime, stop: float) -> None:
    """20 messages every 20 ms: 1,000 a second, twice HOLD_RATE."""
    tick = 0
    while time.monotonic() < stop:
        _put_at_once(rt, 20, f"burst{tick}")
        tick += 1
        time.sleep(max(0.0, 0.02 - 0.002))
