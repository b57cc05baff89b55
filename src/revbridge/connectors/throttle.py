"""A token bucket: the outbound rate limit every connector call passes through.

Cloud ERPs throttle per client (Business Central 6,000 requests per 5 minutes, Xero 5,000 a day),
so the outbox spends one token per call, lookups included, and never relies on the ERP's 429 to
slow down. The bucket holds ``burst`` tokens and refills at ``rate`` per second; over any interval
of length T at most ``burst + rate * T`` calls start. Time and sleep are parameters so tests run
on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

_EPSILON = 1e-9


class TokenBucket:
    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        if burst < 1:
            raise ValueError("a token bucket needs room for at least one token")
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> float:
        """Take a token now and return 0, or take nothing and return the seconds until one is due."""
        with self._lock:
            self._refill(self._monotonic())
            if self._tokens >= 1.0 - _EPSILON:  # float refills land a hair short of whole tokens
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, *, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until a token is taken (True) or ``cancelled()`` turns true while waiting (False)."""
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return True
            if cancelled():
                return False
            self._sleep(wait)
