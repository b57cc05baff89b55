"""The NATS JetStream source: a durable pull consumer on a stream, with explicit acks.

The consumer is created on first start (durable name ``consumer``, explicit acks, at most
``prefetch`` unacknowledged: ``max_ack_pending``); an existing one keeps the configuration it was
created with. Each fetched message is acked only after its messages are committed (broker.py);
``num_delivered`` in the message's metadata says how often the stream has delivered it, which is
what poison control counts. The asyncio loop runs in a thread of its own (``run``).

When the server restarts, the client first reconnects by itself (3 attempts, 2 s apart) and the
durable pull subscription goes on; acks of deliveries made before the restart reach the server
after it. A longer outage closes the client: ``consume`` raises and ``keep_consuming`` connects
again every ``retry_seconds``. Either way a delivery whose ack was lost is delivered again after
``ack_wait`` and recorded as a duplicate.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from revbridge.settings import BrokerSource
from revbridge.sources.broker import BrokerIntake, Delivery, NotYet, keep_consuming, log

MSG_ID = "Nats-Msg-Id"


def delivery_of(msg: Msg) -> Delivery:
    headers = msg.headers or {}
    return Delivery(
        body=msg.data, message_id=headers.get(MSG_ID) or None, deliveries=msg.metadata.num_delivered
    )


@dataclass
class JetStreamConsumer:
    config: BrokerSource
    intake: BrokerIntake
    url: str  # with the password in it (never logged)

    def run(self, stop: threading.Event) -> None:
        asyncio.run(keep_consuming(stop, self.config, self.consume))

    async def consume(self, stop: threading.Event) -> None:
        """Fetch, store and ack batches until ``stop``; a failure to store raises (no ack)."""
        c = self.config
        client = await nats.connect(
            self.url,
            connect_timeout=10,
            max_reconnect_attempts=3,
            allow_reconnect=True,
            error_cb=self._connection_error,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
        )
        try:
            js = client.jetstream()
            config = ConsumerConfig(
                durable_name=c.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                max_ack_pending=c.prefetch,
                ack_wait=c.ack_wait_seconds,
            )
            subscription = await js.pull_subscribe(
                c.subject or "", durable=c.consumer, stream=c.stream, config=config
            )
            log.info("broker.consuming", source=c.name, stream=c.stream)
            while not stop.is_set():
                if client.is_closed:
                    raise ConnectionError("the NATS connection closed")
                try:
                    batch = await subscription.fetch(batch=c.prefetch, timeout=0.5)
                except TimeoutError:  # nothing to fetch (nats.errors.TimeoutError is one too)
                    continue
                if batch:  # each message says how many the consumer has not been delivered yet
                    self.intake.metrics.broker_lag.labels(c.name).set(batch[-1].metadata.num_pending)
                await self._settle(batch)
        finally:
            await client.close()

    async def _connection_error(self, exc: Exception) -> None:
        """Instead of nats-py's own traceback logging: named by type, as every broker log line."""
        log.warning("broker.connection_error", source=self.config.name, error=type(exc).__name__)

    async def _disconnected(self) -> None:
        log.warning("broker.disconnected", source=self.config.name)

    async def _reconnected(self) -> None:
        log.info("broker.reconnected", source=self.config.name)

    async def _settle(self, batch: list[Msg]) -> None:
        """Hand the whole batch to the committer in order, then ack each message once stored."""
        waits: list[tuple[Msg, Coroutine[Any, Any, str]]] = []
        for n, msg in enumerate(batch):
            try:
                waits.append((msg, self.intake.submit(delivery_of(msg))))
            except NotYet:
                await msg.nak()
            except Exception:  # the committer refused (closed): nothing of this batch is acked
                for _msg, settled in waits:
                    settled.close()
                for unsent in batch[n:]:
                    await unsent.nak(delay=self.config.retry_seconds)
                raise
        failure: Exception | None = None
        for msg, settled in waits:
            try:
                await settled
            except Exception as exc:  # not stored: handed back at once, and the consumer restarts
                failure = failure or exc
                await msg.nak(delay=self.config.retry_seconds)
                continue
            await msg.ack()
            self.intake.acked()
        if failure is not None:
            raise failure


async def waiting(url: str, config: BrokerSource) -> int:
    """Messages in the stream the durable consumer has not been delivered yet (before its first
    start, when there is no consumer yet: every message in the stream)."""
    client = await nats.connect(url, connect_timeout=10, max_reconnect_attempts=0, allow_reconnect=False)
    try:
        assert config.stream is not None
        js = client.jetstream()
        try:
            info = await js.consumer_info(config.stream, config.consumer)
        except nats.js.errors.NotFoundError:
            return int((await js.stream_info(config.stream)).state.messages)
        return int(info.num_pending or 0)
    finally:
        await client.close()
