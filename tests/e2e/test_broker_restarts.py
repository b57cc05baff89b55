"""The broker sources when the broker itself restarts: 10,000 messages through a SIGKILL of the
consumer AND broker restarts, each stored exactly once and every one acknowledged; and `revbridge
serve` consuming on after a restart without being restarted itself.

RabbitMQ is the shared node (its application stopped and started: broker_restarts.py); NATS is a
server of the test's own (natsd.py), stopped with SIGTERM or SIGKILL and started again on the
same port and file store. Acks only after the commit are proven by test_broker_sources.py's
``broker.after_commit`` crash test; here a broker that goes away between a commit and its ack
must lead to a redelivery that dedupe absorbs, never to a loss.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brokers
import pytest
from broker_procs import firsts, keys, spawn
from broker_restarts import RabbitNode, Restartable, restarted
from natsd import start_natsd
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.settings import BrokerSource
from revbridge.store import queue

TOTAL = 10_000
# the NATS client reconnects by itself 3 times, 2 s apart; a longer outage closes its connection,
# and revbridge's consumer must connect again (sources/broker.py keep_consuming)
OUTAGE = 8


@pytest.fixture(params=brokers.KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RB_TEST_BROKER_PASSWORD", "guest")
    return str(request.param)


@pytest.fixture
def server(kind: str, tmp_path: Path) -> Iterator[Restartable]:
    """The broker the test may restart: the shared RabbitMQ node, or a NATS server of its own."""
    if kind == "rabbitmq":
        yield RabbitNode()
        return
    natsd = start_natsd(tmp_path / "natsd")
    try:
        yield natsd
    finally:
        natsd.stop()


@pytest.fixture
def place(kind: str, server: Restartable) -> Iterator[str]:
    name = brokers.create(kind, url=server.url)
    yield name
    brokers.delete(kind, name, url=server.url)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path)
    yield runtime
    runtime.close()


def _config(kind: str, place: str, server: Restartable, **overrides: Any) -> BrokerSource:
    block = brokers.source(kind, place, **overrides)
    if kind == "nats":
        block["url"] = server.url
    return BrokerSource.model_validate(block)


def _wait(until: Callable[[], bool], seconds: float, pause: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
    return True


def _expected(kind: str, place: str, prefix: str, count: int) -> set[str]:
    address = f"amqp:{place}" if kind == "rabbitmq" else f"nats:{place}"
    return {f"{address}:{prefix}{n}" for n in range(count)}


@pytest.mark.slow
def test_10000_messages_through_a_consumer_sigkill_and_broker_restarts_are_each_stored_once(
    kind: str, server: Restartable, place: str, rt: Runtime, tmp_path: Path
) -> None:
    brokers.publish(kind, place, [(brokers.adt(n), f"k{n}") for n in range(TOTAL)], url=server.url)
    config = _config(kind, place, server, prefetch=500)
    first = spawn(rt.settings.db_url, tmp_path, config)
    assert _wait(lambda: len(keys(rt)) >= 3000, 60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = len(keys(rt))
    assert 3000 <= killed_at < TOTAL, killed_at  # really mid-stream
    with restarted(server):  # revbridge is down: the broker restarts with what was not acked
        pass
    assert len(keys(rt)) == killed_at
    logs = tmp_path / "second.log"
    with logs.open("w") as stderr:
        second = spawn(rt.settings.db_url, tmp_path, config, stderr=stderr)
    try:
        assert _wait(lambda: len(keys(rt)) >= killed_at + 500, 60)
        with restarted(server, kill=True):  # now under a connected consumer, mid-batch
            restarted_at = len(keys(rt))
        assert restarted_at < TOTAL, restarted_at  # the consumer still had messages to take
        assert _wait(lambda: len(keys(rt)) == TOTAL, 120)  # the same process reconnected
        # every delivery acknowledged while the consumer is still connected (not handed back
        # by its leaving): nothing waits, nothing is delivered and unacknowledged
        consumer = config.consumer
        assert _wait(lambda: brokers.unsettled(kind, place, server.url, consumer) == (0, 0), 60, 1)
        assert second.poll() is None
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0
    assert keys(rt) == _expected(kind, place, "k", TOTAL)
    assert firsts(rt) == TOTAL  # every message stored once; repeats only as duplicates
    assert brokers.unsettled(kind, place, server.url, config.consumer) == (0, 0)
    logged = logs.read_text()
    # a lost connection is one line naming the error's type: no asyncio complaint of an ack
    # task that failed on the closed channel, no client library traceback (nats-py's own)
    assert "Task exception was never retrieved" not in logged and "nats: encountered" not in logged


def test_serve_goes_on_consuming_after_the_broker_restarts(
    kind: str, server: Restartable, place: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from revbridge.service.runner import Service

    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, broker_sources=[_config(kind, place, server)]
    )
    service = Service(runtime, http=False, mllp=False, directory=False, post=False, workers=1)
    service.start()
    try:
        brokers.publish(kind, place, [(brokers.adt(n), f"s{n}") for n in range(10)], url=server.url)
        assert _wait(lambda: queue.counts(runtime.db)["processed"] == 10, 60)
        with restarted(server):  # NATS: down longer than its client's own reconnect attempts
            time.sleep(OUTAGE if kind == "nats" else 0)
        brokers.publish(kind, place, [(brokers.adt(n), f"s{n}") for n in range(10, 20)], url=server.url)
        assert _wait(lambda: queue.counts(runtime.db)["processed"] == 20, 60)
        assert keys(runtime) == _expected(kind, place, "s", 20) and firsts(runtime) == 20
    finally:
        service.stop()
        runtime.close()
    assert not any(t.is_alive() for t in service._threads)
    logged = capsys.readouterr().err
    assert "broker.consume_failed" in logged  # it noticed the broker had gone
    assert logged.count("broker.consuming") >= 2  # and connected again by itself
