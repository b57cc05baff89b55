"""A connector's limits in force: its token bucket, circuit breaker, backoff, Retry-After pause and
the pool its calls run on (the concurrency cap). The outbox keeps one per connector instance."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from revbridge.connectors.backoff import Backoff
from revbridge.connectors.base import Connector, Limits, Paced
from revbridge.connectors.breaker import BreakerState, CircuitBreaker
from revbridge.connectors.throttle import TokenBucket


class Channel:
    """One connector's limits in force: bucket, breaker, Retry-After pause and worker pool."""

    def __init__(
        self,
        connector: Connector,
        *,
        monotonic: Callable[[], float],
        sleep: Callable[[float], object],
        cancelled: Callable[[], bool] = lambda: False,
    ):
        limits: Limits = connector.limits
        self.connector = connector
        self.name = connector.name
        self.limits = limits
        self.bucket = TokenBucket(
            rate=limits.rate_per_second, burst=limits.burst, monotonic=monotonic, sleep=sleep
        )
        self.breaker = CircuitBreaker(
            failures=limits.breaker_failures, reset_after=limits.breaker_reset, monotonic=monotonic
        )
        self.backoff = Backoff.of(limits)
        self.pool = ThreadPoolExecutor(max_workers=max(1, limits.concurrency), thread_name_prefix=self.name)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._paused_until = 0.0
        # a connector that paces its own requests takes a token per HTTP request, not per call
        self.paced = isinstance(connector, Paced)
        if isinstance(connector, Paced):
            connector.pace(lambda: self.bucket.acquire(cancelled=cancelled))

    def close(self) -> None:
        if isinstance(self.connector, Paced):
            self.connector.pace(None)
        self.pool.shutdown(wait=True)

    def circuit_open(self) -> bool:
        """Open or half-open: the ERP is not taking calls freely (what the circuit alert reads)."""
        return self.breaker.state is not BreakerState.CLOSED

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self._monotonic())
