"""Intake from the broker and table sources (issue 19), the rows bench/intake.py prints after
store.accept()'s: revbridge's RabbitMQ and NATS JetStream consumers and its staging-table poller,
each timed storing every message of a fresh queue, stream or table, against a floor measured in
the same run on an identical fresh one.

The floors do the least a consumer of the same source can do: a bare aio-pika consumer with the
same prefetch, or a bare nats-py pull consumer with the same max_ack_pending and batch, that only
acks each message; a bare loop that reads the table in the same batch size by key and only
advances an in-memory high-water mark (key mode) or sets the rows' status to done (status mode).
revbridge's side is the object `revbridge serve` runs (``Runtime.broker_consumer`` /
``Runtime.staging_poller``) with the settings' defaults, storing into a fresh SQLite store (WAL,
synchronous=FULL): each message is durable before its ack, each batch's rows before their mark.
No workers run: this is intake, as in the accept() rows; parsing is bench/hl7v2_parse.py's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import aio_pika
import brokers
import nats
import stagingdb
from aio_pika.abc import AbstractIncomingMessage
from nats.js.api import AckPolicy, ConsumerConfig
from pgdb import PG_ADMIN_URL
from sqlalchemy import MetaData, create_engine, select, update
from sqlalchemy.engine import make_url

from revbridge.bootstrap import Runtime, build
from revbridge.settings import BrokerSource, Settings, StagingSource

SOURCES = ("rabbitmq", "nats", "postgresql", "mariadb")
PASSWORD_ENV = "REVBRIDGE_BENCH_BROKER_PASSWORD"
PREFETCH = int(BrokerSource.model_fields["prefetch"].default)
BATCH = int(StagingSource.model_fields["batch_size"].default)
TIMEOUT = 600.0  # seconds: a source that stalls fails the run rather than hanging it


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: str
    mode: str
    n: int
    rate: float  # revbridge, messages (rows) per second
    floor: float  # the bare consumer or loop, per second

    @property
    def ratio(self) -> float:
        return self.rate / self.floor

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 3)}


def address(source: str) -> tuple[str, int]:
    """Where the source's server listens (the same URLs, and overrides, the tests use)."""
    if source in ("rabbitmq", "nats"):
        parts = urlsplit(brokers.RABBIT if source == "rabbitmq" else brokers.NATS)
        return parts.hostname or "127.0.0.1", parts.port or (5672 if source == "rabbitmq" else 4222)
    url = make_url(PG_ADMIN_URL if source == "postgresql" else stagingdb.MARIADB_ADMIN_URL)
    return url.host or "127.0.0.1", url.port or (5432 if source == "postgresql" else 3306)


def unreachable(source: str) -> str | None:
    """None when the source's server accepts a connection, else why not (one line)."""
    host, port = address(source)
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"{source}: skipped, no server at {host}:{port} ({type(exc).__name__})"
    return None


def runtime(home: Path) -> Runtime:
    """A fresh revbridge store in ``home``, built as the CLI builds it (every format registered)."""
    home.mkdir(parents=True, exist_ok=True)
    return build(Settings(home=home, db=f"sqlite:///{home / 'rb.db'}"), upgrade=True)


def sample(rt: Runtime, metric: str, labels: dict[str, str]) -> int:
    return int(rt.metrics.registry.get_sample_value(metric, labels) or 0)


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not finish within {TIMEOUT:.0f} s")
        time.sleep(0.005)


# --- brokers ---------------------------------------------------------------------------------


def broker_config(kind: str, place: str) -> BrokerSource:
    """The settings' defaults (prefetch, format auto), pointed at ``place``."""
    parts = urlsplit(brokers.RABBIT)
    os.environ[PASSWORD_ENV] = parts.password or ""
    if kind == "rabbitmq":
        netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
        url = parts._replace(netloc=netloc).geturl()
        return BrokerSource(name="bench", broker="rabbitmq", url=url, password_env=PASSWORD_ENV, queue=place)
    return BrokerSource(name="bench", broker="nats", url=brokers.NATS, stream=place)


