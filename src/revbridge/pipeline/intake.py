"""Intake: received bytes -> format detection -> one stored message per envelope.

Every source (CLI files, the directory poller, HTTP routes, the MLLP listener, the broker
consumers) comes through here, so detection, splitting, deduplication and metrics behave the same
whichever way a message came.
Nothing is parsed beyond the envelope; parsing happens in the worker, after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from revbridge.core.errors import InputError
from revbridge.core.faults import fault_point
from revbridge.core.problem import Problem
from revbridge.formats.base import UNRECOGNISED, Envelope, Format
from revbridge.observability.metrics import Metrics
from revbridge.store.messages import Accepted, Arrival, MessageStore
from revbridge.store.staging import StagingMark

AUTO = "auto"


def detect(data: bytes, formats: Mapping[str, Format]) -> Format | None:
    head = data[:4096]
    for fmt in formats.values():
        if fmt.detect(head):
            return fmt
    return None


def choose(data: bytes, wanted: str, formats: Mapping[str, Format]) -> Format:
    if wanted != AUTO:
        try:
            return formats[wanted]
        except KeyError:
            names = ", ".join(sorted(formats))
            raise InputError(f"unknown format {wanted!r}; choose auto or one of: {names}") from None
    fmt = detect(data, formats)
    if fmt is None:
        raise InputError("cannot tell the format of the input (no HL7 v2 MSH, X12 ISA or ST, or JSON in it)")
    return fmt


@dataclass(frozen=True, slots=True)
class Received:
    envelope: Envelope
    accepted: Accepted

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.envelope.problems


class Intake:
    def __init__(self, store: MessageStore, formats: Mapping[str, Format], metrics: Metrics) -> None:
        self.store = store
        self.formats = formats
        self._metrics = metrics

    def split(self, data: bytes, *, format: str = AUTO) -> list[Envelope]:
        fmt = choose(data, format, self.formats)
        return list(fmt.split(data))

    def receive(
        self,
        data: bytes,
        *,
        channel: str,
        format: str = AUTO,
        correlation_id: str = "",
        dedupe_key: str | None = None,
    ) -> list[Received]:
        """Split, store and commit; returns after every envelope is durable."""
        envelopes = self.split(data, format=format)
        return self.store_envelopes(
            envelopes, channel=channel, correlation_id=correlation_id, dedupe_key=dedupe_key
        )

    def receive_whole(self, data: bytes, *, channel: str, dedupe_key: str) -> list[Received]:
        """As ``receive``; bytes that no format recognises (an empty or a binary file) are stored
        whole as one unrecognised message, which the worker excepts with a located problem (nothing
        received is lost), and then the InputError is raised, after the commit, so the source can
        still set the file aside."""
        try:
            return self.receive(data, channel=channel)
        except InputError:
            whole = Envelope(format=UNRECOGNISED, payload=data, dedupe_key=dedupe_key, locator="message[1]")
            self.store_envelopes([whole], channel=channel)
            raise

    def store_envelopes(
        self,
        envelopes: Sequence[Envelope],
        *,
        channel: str,
        correlation_id: str = "",
        dedupe_key: str | None = None,
        acks: Sequence[bytes | None] | None = None,
        mark: StagingMark | None = None,
    ) -> list[Received]:
        """Store and commit; a staging ``mark`` rides with the last envelope, so it is committed in
        the same transaction as that message and after (or with) every earlier one."""
        arrivals = self._arrivals(envelopes, channel, correlation_id, dedupe_key, acks, mark)
        accepted = self.store.accept_many(arrivals)
        fault_point("ack.after_commit")  # torture tests: committed, the sender not yet answered
        for env, acc in zip(envelopes, accepted, strict=True):
            self.count(channel, env.format, acc)
        return [Received(env, acc) for env, acc in zip(envelopes, accepted, strict=True)]

    def submit_envelopes(
        self, envelopes: Sequence[Envelope], *, channel: str, correlation_id: str = ""
    ) -> list[Future[Accepted]]:
        """Hand the envelopes to the group committer in order and return at once; each future is
        done when its message is durable (the broker consumers await many at a time). The caller
        counts each outcome with ``count``."""
        arrivals = self._arrivals(envelopes, channel, correlation_id, None, None, None)
        return [self.store.submit(arrival) for arrival in arrivals]

    def _arrivals(
        self,
        envelopes: Sequence[Envelope],
        channel: str,
        correlation_id: str,
        dedupe_key: str | None,
        acks: Sequence[bytes | None] | None,
        mark: StagingMark | None,
    ) -> list[Arrival]:
        last = len(envelopes) - 1
        return [
            Arrival(
                channel=channel,
                format=env.format,
                payload=env.payload,
                # An explicit key (Idempotency-Key header) names a single posted document.
                dedupe_key=(dedupe_key if dedupe_key and len(envelopes) == 1 else env.dedupe_key),
                locator=env.locator,
                correlation_id=correlation_id,
                ack=acks[i] if acks is not None else None,
                mark=mark if i == last else None,
                priority=env.priority,
            )
            for i, env in enumerate(envelopes)
        ]

    def count(self, channel: str, format: str, accepted: Accepted) -> None:
        kind = channel.split(":", 1)[0]
        if accepted.status == "duplicate":
            self._metrics.duplicates.labels(kind, format).inc()
        else:
            self._metrics.accepted.labels(kind, format).inc()
