"""When a batch window is due (DESIGN.md section 7: charges go out as micro-batch journals).

The pipeline opens a window per legal entity when the first batch line is staged and asks, each
time it looks, whether the window is due: old enough, or full enough. The clock is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from revbridge.ledger.journal import JournalError


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowPolicy:
    max_age: timedelta
    max_lines: int

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise JournalError("a batch window needs a positive maximum age")
        if self.max_lines < 1:
            raise JournalError("a batch window needs room for at least one line")

    def due_at(self, opened_at: datetime) -> datetime:
        return opened_at + self.max_age


def is_due(policy: WindowPolicy, *, opened_at: datetime, line_count: int, now: datetime) -> bool:
    return line_count >= policy.max_lines or now >= policy.due_at(opened_at)


def window_key(legal_entity: str, opened_at: datetime) -> str:
    """A readable, deterministic key for a window: what a batch journal's id is derived from."""
    return f"batch:{legal_entity}:{opened_at.isoformat()}"
