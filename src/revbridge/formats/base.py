"""The contract every format implements.

Intake calls ``split`` on the bytes a source received and stores each ``Envelope`` as one message
(with its dedupe key) before anything else happens. Later a worker calls ``to_events`` on a stored
payload. Both are pure: no clock, no database, no settings. Patient identifiers are turned into
tokens with the ``Tokenizer`` in the context as soon as they are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.core.tokens import Tokenizer

# The format a broker message is stored under when it is none of the registered ones: its bytes
# are kept (intake never loses what it acknowledged) and the worker excepts it (pipeline/parsing).
UNRECOGNISED = "unrecognised"

# The order workers take stored messages in (messages.priority; store/queue.py claims the lowest
# first, and by arrival within one). Cash (835 remittances, portal patient payments and refunds)
# needs no encounter context and is posted in the realtime lane, so it goes FIRST (FHIR's
# PaymentReconciliation and staged payment rows too: the formats' priority_of); everything else
# (ADT, DFT charges and reversals, claims) is taken IN_ORDER of arrival, which keeps a reversal
# behind the charge it reverses. Charges post in batch windows anyway: going second costs them
# nothing a finance user would see, while cash behind a 13,000-message backlog waits tens of
# seconds (docs/PERFORMANCE.md, Soak).
FIRST = 0
IN_ORDER = 1
# Cash a worker is done with in milliseconds (a portal payment or refund; a remittance file under
# SMALL_REMITTANCE_BYTES) goes before even a large remittance: a payer's ERA of thousands of claims
# is seconds of work, and a burst of them held patients' payments 15 s in the soak. Below FIRST,
# so rows stored before it keep their order without a migration.
SMALL_CASH = -1
SMALL_REMITTANCE_BYTES = 64 * 1024


def cash_priority(size: int) -> int:
    """The priority of a message a format has found to be cash only, by its size in bytes."""
    return SMALL_CASH if size < SMALL_REMITTANCE_BYTES else FIRST


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """One message cut out of a received byte stream, ready to be stored."""

    format: str
    payload: bytes
    # Sender + control id (MSH-4 + MSH-10; ISA06 + ISA13; resourceType/id/versionId). Empty when
    # the message has none: the store then deduplicates on the content hash alone.
    dedupe_key: str = ""
    locator: str = ""  # where it sat in the received stream: "message[3]", "ISA[1]"
    # Envelope-level problems (no usable MSH, a broken ISA). The message is still stored and
    # ends ``excepted`` with these problems: nothing received is ever lost.
    problems: tuple[Problem, ...] = ()
    # SMALL_CASH, FIRST or IN_ORDER: the format's ``priority``, unless the format tells its
    # messages apart (one X12 file holds 837 claims, the next an 835 remittance).
    priority: int = IN_ORDER


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseContext:
    message_id: str
    tokenizer: Tokenizer
    received_on: date  # fallback business date when a message carries none
    default_currency: str = "USD"  # X12 and HL7 v2 carry no currency of their own
    limits: Limits = field(default_factory=lambda: Limits())


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    max_message_bytes: int = 64 * 1024 * 1024
    max_element_length: int = 256 * 1024  # X12 element / HL7 field length bound


class Format(Protocol):
    # SMALL_CASH for a format whose messages are small cash (portal payments), else IN_ORDER; the
    # envelopes ``split`` makes carry it (or their own, where the format holds both kinds: X12).
    priority: int

    @property
    def name(self) -> str: ...

    def detect(self, head: bytes) -> bool:
        """True when the first bytes of a stream look like this format."""
        ...

    def split(self, data: bytes) -> Iterator[Envelope]:
        """Cut a received stream (a file, an HTTP body) into storable messages."""
        ...

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        """Parse one stored message into canonical events and located problems."""
        ...


def first_of_each_key(
    parts: Iterable[tuple[str, Iterable[CanonicalEvent]]], message_id: str, problems: list[Problem], why: str
) -> list[CanonicalEvent]:
    """The events of a many-part message (portal items, staged rows), each key once: a later
    event with the key of an earlier one is dropped with an EVENT_CONFLICT located at its part
    (``why`` says what collided), so one message never asks the store to keep two versions of
    the same event. ``parts`` are read lazily: a part's own problems stay in reading order."""
    events: list[CanonicalEvent] = []
    seen: set[str] = set()
    for path, found in parts:
        for event in found:
            if event.key in seen:
                problems.append(
                    Problem(
                        code=ProblemCode.EVENT_CONFLICT,
                        message=why,
                        where=SourceRef(message_id, path),
                        event_key=event.key,
                    )
                )
                continue
            seen.add(event.key)
            events.append(event)
    return events
