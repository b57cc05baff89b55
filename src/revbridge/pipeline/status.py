"""The state a message ends in, from what its processing found (the worker's last decision).

Pure: the worker (pipeline/worker.py) records a message's events and posts them (through a
``PostingStage``), then asks here which state and reason to write with the message's status.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, Problem, Severity
from revbridge.store import Tx, queue
from revbridge.store import events as event_store


class PostingStage(Protocol):
    """What runs after events are recorded, inside the same transaction (rules -> ledger)."""

    def on_events(
        self, tx: Tx, new: Sequence[CanonicalEvent], *, message_id: str, received_at: datetime | None = None
    ) -> tuple[Sequence[Problem], bool]:
        """Returns problems and whether anything is waiting for context."""
        ...

    def journal_counts(self) -> dict[str, int]:
        """Journals by state, for status reports."""
        ...


@dataclass(frozen=True, slots=True)
class Result:
    message_id: str
    status: str
    problems: tuple[Problem, ...]
    events: int


@dataclass(frozen=True, slots=True)
class Done:
    """What recording and posting one message (or one part of it) did, before its status."""

    recorded: event_store.Recorded
    problems: list[Problem]
    waiting: bool
    opened: list[str]


def decide(
    outcome: Outcome[CanonicalEvent],
    recorded: event_store.Recorded,
    problems: Sequence[Problem],
    waiting: bool,
    more_errors: Iterable[str] = (),
) -> tuple[str, str]:
    errors = sorted({str(p.code) for p in problems if p.severity is Severity.ERROR} | set(more_errors))
    if errors:
        return queue.EXCEPTED, ", ".join(errors)
    if waiting:
        return queue.WAITING, "waiting for context"
    if outcome.ignored_by is not None and not outcome.items:
        return queue.IGNORED, outcome.ignored_by
    if outcome.items and not recorded.new:
        return queue.PROCESSED, f"{len(recorded.repeated)} events already recorded by earlier messages"
    return queue.PROCESSED, f"{len(recorded.new)} events"


def facility(outcome: Outcome[CanonicalEvent]) -> str | None:
    return outcome.items[0].facility if outcome.items else None
