"""What the demo tests share: the window they generate and one parse of a generated message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Problem
from revbridge.core.tokens import fixed_tokenizer
from revbridge.demo import Message
from revbridge.formats.base import ParseContext
from revbridge.formats.registry import FORMATS

START = date(2025, 3, 3)  # a Monday: payers remit on weekdays


@dataclass(frozen=True, slots=True)
class Parsed:
    message: Message
    events: tuple[CanonicalEvent, ...]
    problems: tuple[Problem, ...]
    ignored_by: str | None


def parse(message: Message, n: int) -> Parsed:
    fmt = FORMATS[message.format]
    envelopes = list(fmt.split(message.payload))
    assert len(envelopes) == 1, f"{message.kind} is {len(envelopes)} messages"
    assert envelopes[0].problems == (), envelopes[0].problems
    assert envelopes[0].payload.strip() == message.payload.strip()
    ctx = ParseContext(message_id=f"m{n}", tokenizer=fixed_tokenizer(), received_on=message.at.date())
    outcome = fmt.to_events(envelopes[0].payload, ctx)
    return Parsed(message, outcome.items, outcome.problems, outcome.ignored_by)
