"""Where CloudEvents go: RabbitMQ (a durable topic exchange, routing key = event type, persistent
messages, publisher confirms), NATS JetStream (subject ``<prefix>.<type>``, ``Nats-Msg-Id`` = the
event id so the stream drops a re-send inside its duplicate window) or a webhook (HTTP POST of the
structured event, signed with HMAC-SHA256 over the exact body bytes).

A sink either delivers (the broker confirmed, the endpoint answered 2xx) or raises ``SinkError``
naming the failure by type and status only; the publisher then retries with backoff. Clients are
opened lazily and reopened after a failure, so a broker restart costs retries, not the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import aio_pika
import httpx
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

SIGNATURE_HEADER = "X-Revbridge-Signature"  # "sha256=" + hex HMAC-SHA256 of the body
EVENT_ID_HEADER = "X-Revbridge-Event-Id"


class SinkError(Exception):
    """A send that did not get through (retry later)."""


class Sink(Protocol):
    name: str

    async def send(self, event_id: str, kind: str, body: bytes) -> None: ...

    async def close(self) -> None: ...


def sign(secret: bytes, body: bytes) -> str:
    """The webhook signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkSettings:
    url: str
    secret: bytes | None = None  # the webhook's HMAC key
    exchange: str = "revbridge.events"  # RabbitMQ topic exchange
    stream: str = "REVBRIDGE_EVENTS"  # NATS JetStream stream
    subject_prefix: str = "revbridge.events"  # NATS subjects: <prefix>.<type>
    timeout: float = 10.0


class WebhookSink:
    name = "webhook"

    def __init__(self, settings: SinkSettings) -> None:
        if not settings.secret:
            raise ValueError("the webhook sink needs a signing secret (events_secret)")
        self._settings = settings
        self._secret = settings.secret
        self._client: httpx.AsyncClient | None = None

    async def send(self, event_id: str, kind: str, body: bytes) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._settings.timeout)
        headers = {
            "Content-Type": "application/cloudevents+json",
            SIGNATURE_HEADER: sign(self._secret, body),
            EVENT_ID_HEADER: event_id,
        }
        try:
            response = await self._client.post(self._settings.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"webhook unreachable ({type(exc).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise SinkError(f"webhook answered HTTP {response.status_code}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class RabbitSink:
    name = "rabbitmq"

    def __init__(self, settings: SinkSettings) -> None:
        self._settings = settings
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def _open(self) -> aio_pika.abc.AbstractExchange:
        if self._exchange is None:
            self._connection = await aio_pika.connect_robust(
                self._settings.url, timeout=self._settings.timeout
            )
            channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await channel.declare_exchange(
                self._settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
        return self._exchange

    async def send(self, event_id: str, kind: str, body: bytes) -> None:
        try:
            exchange = await self._open()
            message = aio_pika.Message(
                body,
                content_type="application/cloudevents+json",
                message_id=event_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await exchange.publish(message, routing_key=kind, timeout=self._settings.timeout)
        except Exception as exc:  # the broker's many failure types: retry, after reconnecting
            await self.close()
            raise SinkError(f"RabbitMQ publish failed ({type(exc).__name__})") from None

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing left to do
                await connection.close()


class NatsSink:
    name = "nats"

    def __init__(self, settings: SinkSettings) -> None:
        self._settings = settings
        self._client: NatsClient | None = None
        self._js: JetStreamContext | None = None

    async def _open(self) -> JetStreamContext:
        if self._js is None:
            s = self._settings
            # bounded: the client retries an unreachable server on its own, for minutes
            self._client = await asyncio.wait_for(
                nats.connect(
                    s.url,
                    connect_timeout=max(1, int(s.timeout)),
                    allow_reconnect=False,
                    max_reconnect_attempts=0,
                ),
                timeout=s.timeout,
            )
            self._js = self._client.jetstream(timeout=s.timeout)
            await self._js.add_stream(name=s.stream, subjects=[f"{s.subject_prefix}.>"])
        return self._js

    async def send(self, event_id: str, kind: str, body: bytes) -> None:
        try:
            js = await self._open()
            subject = f"{self._settings.subject_prefix}.{kind}"
            await js.publish(subject, body, headers={"Nats-Msg-Id": event_id})
        except Exception as exc:  # the client's many failure types: retry, after reconnecting
            await self.close()
            raise SinkError(f"NATS publish failed ({type(exc).__name__})") from None

    async def close(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing left to do
                await client.close()


SINKS: Mapping[str, Callable[[SinkSettings], Sink]] = {
    "webhook": WebhookSink,
    "rabbitmq": RabbitSink,
    "nats": NatsSink,
}
