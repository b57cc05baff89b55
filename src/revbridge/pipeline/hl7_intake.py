"""HL7 v2 intake with acknowledgements, shared by the MLLP listener and the HTTP route.

The ACK is built before the commit (it names our control id and time) and stored with the
message, so a duplicate gets byte-for-byte the ACK the original got. It is released to the sender
only after ``accept`` returns, that is, after the commit. A frame without a usable MSH gets an AR
naming the reason and is not stored: the sender keeps responsibility for it. So is a frame whose
MSH holds control characters (a NUL from a broken sender): its header cannot be trusted.
A sender's marker before the MSH (``[SOM]``) is only a warning: the message is stored and gets AA.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from revbridge.core.clock import Clock
from revbridge.core.faults import fault_point
from revbridge.core.ids import uuid7
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.hl7v2 import HL7V2, AckCode, build_ack, build_reject, parse
from revbridge.formats.hl7v2.ack import CONTROL_CHARACTERS, NO_USABLE_HEADER, AckError, frame_too_large
from revbridge.formats.hl7v2.stream import header_line
from revbridge.pipeline.intake import Intake
from revbridge.store.messages import Accepted, Arrival


def _refusal(problems: tuple[Problem, ...]) -> AckError | None:
    """Why a split message cannot be acknowledged AA; None when it can (warnings only)."""
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if any(p.code is ProblemCode.CONTROL_CHARACTERS for p in errors):
        return CONTROL_CHARACTERS
    return NO_USABLE_HEADER if errors else None


def _control_id() -> str:
    # MSH-10 allows 20 characters (ST in v2.5 is 199, but receivers often cut at 20).
    return uuid7().replace("-", "")[-20:]


@dataclass(frozen=True, slots=True)
class Acknowledged:
    ack: bytes
    accepted: Accepted | None  # None when the frame was rejected without being stored


class Hl7Intake:
    def __init__(self, intake: Intake, clock: Clock) -> None:
        self._intake = intake
        self._clock = clock

    def _prepare(self, data: bytes, channel: str, correlation_id: str) -> list[Arrival] | bytes:
        envelopes = list(HL7V2.split(data))
        arrivals = []
        for env in envelopes:
            # The ACK echoes only the header, so only the MSH line is tokenized here; the whole
            # message is parsed later by the worker.
            refusal = _refusal(env.problems)
            message, _problems = parse(header_line(env.payload)) if refusal is None else (None, ())
            if refusal is not None or message is None:
                error = refusal or NO_USABLE_HEADER
                return build_reject(data, control_ids=_control_id, now=self._clock.now(), error=error)
            ack = build_ack(message, AckCode.AA, control_ids=_control_id, now=self._clock.now())
            arrivals.append(
                Arrival(
                    channel=channel,
                    format=HL7V2.name,
                    payload=env.payload,
                    dedupe_key=env.dedupe_key,
                    locator=env.locator,
                    correlation_id=correlation_id,
                    ack=ack,
                    priority=env.priority,
                )
            )
        if not arrivals:
            return build_reject(data, control_ids=_control_id, now=self._clock.now())
        return arrivals

    def _answer(self, arrival: Arrival, accepted: Accepted) -> Acknowledged:
        self._intake.count(arrival.channel, arrival.format, accepted)
        ack = accepted.ack if accepted.status == "duplicate" and accepted.ack else arrival.ack
        assert ack is not None
        return Acknowledged(ack, accepted)

    async def receive_async(
        self, data: bytes, *, channel: str, correlation_id: str = ""
    ) -> list[Acknowledged]:
        prepared = self._prepare(data, channel, correlation_id)
        if isinstance(prepared, bytes):
            return [Acknowledged(prepared, None)]
        futures = [self._intake.store.submit(a) for a in prepared]
        results = []
        for arrival, future in zip(prepared, futures, strict=True):
            results.append(self._answer(arrival, await asyncio.wrap_future(future)))
        fault_point("ack.after_commit")  # torture tests: committed, the sender not yet answered
        return results

    def receive(self, data: bytes, *, channel: str, correlation_id: str = "") -> list[Acknowledged]:
        prepared = self._prepare(data, channel, correlation_id)
        if isinstance(prepared, bytes):
            return [Acknowledged(prepared, None)]
        accepted = self._intake.store.accept_many(prepared)
        fault_point("ack.after_commit")
        return [self._answer(a, acc) for a, acc in zip(prepared, accepted, strict=True)]

    async def mllp_frame(self, frame: bytes, peer: str) -> bytes:
        """One frame in, one ACK out (the first message's, when a frame holds several)."""
        answers = await self.receive_async(frame, channel=f"mllp:{peer}"[:64])
        return answers[0].ack

    def oversized(self, head: bytes, limit: int) -> bytes:
        return build_reject(
            head, control_ids=_control_id, now=self._clock.now(), error=frame_too_large(limit)
        )
