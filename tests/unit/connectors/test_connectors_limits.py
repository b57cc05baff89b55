"""Token bucket, circuit breaker and backoff on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revbridge.connectors.backoff import Backoff
from revbridge.connectors.base import Limits
from revbridge.connectors.breaker import BreakerState, CircuitBreaker
from revbridge.connectors.throttle import TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_allows_a_burst_then_the_refill_rate() -> None:
    clock = FakeTime()
    bucket = TokenBucket(rate=10.0, burst=3, monotonic=clock, sleep=clock.sleep)
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.now += 0.05
    assert bucket.try_acquire() == pytest.approx(0.05)
    clock.now += 0.05
    assert bucket.try_acquire() == 0.0
    clock.now += 10  # refills to the burst, not beyond
    assert [bucket.try_acquire() for _ in range(4)][-1] == pytest.approx(0.1)


def test_acquire_sleeps_until_a_token_is_due_and_can_be_cancelled() -> None:
    clock = FakeTime()
    bucket = TokenBucket(rate=4.0, burst=1, monotonic=clock, sleep=clock.sleep)
    assert bucket.acquire()
    assert bucket.acquire()
    assert clock.slept == [pytest.approx(0.25)]
    assert not bucket.acquire(cancelled=lambda: True)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=120),
)
def test_calls_started_never_exceed_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeTime()
    bucket = TokenBucket(rate=rate, burst=burst, monotonic=clock, sleep=clock.sleep)
    starts = []
    for gap in gaps:
        clock.now += gap
        bucket.acquire()
        starts.append(clock.now)
    for i in range(len(starts)):
        for j in range(i, len(starts)):
            assert j - i + 1 <= burst + rate * (starts[j] - starts[i]) + 1e-6


def test_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError, match="at least one token"):
        TokenBucket(rate=1, burst=0)


def test_breaker_opens_after_consecutive_failures_probes_once_and_closes() -> None:
    clock = FakeTime()
    breaker = CircuitBreaker(failures=3, reset_after=5.0, monotonic=clock)
    for _ in range(2):
        assert breaker.allow().wait == 0
        breaker.failure()
    breaker.success()  # a success in between resets the count
    for _ in range(3):
        assert breaker.allow().wait == 0
        breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow().wait == pytest.approx(5.0)
    clock.now += 4
    assert breaker.allow().wait == pytest.approx(1.0)
    clock.now += 1
    probe = breaker.allow()
    assert probe.wait == 0 and probe.probe
    assert breaker.allow().wait > 0  # only one probe at a time
    breaker.success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow().wait == 0
    assert breaker.transitions == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_opens_the_circuit_again_and_release_frees_the_probe() -> None:
    clock = FakeTime()
    breaker = CircuitBreaker(failures=1, reset_after=2.0, monotonic=clock)
    breaker.failure()
    clock.now += 2
    assert breaker.allow().probe
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.allow().wait == pytest.approx(2.0)
    clock.now += 2
    assert breaker.allow().probe
    breaker.release()
    assert breaker.allow().probe  # the slot is free again; the state did not change
    assert breaker.state is BreakerState.HALF_OPEN


def test_backoff_grows_exponentially_with_full_jitter_and_honours_retry_after() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    assert [backoff.window(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    for attempt in range(1, 8):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= backoff.window(attempt) for d in delays)
        assert max(delays) > backoff.window(attempt) * 0.7  # jittered across the window
        assert len(set(delays)) > 150
    assert all(backoff.delay(1, retry_after=30.0) >= 30.0 for _ in range(50))
    assert Backoff.of(Limits(backoff_base=2.0, backoff_cap=60.0)).window(3) == 8.0
    with pytest.raises(ValueError, match="base <= cap"):
        Backoff(base=1.0, cap=0.5)
