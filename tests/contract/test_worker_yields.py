"""A worker gives SQLite's one writer to intake during a burst, and takes its share once the
backlog is old (pipeline/yielding.py).

Intake waiting for the writer is what a waiting priority writer holds: the ``<database>-gate``
file locked shared (store/writegate.py). The test holds it from outside, as intake in the serving
process would, and releases it at a moment it notes; the worker's commits are noted as they
happen. A fresh backlog: the worker commits its messages only after the release. An old one
(the clock moved on past BURST_SECONDS): it commits while intake still waits. A burst is a
batch of at least BURST_BATCH messages that arrived at once.
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
from revbridge.pipeline import yielding
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
    policy.claimed([T0], T0 + timedelta(seconds=yielding.BURST_SECONDS + 0.1))
    assert not policy.burst
    assert not policy.time_is_up(yielding.YIELD_AFTER_SECONDS / 2)  # its fsync amortised first
    assert policy.time_is_up(yielding.YIELD_AFTER_SECONDS)
    policy.before_writing()
    assert intake.asked == 1  # only time_is_up asked: no wait outside a burst

    batch = [T0 + timedelta(milliseconds=n) for n in range(yielding.BURST_BATCH)]  # 1,000 a second
    policy.claimed(batch, T0 + timedelta(seconds=2.5))
    assert policy.burst
    assert policy.time_is_up(0.0)  # at the next message boundary
    intake.waits = False
    assert not policy.time_is_up(yielding.TRANSACTION_SECONDS / 2)
    assert policy.time_is_up(yielding.TRANSACTION_SECONDS)  # whoever waits
    policy.claimed([], T0 + timedelta(hours=1))  # nothing claimed: nothing learnt
    assert policy.burst
    policy.claimed(batch[:-1], T0 + timedelta(seconds=2.5))  # too few to say
    assert not policy.burst
    steady = [T0 + timedelta(milliseconds=2 * n) for n in range(yielding.BURST_BATCH)]  # 500 a second
    policy.claimed(steady, T0 + timedelta(seconds=1))
    assert not policy.burst
    policy.claimed(batch, T0 + timedelta(seconds=yielding.BURST_SECONDS + 0.1))  # a backlog left over
    assert not policy.burst


def test_in_a_burst_the_worker_waits_for_intake_at_most_its_patience() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    policy = IntakeFirst(_Intake(waits=True), monotonic=lambda: now[0], sleep=sleep)
    policy.claimed([T0] * yielding.BURST_BATCH, T0)
    policy.before_writing()
    assert yielding.BURST_PATIENCE_SECONDS <= now[0] < yielding.BURST_PATIENCE_SECONDS + 0.01
    assert slept and max(slept) <= 0.001
