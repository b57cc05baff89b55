"""Uniquely named RabbitMQ queues and NATS JetStream streams for the broker-source tests: made,
filled and deleted against the real brokers at 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Sequence
from typing import Any

import aio_pika
import nats
from nats.js.api import StorageType

RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
NATS = "nats://127.0.0.1:4222"
KINDS = ("rabbitmq", "nats")
RABBITMQCTL = "/usr/sbin/rabbitmqctl"

Message = tuple[bytes, str | None]  # body, broker message id (None: the sender gave none)


def create(kind: str, *, classic: bool = False, url: str | None = None) -> str:
    """A fresh quorum (or ``classic``) queue, or a stream (file-stored: it survives a restart of
    the server), on the shared broker or the one at ``url``; returns its name."""
    name = f"rbtest_{uuid.uuid4().hex[:12]}"

    async def make() -> None:
        if kind == "rabbitmq":
            connection = await aio_pika.connect(url or RABBIT)
            channel = await connection.channel()
            queue_type = "classic" if classic else "quorum"
            await channel.declare_queue(name, durable=True, arguments={"x-queue-type": queue_type})
            await connection.close()
        else:
            client = await nats.connect(url or NATS)
            await client.jetstream(timeout=30).add_stream(
                name=name, subjects=[f"{name}.>"], storage=StorageType.FILE
            )
            await client.close()

    asyncio.run(make())
    return name


def delete(kind: str, name: str, url: str | None = None) -> None:
    async def drop() -> None:
        if kind == "rabbitmq":
            connection = await aio_pika.connect(url or RABBIT)
            channel = await connection.channel()
            await channel.queue_delete(name)
            await connection.close()
        else:
            client = await nats.connect(url or NATS)
            await client.jetstream(timeout=30).delete_stream(name)
            await client.close()

    asyncio.run(drop())


def publish(kind: str, name: str, messages: Sequence[Message], url: str | None = None) -> None:
    """Publish with confirmation (publisher confirms / JetStream acks), many in flight at once."""

    async def send() -> None:
        if kind == "rabbitmq":
            connection = await aio_pika.connect(url or RABBIT)
            channel = await connection.channel()
            for start in range(0, len(messages), 500):
                await asyncio.gather(
                    *(
                        channel.default_exchange.publish(
                            aio_pika.Message(
                                body, message_id=mid, delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                            ),
                            routing_key=name,
                        )
                        for body, mid in messages[start : start + 500]
                    )
                )
            await connection.close()
        else:
            client = await nats.connect(url or NATS)
            js = client.jetstream(timeout=30)
            for start in range(0, len(messages), 500):
                await asyncio.gather(
                    *(
                        js.publish(f"{name}.in", body, headers={"Nats-Msg-Id": mid} if mid else None)
                        for body, mid in messages[start : start + 500]
                    )
                )
            await client.close()

    asyncio.run(send())


def unsettled(kind: str, name: str, url: str | None = None, consumer: str = "") -> tuple[int, int]:
    """What the broker still holds for the consumer: messages not yet delivered and messages
    delivered but not acknowledged. RabbitMQ's count of unacknowledged deliveries is not in
    AMQP (a passive declare tells only the ready ones): rabbitmqctl asks the shared node."""
    if kind == "rabbitmq":
        columns = ["name", "messages_ready", "messages_unacknowledged"]
        listed = subprocess.run(
            [RABBITMQCTL, "list_queues", "-q", "--no-table-headers", *columns],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        for line in listed.stdout.splitlines():
            queue, ready, unacked = line.split()
            if queue == name:
                return int(ready), int(unacked)
        raise LookupError(f"no queue {name}")

    async def ask() -> tuple[int, int]:
        client = await nats.connect(url or NATS)
        try:
            info = await client.jetstream(timeout=30).consumer_info(name, consumer)
            return int(info.num_pending or 0), int(info.num_ack_pending or 0)
        finally:
            await client.close()

    return asyncio.run(ask())


def source(kind: str, place: str, **overrides: Any) -> dict[str, Any]:
    """A broker_sources entry for the queue or stream ``place``."""
    block: dict[str, Any] = {"name": "feed", "broker": kind, "retry_seconds": 0.5}
    if kind == "rabbitmq":
        block.update(url="amqp://guest@127.0.0.1:5672/", password_env="RB_TEST_BROKER_PASSWORD", queue=place)
    else:
        block.update(url=NATS, stream=place, consumer=f"{place}_c", ack_wait_seconds=2)
    block.update(overrides)
    return block


def adt(n: int) -> bytes:
    """A small ADT^A04 (a registration: a context event, processed without master data)."""
    return (
        f"MSH|^~\\&|PAS|GEN|RB|GEN|20260101120000||ADT^A04|C{n:06d}|P|2.5\r"
        "EVN|A04|20260101120000\r"
        f"PID|||MRN{n:06d}||SENTINEL-NAME-ZZB^JANE||19800101|F\r"
        f"PV1||O|CARD^^^GEN||||||||||||||||V{n:06d}|||||||||||||||||||||||||20260101\r"
    ).encode()
