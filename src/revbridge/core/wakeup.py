"""Wake-ups: a producer says "there is work" after its commit (intake for the workers, a worker for
the outbox), and a polling loop wakes at once instead of at its next poll. Loops still poll,
because work also comes from other processes, so a lost wake-up costs one poll interval, never a
message. A wake-up may also be forwarded to other processes (``forward_to``): ``revbridge serve``
rings its worker processes this way after each intake commit."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Wakeup:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._forwards: list[Callable[[], None]] = []

    def forward_to(self, ring: Callable[[], None]) -> None:
        """Also call ``ring`` on every notice (it must not block)."""
        self._forwards.append(ring)

    def notify(self) -> None:
        self._event.set()
        for ring in self._forwards:
            ring()

    def wait(self, timeout: float) -> bool:
        """Sleep until notified or ``timeout`` seconds pass; True if notified. A notice between
        the caller's last look for work and this call is not lost: it stays set until a wait
        takes it."""
        notified = self._event.wait(timeout)
        self._event.clear()
        return notified
