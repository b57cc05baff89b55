"""Breaks: what does not tie, named so that somebody can act on it.

A break is a value like a ``Problem``: which control found it, what it is about (a remittance, a
journal, a facility's day, a message), a PHI-free sentence, the two amounts that differ when
there are amounts, and the event keys behind it for drill-down. Things still in flight (a batch
window not closed yet, a journal the outbox has not sent yet, a message waiting for its encounter)
are not breaks until they are older than ``Thresholds`` allow: then they are, because something
that should have moved has not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from revbridge.core.money import Money


class Control(StrEnum):
    REMITTANCE = "remittance"  # cash posted = BPR02, per remittance
    DAILY = "daily"  # source = subledger = journals = ERP, per day, facility and event kind
    JOURNAL = "journal"  # subledger rows = journal lines; journals balanced and delivered
    ERP = "erp"  # journal lines = what the ERP holds under the journal's reference
    AR_ROLLFORWARD = "ar_rollforward"  # opening + movements = closing = journals
    COMPLETENESS = "completeness"  # every message and event in one accounted-for state


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    control: Control
    subject: str  # "remittance 1512345678:12345", "journal 4f2a...", "2019-03-01 MHN-STJ ChargeCaptured"
    message: str
    expected: Money | None = None
    actual: Money | None = None
    event_keys: tuple[str, ...] = ()

    @property
    def difference(self) -> Money | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected

    def as_json(self) -> dict[str, object]:
        difference = self.difference
        shown = self.expected if self.expected is not None else self.actual
        return {
            "control": self.control.value,
            "subject": self.subject,
            "message": self.message,
            "expected": _text(self.expected),
            "actual": _text(self.actual),
            "difference": _text(difference),
            "currency": shown.currency if shown is not None else None,
            "event_keys": list(self.event_keys),
        }

    def __str__(self) -> str:
        return f"{self.control.value}: {self.subject}: {self.message}"


def _text(amount: Money | None) -> str | None:
    return str(amount.amount) if amount is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """How long work may legitimately be in flight before it counts as a break."""

    in_flight: timedelta = timedelta(minutes=30)  # pending/processing messages, the outbox
    waiting: timedelta = timedelta(hours=25)  # messages waiting for context (configured wait + slack)
    window: timedelta = timedelta(minutes=35)  # rows in an open batch window (its max age + slack)

    def stale(self, since: datetime, now: datetime, *, waiting: bool = False) -> bool:
        return now - since > (self.waiting if waiting else self.in_flight)

    def stale_row(self, since: datetime, now: datetime) -> bool:
        """A subledger row still in no journal: its batch window should have closed by now."""
        return now - since > self.window


def age(since: datetime, now: datetime) -> str:
    """A short human age: 45s, 12m, 3h, 2d."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
