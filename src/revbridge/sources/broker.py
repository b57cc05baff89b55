"""What the RabbitMQ and NATS JetStream consumers share: a delivery -> stored messages, and when
the broker may be told.

A delivery is split by intake like any received bytes and handed to the group committer; the
consumer (rabbitmq.py, jetstream.py) acknowledges it only once every message cut from it is
durable. A process that dies in between leaves the delivery with the broker, which delivers it
again: the dedupe key (the broker's message id, AMQP ``message_id`` or NATS ``Nats-Msg-Id``, else
a hash of the bytes) makes that delivery a duplicate with the original outcome. Bytes that are
not the configured format are stored all the same (intake never loses what it acknowledges) and
the worker excepts them with a located problem; then they are acked, so a sender's mistake does
not circle the broker for ever. A delivery whose splitting raises (a bug) stays with the broker
until it has been delivered ``max_deliveries`` times, then it is stored unsplit as poison and
acked. A store that cannot commit is never a reason to ack: the consumer reconnects later.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from revbridge.core.errors import InputError
from revbridge.core.faults import fault_point
from revbridge.core.problem import Severity
from revbridge.formats.base import UNRECOGNISED, Envelope
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.settings import BrokerSource
from revbridge.store.messages import Accepted

log = get_logger("revbridge.broker")

MAX_KEY = 512  # the store's dedupe key column


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    body: bytes
    message_id: str | None  # the broker's id of the message; None when the sender gave none
    deliveries: int  # how many times the broker has delivered it, this time included


class NotYet(Exception):
    """The delivery could not be split and has deliveries left: hand it back to the broker."""


class IntakePort(Protocol):
    """What a consumer needs of intake (pipeline/intake.py's ``Intake``)."""

    def split(self, data: bytes, *, format: str = ...) -> list[Envelope]: ...
    def submit_envelopes(
        self, envelopes: Sequence[Envelope], *, channel: str, correlation_id: str = ...
    ) -> list[Future[Accepted]]: ...
    def count(self, channel: str, format: str, accepted: Accepted) -> None: ...


def with_password(url: str, password: str | None) -> str:
    """The broker URL with the password (from the environment) put in; never logged."""
    if password is None:
        return url
    parts = urlsplit(url)
    user = quote(parts.username or "", safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


@dataclass
class BrokerIntake:
    config: BrokerSource
    intake: IntakePort
    metrics: Metrics

    @property
    def channel(self) -> str:
        return f"{self.config.broker}:{self.config.name}"[:64]

    def dedupe_key(self, delivery: Delivery) -> str:
        """``amqp:<queue>:<message id>`` or ``nats:<stream>:<message id>``; without an id, the
        bytes' hash. An over-long id is hashed too, so a key always fits the store."""
        c = self.config
        address = f"amqp:{c.queue}" if c.broker == "rabbitmq" else f"nats:{c.stream}"
        if delivery.message_id:
            key = f"{address}:{delivery.message_id}"
            if len(key) + 3 <= MAX_KEY:  # room for the "#<n>" of a delivery split in several
                return key
            return f"{address}:id-sha256:{hashlib.sha256(delivery.message_id.encode()).hexdigest()}"
        return f"{address}:sha256:{hashlib.sha256(delivery.body).hexdigest()}"

    def envelopes(self, delivery: Delivery) -> tuple[list[Envelope], bool]:
        """The messages to store, keyed for dedupe, and whether the delivery is poison (not the
        configured format, or unsplittable after its last delivery)."""
        key = self.dedupe_key(delivery)
        try:
            found = self.intake.split(delivery.body, format=self.config.format)
        except InputError:
            return [_unrecognised(delivery.body, key)], True
        except Exception as exc:  # a splitter's bug: retried by redelivery, then kept as poison
            log.warning("broker.split_failed", source=self.config.name, error=type(exc).__name__)
            if delivery.deliveries < self.config.max_deliveries:
                raise NotYet from None
            return [_unrecognised(delivery.body, key)], True
        if not found:
            return [_unrecognised(delivery.body, key)], True
        keyed = [
            replace(env, dedupe_key=key if len(found) == 1 else f"{key}#{n}") for n, env in enumerate(found)
        ]
        poison = any(p.severity is Severity.ERROR for env in found for p in env.problems)
        return keyed, poison

    def submit(self, delivery: Delivery) -> Coroutine[Any, Any, str]:
        """Hand the delivery's messages to the committer now (so they are stored in delivery
        order) and return what to await: the outcome to count once all are durable, ``stored``,
        ``duplicate`` or ``poison``. Raises ``NotYet``; the awaitable raises the store's error."""
        self.metrics.broker_messages.labels(self.config.name, "received").inc()
        envelopes, poison = self.envelopes(delivery)
        futures = self.intake.submit_envelopes(envelopes, channel=self.channel)
        return self._settle(envelopes, futures, poison)

    async def _settle(self, envelopes: list[Envelope], futures: list[Future[Accepted]], poison: bool) -> str:
        accepted = [await asyncio.wrap_future(f) for f in futures]
        for env, acc in zip(envelopes, accepted, strict=True):
            self.intake.count(self.channel, env.format, acc)
        fault_point("broker.after_commit")  # torture tests: stored, the broker not yet told
        if all(acc.status == "duplicate" for acc in accepted):
            outcome = "duplicate"
        else:
            outcome = "poison" if poison else "stored"
        self.metrics.broker_messages.labels(self.config.name, outcome).inc()
        return outcome

    def acked(self) -> None:
        self.metrics.broker_messages.labels(self.config.name, "acked").inc()


def _unrecognised(body: bytes, key: str) -> Envelope:
    return Envelope(format=UNRECOGNISED, payload=body, dedupe_key=key, locator="message[1]")


async def keep_consuming(
    stop: threading.Event, config: BrokerSource, consume: Callable[[threading.Event], Awaitable[None]]
) -> None:
    """Run ``consume`` until ``stop``; when it fails (the broker went away, the store could not
    commit) wait ``retry_seconds`` and start again. What was not acked is delivered again."""
    while not stop.is_set():
        try:
            await consume(stop)
        except Exception as exc:  # any failure of broker or store: named by type, never by text
            log.warning("broker.consume_failed", source=config.name, error=type(exc).__name__)
        await pause(stop, config.retry_seconds)


async def pause(stop: threading.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set, whichever comes first."""
    waited = 0.0
    while waited < seconds and not stop.is_set():
        await asyncio.sleep(min(0.1, seconds - waited))
        waited += 0.1
