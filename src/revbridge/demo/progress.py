"""The demo's progress on the terminal: one bar per stage while the day is fed and settles.

Messages sent through the sources (counted as each is sent), stored messages through processing
(in a terminal state; a message the sources refuse is never stored) and journals through the ERP
(no longer waiting to be sent or acknowledged), the last two read from the store's status twice
a second. This module only shows progress: the
feeding itself is ``feed.py``'s and its order the command's. In a pipe nothing is drawn (the
summary that follows says where everything ended).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from revbridge.core.errors import StoreUnavailable

# runtime.status(): {"messages": {state: n}, "journals": {state: n}, ...}
Status = Callable[[], dict[str, dict[str, int]]]

MESSAGES_UNDER_WAY = ("pending", "processing", "waiting")
JOURNALS_UNDER_WAY = ("staged", "submitting", "accepted")


def through(counts: dict[str, int], under_way: tuple[str, ...]) -> tuple[int, int]:
    """(done, total) of a stage from its counts by state."""
    total = sum(counts.values())
    return total - sum(counts.get(s, 0) for s in under_way), total


class Stages:
    def __init__(self, console: Console, messages: int, status: Status, *, every: float = 0.5) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            expand=True,
        )
        self._messages = messages
        self._status = status
        self._drawn = console.is_terminal
        self._every = every
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="demo-progress", daemon=True)
        self._sent = self._processed = self._journals = TaskID(0)

    def __enter__(self) -> Stages:
        add = self._progress.add_task
        self._sent = add("sent (MLLP, files, HTTP)", total=self._messages)
        self._processed = add("stored and processed", total=None)
        self._journals = add("journals through the ERP", total=None)
        if self._drawn:
            self._progress.start()
            self._poller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._drawn:
            return
        self._stop.set()
        self._poller.join()
        if kind is None:
            self._update()
        self._progress.stop()

    def sent(self, _message: Any) -> None:
        self._progress.advance(self._sent)

    def _poll(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._update()
            except StoreUnavailable:
                continue  # a busy store only delays a bar; the summary reads the store again

    def _update(self) -> None:
        status = self._status()
        for task, counts, under_way in (
            (self._processed, status["messages"], MESSAGES_UNDER_WAY),
            (self._journals, status["journals"], JOURNALS_UNDER_WAY),
        ):
            done, total = through(counts, under_way)
            if total:
                self._progress.update(task, completed=done, total=total)
