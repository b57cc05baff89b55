"""A tiny line-based format for exercising the store and worker without a real parser.

Each line of a payload is one instruction:
  ``CHARGE <key> <amount>``  -> a ChargeCaptured event
  ``BAD <code>``              -> a problem with that ProblemCode at ``line[n]``
  ``RAISE``                   -> the parser raises (a bug), so the worker retries
  ``SLEEP <seconds>``         -> the parser sleeps (to kill a worker mid-batch)
  ``IGNORE``                  -> the message is ignored by the rule ``test.ignore``
  ``NAME <text>``             -> PHI-like text that must never leave the payload
The dedupe key is the first line when it starts with ``ID ``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

from revbridge.canonical.events import CanonicalEvent, ChargeCaptured
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.formats.base import IN_ORDER, Envelope, ParseContext


class LineFormat:
    name = "lines"
    priority = IN_ORDER

    def detect(self, head: bytes) -> bool:
        return head.startswith((b"ID ", b"CHARGE ", b"BAD ", b"RAISE", b"SLEEP", b"IGNORE", b"NAME"))

    def split(self, data: bytes) -> Iterator[Envelope]:
        for n, chunk in enumerate(data.split(b"\n---\n"), start=1):
            first = chunk.split(b"\n", 1)[0].decode()
            key = first[3:].strip() if first.startswith("ID ") else ""
            yield Envelope(format=self.name, payload=chunk, dedupe_key=key, locator=f"message[{n}]")

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        events: list[CanonicalEvent] = []
        problems: list[Problem] = []
        ignored = None
        for n, line in enumerate(payload.decode().splitlines(), start=1):
            where = SourceRef(ctx.message_id, f"line[{n}]")
            word, _, rest = line.partition(" ")
            if word == "CHARGE":
                key, amount = rest.split()
                events.append(
                    ChargeCaptured(
                        key=key,
                        source=where,
                        occurred_on=date(2026, 11, 2),
                        facility="F01",
                        charge_id=key,
                        encounter="E1",
                        patient=ctx.tokenizer("mrn", "MRN-" + key),
                        department="ED",
                        amount=Money.of(amount),
                    )
                )
            elif word == "BAD":
                problems.append(Problem(code=ProblemCode(rest.strip()), message="test problem", where=where))
            elif word == "RAISE":
                raise ValueError("parser bug with text that must not be logged: " + payload.decode())
            elif word == "SLEEP":
                time.sleep(float(rest))
            elif word == "IGNORE":
                ignored = "test.ignore"
        return Outcome(tuple(events), tuple(problems), ignored)


LINES = LineFormat()
FORMATS = {LINES.name: LINES}
