"""The HL7 v2 Format: detect, split and translate (the contract in formats/base.py).

``to_events`` routes on MSH-9: ADT and BAR to admission.py, DFT to transaction.py; a message type
we do not translate is an UNSUPPORTED_MESSAGE problem (the stored message is kept and can be
replayed once it is supported). It is pure and never raises on bad input.
"""

from __future__ import annotations

from collections.abc import Iterator

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, Problem, ProblemCode
from revbridge.formats.base import IN_ORDER, Envelope, ParseContext
from revbridge.formats.hl7v2 import admission, stream, transaction
from revbridge.formats.hl7v2.header import NON_FINANCIAL_TRIGGER, problem, read_header
from revbridge.formats.hl7v2.message import Message, parse
from revbridge.formats.hl7v2.values import shown

TRANSACTION_TRIGGERS = frozenset({"P03", "P11"})


class Hl7v2Format:
    priority = IN_ORDER

    @property
    def name(self) -> str:
        return stream.FORMAT_NAME

    def detect(self, head: bytes) -> bool:
        return stream.detect(head)

    def split(self, data: bytes) -> Iterator[Envelope]:
        return stream.split(data)

    def to_events(self, payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
        return to_events(payload, ctx)


HL7V2 = Hl7v2Format()


def to_events(payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    if len(payload) > ctx.limits.max_message_bytes:
        return _fail(
            problem(
                ctx,
                ProblemCode.LIMIT_EXCEEDED,
                f"message of {len(payload)} bytes exceeds {ctx.limits.max_message_bytes}",
                "",
            )
        )
    message, found = parse(payload)
    problems = [p.with_message_id(ctx.message_id) for p in found]
    if message is None:
        return Outcome.of((), problems)
    if message.count("MSH") > 1:
        second = message.all("MSH")[1]
        problems.append(
            problem(
                ctx,
                ProblemCode.MALFORMED_MESSAGE,
                "the payload holds more than one message; split it first",
                second.where,
            )
        )
        return Outcome.of((), problems)
    oversized = _oversized(message, ctx)
    if oversized is not None:
        return Outcome.of((), [*problems, oversized])
    header = read_header(message)
    route = (header.message_type, header.trigger)
    if not header.message_type:
        return Outcome.of(
            (), [*problems, problem(ctx, ProblemCode.MISSING_FIELD, "no message type (MSH-9)", "MSH[1]-9")]
        )
    if header.message_type in ("ADT", "BAR"):
        if route not in admission.FINANCIAL:
            return Outcome(ignored_by=NON_FINANCIAL_TRIGGER)
        outcome = admission.to_encounter_events(message, header, ctx)
    elif header.message_type == "DFT" and header.trigger in TRANSACTION_TRIGGERS:
        outcome = transaction.to_transaction_events(message, header, ctx)
    else:
        text = f"message type {shown(header.message_type)} trigger {shown(header.trigger)} is not translated"
        problems.append(problem(ctx, ProblemCode.UNSUPPORTED_MESSAGE, text, "MSH[1]-9"))
        return Outcome.of((), problems)
    return Outcome(outcome.items, (*problems, *outcome.problems))


def _fail(found: Problem) -> Outcome[CanonicalEvent]:
    return Outcome.of((), (found,))


def _oversized(message: Message, ctx: ParseContext) -> Problem | None:
    limit = ctx.limits.max_element_length
    for seg in message.segments:
        if len(seg.raw) <= limit:
            continue
        for n, text in enumerate(seg.fields()):
            if len(text) > limit:
                return problem(
                    ctx,
                    ProblemCode.LIMIT_EXCEEDED,
                    f"a field of {len(text)} characters exceeds {limit}",
                    seg.locator(n) if n else seg.where,
                )
    return None
