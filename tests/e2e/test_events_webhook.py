"""Events out to a webhook (issue 19): a real HTTP server on loopback receives the CloudEvents of
part of a demo day. Every delivery is signed (HMAC-SHA256 over the exact body, in
``X-Revbridge-Signature``); a 500 is retried with backoff until the endpoint takes the event; and a
publisher that stops, or dies holding a claim, is replaced by a new one that delivers everything
it left (the same ids), so nothing announced is lost."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from event_consumers import Endpoint, check_cloudevent, webhook_endpoint
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.core.errors import InputError
from revbridge.demo import generate
from revbridge.events import Publisher
from revbridge.events.sinks import EVENT_ID_HEADER, SIGNATURE_HEADER
from revbridge.service import Service
from revbridge.store import announcements

SECRET = "whsec-test-7f3a"
SOURCE = "/revbridge/test-webhook"


def _runtime(tmp_path: Path, endpoint: Endpoint, db_url: str | None = None) -> Runtime:
    return build_runtime(
        db_url or f"sqlite:///{tmp_path / 'rb.db'}",
        tmp_path,
        posting=True,
        events_sink="webhook",
        events_url=endpoint.url,
        events_secret=SECRET,
        events_source=SOURCE,
        events_poll_seconds=0.05,
        events_retry_base_seconds=0.1,
        events_retry_max_seconds=0.4,
    )


def _feed(rt: Runtime, first: int, last: int) -> None:
    traffic = generate(start=date(2025, 3, 3), seed=11, scale=0.03)
    for message in traffic.messages[first:last]:
        rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
    rt.settle(close_windows=True)


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _publisher(rt: Runtime) -> Publisher:
    publisher = rt.publisher()
    assert publisher is not None
    return publisher


def _start(publisher: Publisher) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def _all_sent(rt: Runtime) -> bool:
    return announcements.backlog(rt.db).unsent == 0


def test_signed_deliveries_and_a_retry_after_a_500(db_url: str, tmp_path: Path) -> None:
    with webhook_endpoint() as endpoint:
        rt = _runtime(tmp_path, endpoint, db_url)
        try:
            _feed(rt, 0, 60)
            announced = {p.event_id: p.kind for p in announcements.listed(rt.db)}
            assert "journal.posted" in announced.values()
            endpoint.fail_next = 1
            stop, thread = _start(_publisher(rt))
            _until(lambda: _all_sent(rt))
            stop.set()
            thread.join(10)
        finally:
            rt.close()
    metrics = rt.metrics
    published = sum(
        metrics.events_published.labels("webhook", kind)._value.get() for kind in announcements.TYPES
    )
    assert published == len(announced)
    assert metrics.events_failed.labels("webhook")._value.get() == 1
    assert (metrics.events_unsent._value.get(), metrics.events_lag._value.get()) == (0, 0)
    failed = [d for d in endpoint.deliveries if d.status == 500]
    assert len(failed) == 1
    retried = failed[0].headers[EVENT_ID_HEADER]
    for delivery in endpoint.deliveries:
        expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(delivery.headers[SIGNATURE_HEADER], expected)
        assert delivery.headers["Content-Type"] == "application/cloudevents+json"
    accepted = endpoint.accepted()
    for event in accepted:
        check_cloudevent(event, source=SOURCE)
    assert {str(e["id"]): e["type"] for e in accepted} == announced  # each once, by its own id
    assert [str(e["id"]) for e in accepted].count(retried) == 1  # ... the failed one after its retry
    wrong = hmac.new(b"another secret", endpoint.deliveries[0].body, hashlib.sha256).hexdigest()
    assert endpoint.deliveries[0].headers[SIGNATURE_HEADER] != f"sha256={wrong}"


def test_a_restarted_publisher_resumes_without_losing_events(tmp_path: Path) -> None:
    with webhook_endpoint() as endpoint:
        rt = _runtime(tmp_path, endpoint)
        try:
            _feed(rt, 0, 30)
            stop, thread = _start(_publisher(rt))
            _until(lambda: _all_sent(rt))
            stop.set()  # the publisher stops (a deploy, a restart) ...
            thread.join(10)
            assert not thread.is_alive()
            _feed(rt, 30, 70)  # ... while revbridge keeps announcing
            # and one publisher died holding a claim: its lease must run out, then it is taken over
            dead = announcements.claim(
                rt.db, owner="dead", now=rt.clock.now(), lease=timedelta(seconds=1), limit=3
            )
            assert dead
        finally:
            rt.close()
        rt = _runtime(tmp_path, endpoint)  # the restart: a new process, a new publisher
        try:
            stop, thread = _start(_publisher(rt))
            _until(lambda: _all_sent(rt))
            stop.set()
            thread.join(10)
            announced = {p.event_id for p in announcements.listed(rt.db, limit=100_000)}
        finally:
            rt.close()
    delivered = [str(e["id"]) for e in endpoint.accepted()]
    assert set(delivered) == announced
    assert len(delivered) == len(announced)  # stopped cleanly: no re-send needed
    assert {p.event_id for p in dead} <= set(delivered)


@pytest.mark.parametrize(
    ("missing", "says"), [("events_url", "needs events_url"), ("events_secret", "needs a signing secret")]
)
def test_a_webhook_without_its_url_or_secret_is_a_one_line_error(
    tmp_path: Path, missing: str, says: str
) -> None:
    settings: dict[str, object] = {"events_url": "http://127.0.0.1:9/x", "events_secret": SECRET}
    settings.pop(missing)
    rt = build_runtime(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, events_sink="webhook", **settings)
    try:
        with pytest.raises(InputError, match=says):
            rt.publisher()
    finally:
        rt.close()


def test_a_killed_worker_process_is_restarted_and_delivers_everything(tmp_path: Path) -> None:
    """The real thing: `revbridge worker` publishing to the webhook is SIGKILLed mid-way (some
    events claimed, maybe sent, not marked); a new `revbridge worker` sends all the rest, and the
    only repeats are of events the killed one had claimed, under their same ids."""
    url = f"sqlite:///{tmp_path / 'rb.db'}"
    rt = build_runtime(url, tmp_path, posting=True)  # events_sink none: announcements wait
    try:
        _feed(rt, 0, 50)
        announced = {p.event_id for p in announcements.listed(rt.db, limit=100_000)}
    finally:
        rt.close()
    with webhook_endpoint() as endpoint:
        endpoint.delay = 0.02  # slow enough to be killed mid-way
        env = {
            **os.environ,
            "REVBRIDGE_HOME": str(tmp_path),
            "REVBRIDGE_LOG_LEVEL": "WARNING",
            "REVBRIDGE_EVENTS_SINK": "webhook",
            "REVBRIDGE_EVENTS_URL": endpoint.url,
            "REVBRIDGE_EVENTS_SECRET": SECRET,
            "REVBRIDGE_EVENTS_BATCH": "10",
            "REVBRIDGE_EVENTS_LEASE_SECONDS": "1",
            "REVBRIDGE_EVENTS_POLL_SECONDS": "0.05",
        }
        argv = [sys.executable, "-m", "revbridge", "worker", "--db", url]
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _until(lambda: len(endpoint.accepted()) >= 15)
        finally:
            first.kill()
            first.wait()
        assert len(endpoint.accepted()) < len(announced), "killed too late to test a restart"
        second = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _until(lambda: {str(e["id"]) for e in endpoint.accepted()} >= announced, timeout=30)
        finally:
            second.terminate()
            second.wait(10)
    delivered = [str(e["id"]) for e in endpoint.accepted()]
    assert set(delivered) == announced
    repeats = [eid for eid in set(delivered) if delivered.count(eid) > 1]
    assert len(repeats) <= 10  # at most the one round the killed worker had claimed


@pytest.mark.parametrize("events", [True, False])
def test_the_service_runs_the_publisher_when_asked(tmp_path: Path, events: bool) -> None:
    """`revbridge serve` runs it in the serving process (events=True), its worker children do not."""
    with webhook_endpoint() as endpoint:
        rt = _runtime(tmp_path, endpoint)
        with rt.db.transaction() as tx:
            announcements.record(tx, kind="journal.posted", subject="J1", data={}, now=rt.clock.now())
        service = Service(rt, http=False, mllp=False, workers=0, post=False, directory=False, events=events)
        try:
            service.start()
            if events:
                _until(lambda: _all_sent(rt))
            else:
                time.sleep(0.5)
        finally:
            service.stop()
            rt.close()
    assert len(endpoint.accepted()) == (1 if events else 0)