def filled(kind: str, payload: str, n: int, tag: str) -> str:
    """A fresh quorum queue or stream holding ``n`` distinct HL7 v2 messages, each with an id."""
    place = brokers.create(kind)
    brokers.publish(kind, place, [(payload.format(n=f"{tag}{i}").encode(), f"{tag}{i}") for i in range(n)])
    return place


def revbridge_broker(kind: str, place: str, n: int, home: Path) -> float:
    """revbridge's consumer (run in its thread, as `revbridge serve` runs it) until all ``n`` are
    stored and acked; msg/s from its start to the last ack."""
    rt = runtime(home)
    config = broker_config(kind, place)
    labels = {"source": config.name}
    consumer = rt.broker_consumer(config)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    try:
        start = time.perf_counter()
        thread.start()
        wait_until(
            lambda: sample(rt, "revbridge_broker_messages_total", {**labels, "outcome": "acked"}) >= n, kind
        )
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        thread.join(timeout=30)
        stored = sample(rt, "revbridge_broker_messages_total", {**labels, "outcome": "stored"})
        rt.close()
    if stored != n:
        raise RuntimeError(f"{kind}: {stored} of {n} messages stored as new")
    return n / elapsed


async def bare_rabbit(queue_name: str, n: int) -> float:
    """The floor: connect, same prefetch, ack each delivery and nothing else."""
    start = time.perf_counter()
    connection = await aio_pika.connect(brokers.RABBIT, timeout=10)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.get_queue(queue_name, ensure=True)
        done = asyncio.Event()
        acked = 0

        async def on_message(message: AbstractIncomingMessage) -> None:
            nonlocal acked
            await message.ack()
            acked += 1
            if acked >= n:
                done.set()

        await queue.consume(on_message, no_ack=False)
        await asyncio.wait_for(done.wait(), TIMEOUT)
        elapsed = time.perf_counter() - start
    finally:
        await connection.close()
    return n / elapsed


async def bare_nats(stream: str, n: int) -> float:
    """The floor: a durable pull consumer like revbridge's (explicit acks, max_ack_pending and
    fetch batch = prefetch) that acks each message and nothing else."""
    start = time.perf_counter()
    client = await nats.connect(brokers.NATS, connect_timeout=10)
    try:
        config = ConsumerConfig(
            durable_name="floor", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=PREFETCH, ack_wait=30
        )
        subscription = await client.jetstream().pull_subscribe(
            "", durable="floor", stream=stream, config=config
        )
        acked = 0
        deadline = time.monotonic() + TIMEOUT
        while acked < n and time.monotonic() < deadline:
            try:
                batch = await subscription.fetch(batch=PREFETCH, timeout=0.5)
            except TimeoutError:
                continue
            for msg in batch:
                await msg.ack()
                acked += 1
        elapsed = time.perf_counter() - start
    finally:
        await client.close()
    if acked < n:
        raise RuntimeError(f"nats floor: {acked} of {n} acked within {TIMEOUT:.0f} s")
    return n / elapsed


def broker_row(kind: str, payload: str, n: int, home: Path) -> SourceRow:
    """Floor and revbridge each on a fresh, identically filled queue or stream."""
    places = [filled(kind, payload, n, "f"), filled(kind, payload, n, "r")]
    try:
        bare = bare_rabbit if kind == "rabbitmq" else bare_nats
        floor = asyncio.run(bare(places[0], n))
        rate = revbridge_broker(kind, places[1], n, home / kind)
    finally:
        for place in places:
            brokers.delete(kind, place)
    mode = f"prefetch {PREFETCH}" if kind == "rabbitmq" else f"max_ack_pending {PREFETCH}"
    return SourceRow(kind, mode, n, rate, floor)


# --- staging tables --------------------------------------------------------------------------


def filled_table(backend: str, n: int) -> str:
    """A fresh database on ``backend`` whose staging table holds ``n`` ready rows (charges,
    payments and adjustments in turn)."""
    url = stagingdb.create_source(backend)
    kinds = ("CHG", "PAY", "ADJ")
    stagingdb.insert(url, [stagingdb.row(i, kinds[i % 3]) for i in range(n)])
    return url


