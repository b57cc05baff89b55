"""The RabbitMQ source: an existing durable queue, consumed with manual acknowledgements.

At most ``prefetch`` deliveries are unacknowledged at a time (basic.qos); each is acked only after
its messages are committed (broker.py says why that is enough for exactly once). How often a
message has been delivered comes from ``x-delivery-count`` on quorum queues; on a classic queue
only the ``redelivered`` flag exists, so this process counts redeliveries itself, and a splitter
bug that kills the process is noticed once per restart (use quorum queues for poison control).
The asyncio loop runs in a thread of its own (``run``), as the staging pollers do. When the broker
restarts, the connection closes: ``consume`` raises and ``keep_consuming`` connects again every
``retry_seconds`` until the broker takes connections; deliveries stored but not yet acked when
the connection closed are delivered again and recorded as duplicates.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from revbridge.settings import BrokerSource
from revbridge.sources.broker import BrokerIntake, Delivery, NotYet, keep_consuming, log, pause

LAG_TICKS = 25  # the queue's depth is read every 25 pauses of 0.2 s (5 s) for the lag gauge


def deliveries_of(message: AbstractIncomingMessage, counted: dict[str, int], key: str) -> int:
    """1 on the first delivery; quorum queues say how many came before (``x-delivery-count``)."""
    header = (message.headers or {}).get("x-delivery-count")
    if isinstance(header, int):
        return header + 1
    if not message.redelivered:
        return 1
    counted[key] = counted.get(key, 1) + 1
    return counted[key]


@dataclass
class RabbitConsumer:
    config: BrokerSource
    intake: BrokerIntake
    url: str  # with the password in it (never logged)
    _pending: set[asyncio.Future[None]] = field(default_factory=set)
    _counted: dict[str, int] = field(default_factory=dict)  # classic queues: redeliveries seen
    _failed: bool = False

    def run(self, stop: threading.Event) -> None:
        asyncio.run(keep_consuming(stop, self.config, self.consume))

    async def consume(self, stop: threading.Event) -> None:
        """Consume until ``stop`` or until the connection or channel closes (then raise)."""
        self._failed = False
        connection = await aio_pika.connect(self.url, timeout=10)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.config.prefetch)
            assert self.config.queue is not None  # the settings validator requires it
            queue = await channel.get_queue(self.config.queue, ensure=True)
            await queue.consume(self._on_message, no_ack=False)
            log.info("broker.consuming", source=self.config.name, queue=self.config.queue)
            ticks = 0
            while not stop.is_set():
                if connection.is_closed or channel.is_closed:
                    raise ConnectionError("the RabbitMQ connection closed")
                if self._failed:  # closing the connection hands every unacked delivery back
                    raise ConnectionError("a message could not be stored")
                if ticks % LAG_TICKS == 0:
                    await self._measure_lag(channel)
                ticks += 1
                await pause(stop, 0.2)
            if self._pending:  # stopping: let what is committing now be acked
                await asyncio.wait(self._pending, timeout=10)
        finally:
            await connection.close()

    async def _measure_lag(self, channel: aio_pika.abc.AbstractChannel) -> None:
        """Messages ready in the queue, not yet delivered (a passive declare: no change to it)."""
        assert self.config.queue is not None
        declared = await channel.declare_queue(self.config.queue, passive=True)
        ready = int(declared.declaration_result.message_count or 0)
        self.intake.metrics.broker_lag.labels(self.config.name).set(ready)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        first = Delivery(body=message.body, message_id=message.message_id, deliveries=1)
        key = self.intake.dedupe_key(first)
        delivery = replace(first, deliveries=deliveries_of(message, self._counted, key))
        try:
            settled = self.intake.submit(delivery)
        except NotYet:  # splitting is pure: trying again at once is as good as later
            await message.nack(requeue=True)
            return
        except Exception as exc:  # the committer refused (closed): ``consume`` reconnects, no ack
            log.warning("broker.store_failed", source=self.config.name, error=type(exc).__name__)
            self._failed = True
            return
        task = asyncio.ensure_future(self._ack_when_stored(message, settled, key))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _ack_when_stored(
        self, message: AbstractIncomingMessage, settled: Coroutine[Any, Any, str], key: str
    ) -> None:
        try:
            await settled
        except Exception as exc:  # not stored: never acked; ``consume`` closes the connection
            log.warning("broker.store_failed", source=self.config.name, error=type(exc).__name__)
            self._failed = True
            return
        try:
            await message.ack()
        except Exception as exc:  # the channel closed under it (a broker restart): not acked, so
            # the broker delivers it again and dedupe makes it a duplicate; ``consume`` reconnects
            log.debug("broker.ack_lost", source=self.config.name, error=type(exc).__name__)
            return
        self._counted.pop(key, None)
        self.intake.acked()


async def waiting(url: str, config: BrokerSource) -> int:
    """Messages ready in the queue (not yet delivered to a consumer)."""
    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel()
        assert config.queue is not None
        declared = await channel.declare_queue(config.queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()
