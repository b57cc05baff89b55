"""A doorbell: a producer in this process says "there is work" after its commit, and a polling
loop wakes at once instead of at its next poll. Loops still poll (work can come from another
process), so a missed ring costs one poll interval, never a message."""

from __future__ import annotations

import threading


class Doorbell:
    def __init__(self) -> None:
        self._event = threading.Event()

    def ring(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep until rung or ``timeout`` seconds pass; True if rung. A ring between the caller's
        last look for work and this call is not lost: the bell stays set until a wait takes it."""
        rung = self._event.wait(timeout)
        self._event.clear()
        return rung
