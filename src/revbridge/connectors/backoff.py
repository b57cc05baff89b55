"""When to try a journal again after the ERP was unavailable.

The outbox's retries are durable (a journal goes back to the store with a next-attempt time, so a
restart loses nothing), which rules out tenacity's retry loop; its wait strategies are still the
right tool for the delay itself. We use ``wait_random_exponential`` ("full jitter": a uniform draw
from a window that doubles per attempt, capped), and never wait less than the ERP's Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenacity import RetryCallState, Retrying, wait_random_exponential

from revbridge.connectors.base import Limits


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    base: float
    cap: float
    _wait: wait_random_exponential = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError("backoff needs 0 < base <= cap")
        object.__setattr__(self, "_wait", wait_random_exponential(multiplier=self.base, max=self.cap))

    @classmethod
    def of(cls, limits: Limits) -> Backoff:
        return cls(base=limits.backoff_base, cap=limits.backoff_cap)

    def window(self, attempt: int) -> float:
        """The upper end of the jitter window for the n-th failed attempt (1-based)."""
        return float(min(self.cap, self.base * 2 ** max(0, attempt - 1)))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the n-th failed attempt (1-based), at least ``retry_after``."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = max(1, attempt)
        jittered = float(self._wait(state))
        return max(jittered, retry_after or 0.0)
