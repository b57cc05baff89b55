"""RabbitMQ and NATS JetStream sources against the REAL brokers at 127.0.0.1: messages in are
stored exactly once and processed; a crash between commit and ack redelivers and dedupe absorbs
it; bytes of no known format are stored, excepted with a located problem and acked while the
next messages flow. (10,000 messages through a SIGKILL and broker restarts:
test_broker_restarts.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brokers
import pytest
from broker_procs import PASSWORD, firsts, keys, spawn
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.settings import BrokerSource
from revbridge.store import queue, workitems


@pytest.fixture(params=brokers.KINDS)
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RB_TEST_BROKER_PASSWORD", "guest")
    return str(request.param)


@pytest.fixture
def place(kind: str) -> Iterator[str]:
    """A fresh queue or stream, deleted afterwards."""
    name = brokers.create(kind)
    yield name
    brokers.delete(kind, name)


@pytest.fixture
def rt(kind: str, place: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose settings name the queue or stream (so `status` asks the broker about it)."""
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, broker_sources=[_config(kind, place)]
    )
    yield runtime
    runtime.close()


def _config(kind: str, place: str, **overrides: Any) -> BrokerSource:
    return BrokerSource.model_validate(brokers.source(kind, place, **overrides))


def _consuming(rt: Runtime, config: BrokerSource, until: Callable[[], bool], seconds: float = 60) -> None:
    """Run the consumer in a thread (as `revbridge serve` does) until ``until()`` holds."""
    stop = threading.Event()
    thread = threading.Thread(target=rt.broker_consumer(config).run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()


def _counts(rt: Runtime) -> dict[str, int]:
    return queue.counts(rt.db)


def _metric(rt: Runtime, outcome: str) -> float | None:
    return rt.metrics.registry.get_sample_value(
        "revbridge_broker_messages_total", {"source": "feed", "outcome": outcome}
    )


def _prefix(kind: str, place: str) -> str:
    return f"amqp:{place}" if kind == "rabbitmq" else f"nats:{place}"


def test_messages_are_stored_once_processed_and_acked(kind: str, place: str, rt: Runtime) -> None:
    sent = [(brokers.adt(n), f"m-{n}") for n in range(20)]
    brokers.publish(kind, place, [*sent, sent[3]])  # the sender retried one: same id, same bytes
    # JetStream drops a repeated Nats-Msg-Id itself (its duplicate window); RabbitMQ delivers it
    repeats = 1 if kind == "rabbitmq" else 0
    _consuming(rt, _config(kind, place), lambda: _metric(rt, "acked") == 20 + repeats)
    assert firsts(rt) == 20 and _counts(rt)["duplicate"] == repeats
    assert keys(rt) == {f"{_prefix(kind, place)}:m-{n}" for n in range(20)}
    assert _metric(rt, "received") == 20 + repeats and _metric(rt, "stored") == 20
    assert _metric(rt, "duplicate") == (repeats or None)
    assert rt.broker_status()["feed"]["waiting"] == 0  # everything acked: nothing left to deliver
    rt.worker().drain()
    assert _counts(rt)["processed"] == 20


def test_a_crash_between_commit_and_ack_is_redelivered_and_absorbed(
    kind: str, place: str, rt: Runtime, tmp_path: Path
) -> None:
    brokers.publish(kind, place, [(brokers.adt(n), None) for n in range(5)])  # no ids: content hash
    config = _config(kind, place)
    crashing = spawn(rt.settings.db_url, tmp_path, config, REVBRIDGE_FAULTS="broker.after_commit=1")
    assert crashing.wait(timeout=60) == -signal.SIGKILL
    committed = firsts(rt)
    assert committed >= 1  # it died after a commit, before any ack
    _consuming(rt, config, lambda: firsts(rt) == 5 and _metric(rt, "acked") == 5)
    assert firsts(rt) == 5
    assert _counts(rt)["duplicate"] == committed  # each redelivery of a stored one: a duplicate
    assert _metric(rt, "duplicate") == committed
    if kind == "nats":  # aio-pika's publisher gives every AMQP message an id; NATS sent none here
        assert all(":sha256:" in key for key in keys(rt))


def test_a_poison_message_is_stored_excepted_and_acked_and_the_next_flow(
    kind: str, place: str, rt: Runtime
) -> None:
    garbage = b"\x00\x01 SENTINEL-NAME-ZZB not a billing message"
    brokers.publish(kind, place, [(brokers.adt(1), "a"), (garbage, "bad"), (brokers.adt(2), "b")])
    _consuming(rt, _config(kind, place), lambda: _metric(rt, "acked") == 3)
    assert _metric(rt, "poison") == 1 and _metric(rt, "stored") == 2
    assert rt.broker_status()["feed"]["waiting"] == 0
    rt.worker().drain()
    counts = _counts(rt)
    assert (counts["processed"], counts["excepted"]) == (2, 1)
    (item,) = workitems.list_items(rt.db)
    assert item.code == "UNSUPPORTED_FORMAT" and item.locator == "message[1]"
    assert "SENTINEL" not in item.message


def test_a_message_of_the_wrong_configured_format_is_excepted_where_it_breaks(
    kind: str, place: str, rt: Runtime
) -> None:
    brokers.publish(kind, place, [(b'{"resourceType": "Patient"}', "j"), (brokers.adt(3), "h")])
    _consuming(rt, _config(kind, place, format="hl7v2"), lambda: _metric(rt, "acked") == 2)
    assert _metric(rt, "poison") == 1
    rt.worker().drain()
    (item,) = workitems.list_items(rt.db)
    assert (item.code, item.locator) == ("MALFORMED_MESSAGE", "segment[1]"), item


class _BrokenSplitter:
    """A format whose splitter raises (a bug in it): the delivery goes back to the broker until
    it has been delivered ``max_deliveries`` times, then it is kept as poison."""

    name = "hl7v2"

    def detect(self, head: bytes) -> bool:
        return True

    def split(self, data: bytes) -> Iterator[Any]:
        raise RuntimeError("a splitter bug")

    def to_events(self, payload: bytes, ctx: Any) -> Any:
        raise AssertionError("never parsed")


def test_a_message_whose_splitting_fails_is_kept_as_poison_after_max_deliveries(
    kind: str, place: str, tmp_path: Path
) -> None:
    brokers.publish(kind, place, [(brokers.adt(7), "p")])
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'bug.db'}", tmp_path, formats={"hl7v2": _BrokenSplitter()}
    )
    try:
        config = _config(kind, place, max_deliveries=3)
        _consuming(runtime, config, lambda: _metric(runtime, "acked") == 1)
        assert (_metric(runtime, "received"), _metric(runtime, "poison")) == (3, 1)  # tried 3 times
        assert _counts(runtime)["pending"] == 1 and keys(runtime) == {f"{_prefix(kind, place)}:p"}
    finally:
        runtime.close()


