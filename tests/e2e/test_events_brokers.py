"""Events out to the real brokers during a small demo day (issue 19): a consumer subscribed to
RabbitMQ (a queue bound to the topic exchange) or to NATS JetStream (the stream's subjects) while
the day is processed counts one ``journal.posted`` per posted journal (a re-send would carry the
same event id), sees the work items the day's faults open and the messages they except, each a
structured CloudEvent; and no published byte holds the day's PHI: no patient or street name, no
MRN, no account (visit) number.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path

import aio_pika
import nats
import pytest
from event_consumers import check_cloudevent
from runtime import build_runtime

from revbridge.demo import Kind, Traffic, generate
from revbridge.demo.people import CITY, FAMILY, GIVEN, STREETS
from revbridge.store import announcements, journals, workitems

SOURCE = "/revbridge/test-brokers"
RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
NATS = "nats://127.0.0.1:4222"


def _phi(traffic: Traffic) -> set[str]:
    """The day's PHI from its HL7 messages (PID-3 MRN, PID-7 birth date, PID-18 account number,
    IN1-36 member id) and every demo name, street and the city."""
    found = {*FAMILY, *STREETS, CITY, *(g for g in GIVEN if len(g) > 4)}
    for message in traffic.messages:
        for pid in re.findall(rb"\rPID\|[^\r]*", message.payload):
            fields = pid.decode().split("|")
            found.update((fields[3].split("^")[0], fields[7] if len(fields) > 7 else ""))
            if len(fields) > 18 and fields[18]:
                found.add(fields[18])
        for in1 in re.findall(rb"\rIN1\|[^\r]*", message.payload):
            fields = in1.decode().split("|")
            if len(fields) > 36:
                found.add(fields[36])
    return {value for value in found if value}


def _run_day(tmp_path: Path, sink: str, **settings: object) -> tuple[Traffic, set[str], int, int]:
    """Process a small demo day with the publisher running; (traffic, posted journal ids, work
    items opened, messages excepted) once every announcement is sent."""
    traffic = generate(start=date(2025, 3, 3), seed=7, scale=0.03)
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'rb.db'}",
        tmp_path,
        posting=True,
        events_sink=sink,
        events_source=SOURCE,
        events_poll_seconds=0.05,
        events_retry_base_seconds=0.1,
        **settings,
    )
    try:
        publisher = rt.publisher()
        assert publisher is not None
        stop = threading.Event()
        thread = threading.Thread(target=publisher.run, args=(stop,), daemon=True)
        thread.start()
        for message in traffic.messages:
            rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
        rt.settle(close_windows=True)
        deadline = time.monotonic() + 30
        while announcements.backlog(rt.db).unsent:
            assert time.monotonic() < deadline, "the publisher did not catch up"
            time.sleep(0.05)
        stop.set()
        thread.join(10)
        posted = {s.journal.id for s in journals.list_journals(rt.db, limit=100_000) if s.status == "posted"}
        items = len(workitems.list_items(rt.db, limit=100_000))
        excepted = rt.status()["messages"].get("excepted", 0)
    finally:
        rt.close()
    assert posted and items and excepted
    assert any(m.kind is Kind.REMITTANCE_835 for m in traffic.messages)
    return traffic, posted, items, excepted


def _check(bodies: list[bytes], traffic: Traffic, posted: set[str], items: int, excepted: int) -> None:
    events = [json.loads(body) for body in bodies]
    for event in events:
        check_cloudevent(event, source=SOURCE)
    ids_by_journal: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["type"] == "journal.posted":
            ids_by_journal[event["data"]["journal_id"]].add(event["id"])
    assert set(ids_by_journal) == posted  # one journal.posted per posted journal ...
    assert all(len(ids) == 1 for ids in ids_by_journal.values())  # ... any re-send under the same id
    opened = {e["data"]["work_item_id"] for e in events if e["type"] == "workitem.opened"}
    assert len(opened) == items
    assert len({e["id"] for e in events if e["type"] == "message.excepted"}) == excepted
    text = b"\n".join(bodies).decode()
    leaked = sorted(value for value in _phi(traffic) if value in text)
    assert leaked == [], leaked


def test_a_rabbitmq_consumer_counts_one_journal_posted_per_posted_journal(tmp_path: Path) -> None:
    exchange = f"revbridge.events.test.{uuid.uuid4().hex[:8]}"
    bodies: list[bytes] = []

    async def consume(ready: threading.Event, done: threading.Event) -> None:
        connection = await aio_pika.connect_robust(RABBIT)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(declared, routing_key="#")
            ready.set()
            while not done.is_set() or (await queue.declare()).message_count:
                message = await queue.get(fail=False, timeout=5)
                if message is None:
                    await asyncio.sleep(0.05)
                    continue
                assert message.routing_key == json.loads(message.body)["type"]
                bodies.append(message.body)
                await message.ack()
            await declared.delete()

    ready, done = threading.Event(), threading.Event()
    consumer = threading.Thread(target=lambda: asyncio.run(consume(ready, done)), daemon=True)
    consumer.start()
    assert ready.wait(10), "RabbitMQ at 127.0.0.1:5672 is not usable"
    try:
        traffic, posted, items, excepted = _run_day(
            tmp_path, "rabbitmq", events_url=RABBIT, events_exchange=exchange
        )
    finally:
        done.set()
        consumer.join(30)
    _check(bodies, traffic, posted, items, excepted)


def test_a_nats_jetstream_consumer_counts_one_journal_posted_per_posted_journal(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"REVBRIDGE_TEST_{tag}", f"revbridge.test.{tag}"
    traffic, posted, items, excepted = _run_day(
        tmp_path, "nats", events_url=NATS, events_stream=stream, events_subject_prefix=prefix
    )

    async def consume() -> list[bytes]:
        client = await nats.connect(NATS)
        try:
            js = client.jetstream(timeout=30)
            subscription = await js.pull_subscribe(f"{prefix}.>", stream=stream)
            found: list[bytes] = []
            while True:
                try:
                    batch = await subscription.fetch(200, timeout=1)
                except nats.errors.TimeoutError:
                    return found
                for message in batch:
                    assert message.subject == f"{prefix}.{json.loads(message.data)['type']}"
                    assert message.headers is not None
                    assert message.headers["Nats-Msg-Id"] == json.loads(message.data)["id"]
                    found.append(message.data)
                    await message.ack()
        finally:
            await client.jetstream(timeout=30).delete_stream(stream)
            await client.close()

    _check(asyncio.run(consume()), traffic, posted, items, excepted)


@pytest.mark.parametrize("sink", ["rabbitmq", "nats"])
def test_an_unreachable_broker_is_retried_not_lost(tmp_path: Path, sink: str) -> None:
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'rb.db'}",
        tmp_path,
        events_sink=sink,
        events_url="amqp://guest:guest@127.0.0.1:1/" if sink == "rabbitmq" else "nats://127.0.0.1:1",
        events_timeout_seconds=1,
    )
    try:
        with rt.db.transaction() as tx:
            announcements.record(tx, kind="journal.posted", subject="J1", data={}, now=rt.clock.now())
        publisher = rt.publisher()
        assert publisher is not None
        assert asyncio.run(publisher.publish()) == 0
        (waiting,) = announcements.listed(rt.db)
        assert waiting.attempts == 1
        assert announcements.backlog(rt.db).unsent == 1
        assert rt.metrics.events_failed.labels(sink)._value.get() == 1
    finally:
        rt.close()