def revbridge_table(url: str, status: bool, n: int, home: Path) -> float:
    """revbridge's poller, poll after poll (as its ``run`` loops while batches come back full),
    until every row is stored with its mark (and, in status mode, marked done)."""
    overrides: dict[str, Any] = {"name": "bench", "batch_size": BATCH}
    if status:
        overrides["status_column"] = "state"
    config = StagingSource.model_validate(stagingdb.source_settings(url, **overrides))
    rt = runtime(home)
    poller = rt.staging_poller(config)
    taken = 0
    try:
        start = time.perf_counter()
        while taken < n:
            handled = poller.poll_once()
            if handled == 0:
                raise RuntimeError(f"the poller stopped at {taken} of {n} rows")
            taken += handled
        elapsed = time.perf_counter() - start
        stored = sample(rt, "revbridge_staging_rows_total", {"source": "bench", "outcome": "stored"})
    finally:
        poller.close()
        rt.close()
    if stored != n:
        raise RuntimeError(f"staging: {stored} of {n} rows stored as new")
    return n / elapsed


def bare_table(url: str, status: bool, n: int) -> float:
    """The floor: the same columns, batch size and key order, then only an in-memory high-water
    mark (key mode) or an UPDATE of the batch's status to done (status mode)."""
    table = stagingdb.staging_table(MetaData())
    columns = [c for c in table.c if c.name != "patient_name"]  # what the mapping reads
    key, state = table.c.row_id, table.c.state
    engine = create_engine(url, pool_size=2, max_overflow=0)
    seen, mark = 0, None
    try:
        start = time.perf_counter()
        while seen < n:
            query = select(*columns).order_by(key).limit(BATCH)
            query = query.where(state == "ready") if status else query
            query = query.where(key > mark) if mark is not None and not status else query
            with engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                raise RuntimeError(f"the floor stopped at {seen} of {n} rows")
            keys = [r.row_id for r in rows]
            if status:
                with engine.begin() as conn:
                    done = update(table).where(key.in_(keys), state == "ready").values(state="done")
                    conn.execute(done)
            mark, seen = keys[-1], seen + len(rows)
        elapsed = time.perf_counter() - start
    finally:
        engine.dispose()
    return n / elapsed


def table_rows(backend: str, n: int, home: Path) -> list[SourceRow]:
    """Key mode and status mode, each with its floor, every run on fresh source databases."""
    found = []
    for status in (False, True):
        urls = [filled_table(backend, n), filled_table(backend, n)]
        try:
            floor = bare_table(urls[0], status, n)
            rate = revbridge_table(urls[1], status, n, home / f"{backend}-{status}")
        finally:
            for url in urls:
                stagingdb.drop_source(backend, url)
        mode = f"{'status' if status else 'key'}, batch {BATCH}"
        found.append(SourceRow(backend, mode, n, rate, floor))
    return found


def measure(sources: list[str], payload: str, n: int) -> tuple[list[SourceRow], list[str]]:
    """The rows of every reachable source asked for, and one line per source skipped."""
    rows: list[SourceRow] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            why = unreachable(source)
            if why is not None:
                skipped.append(why)
                continue
            if source in ("rabbitmq", "nats"):
                rows.append(broker_row(source, payload, n, Path(tmp)))
            else:
                rows.extend(table_rows(source, n, Path(tmp)))
    return rows, skipped


def print_rows(rows: list[SourceRow], skipped: list[str]) -> None:
    print("\nintake from sources: revbridge's consumer or poller into a SQLite store, vs a bare client")
    print(f"{'source':<12}{'mode':<22}{'n':>7}{'revbridge /s':>14}{'floor /s':>12}{'ratio':>8}")
    for r in rows:
        print(f"{r.source:<12}{r.mode:<22}{r.n:>7}{r.rate:>14,.0f}{r.floor:>12,.0f}{r.ratio:>8.2f}")
    for line in skipped:
        print(line)