def test_on_a_classic_queue_the_consumer_counts_redeliveries_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RB_TEST_BROKER_PASSWORD", "guest")
    place = brokers.create("rabbitmq", classic=True)  # no x-delivery-count: only `redelivered`
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'bug.db'}", tmp_path, formats={"hl7v2": _BrokenSplitter()}
    )
    try:
        brokers.publish("rabbitmq", place, [(brokers.adt(8), "c")])
        _consuming(
            runtime, _config("rabbitmq", place, max_deliveries=4), lambda: _metric(runtime, "acked") == 1
        )
        assert (_metric(runtime, "received"), _metric(runtime, "poison")) == (4, 1)
    finally:
        runtime.close()
        brokers.delete("rabbitmq", place)


def test_serve_consumes_the_configured_sources_until_the_messages_are_processed(
    kind: str, place: str, tmp_path: Path
) -> None:
    from revbridge.service.runner import Service

    brokers.publish(kind, place, [(brokers.adt(n), f"s{n}") for n in range(30)])
    runtime = build_runtime(
        f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, broker_sources=[_config(kind, place)]
    )
    service = Service(runtime, http=False, mllp=False, directory=False, post=False, workers=1)
    service.start()
    try:
        deadline = time.monotonic() + 60
        while _counts(runtime)["processed"] < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _counts(runtime)["processed"] == 30
    finally:
        service.stop()
        runtime.close()
    assert not any(t.is_alive() for t in service._threads)  # the consumer's loop ended with stop


def test_status_shows_each_source_and_the_messages_waiting(kind: str, place: str, tmp_path: Path) -> None:
    import json

    import yaml

    brokers.publish(kind, place, [(brokers.adt(n), f"w{n}") for n in range(4)])
    gone = _config(
        kind,
        place,
        name="gone",
        url="amqp://guest@127.0.0.1:1/" if kind == "rabbitmq" else "nats://127.0.0.1:1",
    )
    settings = tmp_path / "settings.yaml"
    blocks = [_config(kind, place).model_dump(mode="json"), gone.model_dump(mode="json")]
    settings.write_text(yaml.safe_dump({"broker_sources": blocks}), encoding="utf-8")
    args = [sys.executable, "-m", "revbridge", "status", "--db", f"sqlite:///{tmp_path / 's.db'}"]
    args += ["--settings", str(settings)]
    env = {**os.environ, **PASSWORD, "REVBRIDGE_HOME": str(tmp_path), "COLUMNS": "200"}
    shown = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)["brokers"]
    assert report["feed"] == {"broker": kind, "queue": place, "waiting": 4}
    assert report["gone"]["waiting"] is None and report["gone"]["error"]
    text = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert f"broker feed: {kind} {place}, waiting 4" in text.stdout
    assert "broker gone:" in text.stdout and "waiting unknown (" in text.stdout


def _lag(rt: Runtime) -> float | None:
    return rt.metrics.registry.get_sample_value("revbridge_broker_lag_messages", {"source": "feed"})


def test_the_lag_gauge_shows_what_waits_in_the_broker_and_falls_to_zero(
    kind: str, place: str, rt: Runtime
) -> None:
    brokers.publish(kind, place, [(brokers.adt(n), f"l-{n}") for n in range(300)])
    seen: list[float] = []

    def done() -> bool:
        seen.append(_lag(rt) or 0.0)
        return _metric(rt, "acked") == 300 and _lag(rt) == 0

    # RabbitMQ's depth is read every 5 s; JetStream's comes with every fetched message
    _consuming(rt, _config(kind, place, prefetch=10), done, seconds=90)
    assert max(seen) >= 100, max(seen)  # at the start most of the 300 were still waiting
    assert _metric(rt, "acked") == 300 and _lag(rt) == 0
