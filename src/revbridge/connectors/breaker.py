"""A circuit breaker per connector: stop calling an ERP that keeps failing, probe it now and then.

Closed: calls flow; ``failures`` consecutive ``ConnectorUnavailable`` outcomes open it. Open: no
call is made until ``reset_after`` seconds have passed; the outbox puts the journals back with that
time as their next attempt instead of burning their attempts on a dead ERP. Half-open: exactly one
probe call is let through; its success closes the circuit, its failure opens it for another period.
A rejection (the ERP answered and refused the journal) says the ERP is up, so it counts as success
here. pybreaker is not installed and its decorator style does not fit calls made from a pool, so
this is ours: small, thread-safe, with an injectable clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Admission:
    wait: float  # 0: call now and report the outcome; else seconds until a call may be tried
    probe: bool = False  # this call is the half-open probe


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int,
        reset_after: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1:
            raise ValueError("a breaker needs at least one failure to open")
        if reset_after <= 0:
            raise ValueError("a breaker needs a positive reset time")
        self.threshold = failures
        self.reset_after = reset_after
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False
        self.transitions: list[BreakerState] = []  # every state entered, in order (for metrics, tests)

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._tick()
            return self._state

    def _enter(self, state: BreakerState) -> None:
        self._state = state
        self.transitions.append(state)

    def _tick(self) -> None:
        if self._state is BreakerState.OPEN and self._monotonic() - self._opened_at >= self.reset_after:
            self._enter(BreakerState.HALF_OPEN)
            self._probing = False

    def allow(self) -> Admission:
        with self._lock:
            self._tick()
            if self._state is BreakerState.CLOSED:
                return Admission(0.0)
            if self._state is BreakerState.HALF_OPEN:
                if self._probing:
                    return Admission(min(1.0, self.reset_after))  # let the probe finish first
                self._probing = True
                return Admission(0.0, probe=True)
            return Admission(max(0.0, self._opened_at + self.reset_after - self._monotonic()))

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._probing = False
            if self._state is not BreakerState.CLOSED:
                self._enter(BreakerState.CLOSED)

    def release(self) -> None:
        """An admitted call was not made after all: free the probe slot, change nothing else."""
        with self._lock:
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._probing = False
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._consecutive >= self.threshold
            ):
                self._opened_at = self._monotonic()
                self._enter(BreakerState.OPEN)
