"""The outbox dispatcher against the fault-injecting HTTP ERP (tests/support/faulty_erp.py): a 429
with Retry-After, 500s, an answer dropped after commit, a down window and the breaker, attempts
running out, a rejection, the outbound rate, metrics, and the run loop with its wake-up. The
dispatcher against a scripted connector is in test_connectors_outbox_scripted.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from faulty_erp import FaultyErp
from outbox_staging import FAST, stage

from revbridge.connectors.base import Limits
from revbridge.connectors.breaker import BreakerState
from revbridge.connectors.rest import RestConnector, RestSettings
from revbridge.core.clock import SystemClock
from revbridge.core.wakeup import Wakeup
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate, workitems
from revbridge.store import journals as store


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


@pytest.fixture
def erp() -> Iterator[FaultyErp]:
    server = FaultyErp(enforce_idempotency=False)  # a second POST would be a second document
    yield server
    server.close()


def rest(erp: FaultyErp, limits: Limits = FAST) -> RestConnector:
    settings = RestSettings(
        base_url=erp.url, token_url="/oauth/token", client_id="revbridge", client_secret="s3cret", timeout=5.0
    )
    return RestConnector(settings, limits=limits)


def dispatcher(engine: Database, connector: object, **config: object) -> Dispatcher:
    return Dispatcher(
        engine,
        lambda _le: connector,  # type: ignore[arg-type,return-value]
        clock=SystemClock(),
        metrics=Metrics(),
        config=OutboxConfig(owner="test", **config),  # type: ignore[arg-type]
    )


def settle(d: Dispatcher, engine: Database, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = store.counts(engine)
        if counts["staged"] == 0 and counts["submitting"] == 0:
            return
        if d.run_once() == 0:
            time.sleep(0.02)
    raise AssertionError(f"journals still pending: {store.counts(engine)}")


# ---- against the HTTP ERP ---------------------------------------------------------------------


def test_429_with_retry_after_pauses_the_connector(engine: Database, erp: FaultyErp) -> None:
    stage(engine, 3)
    erp.fail_next("429", retry_after="1")
    connector = rest(erp, Limits(rate_per_second=1000, burst=100, concurrency=1, backoff_base=0.01))
    d = dispatcher(engine, connector)
    settle(d, engine)
    posts = erp.journal_requests("POST")
    assert [r.status for r in posts] == [429, 201, 201, 201]
    assert all(r.at - posts[0].at >= 0.95 for r in posts[1:])  # nothing went out before Retry-After
    assert store.counts(engine)["posted"] == 3 and erp.duplicates() == {}
    d.close()
    connector.close()


def test_500s_are_retried_each_after_a_lookup(engine: Database, erp: FaultyErp) -> None:
    (j,) = stage(engine, 1)
    erp.fail_next("500", 2)
    connector = rest(erp)
    d = dispatcher(engine, connector)
    settle(d, engine)
    assert [(r.method, r.status) for r in erp.journal_requests()] == [
        ("POST", 500),
        ("GET", 404),
        ("POST", 500),
        ("GET", 404),
        ("POST", 201),
    ]
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.erp_document, stored.attempts) == (
        "posted",
        "DOC-000001",
        2,
    )
    d.close()
    connector.close()


def test_an_answer_dropped_after_commit_is_looked_up_not_sent_again(engine: Database, erp: FaultyErp) -> None:
    journals = stage(engine, 4)
    erp.fail_next("drop_after_commit")
    connector = rest(erp)
    d = dispatcher(engine, connector)
    settle(d, engine)
    assert erp.posts_per_key() == {j.id: 1 for j in journals}
    assert erp.duplicates() == {} and len(erp.documents) == 4
    dropped = erp.documents[0]
    assert [r.status for r in erp.journal_requests("GET")] == [200]
    stored = store.get(engine, dropped.external_id)
    assert stored is not None and (stored.status, stored.erp_document) == ("posted", dropped.id)
    d.close()
    connector.close()


def test_a_down_window_opens_the_breaker_and_recovery_closes_it(engine: Database, erp: FaultyErp) -> None:
    journals = stage(engine, 20)
    limits = Limits(
        rate_per_second=1000, burst=100, concurrency=2, backoff_base=0.01, backoff_cap=0.05,
        breaker_failures=3, breaker_reset=0.3, max_attempts=50,
    )  # fmt: skip
    connector = rest(erp, limits)
    d = dispatcher(engine, connector, max_inline_wait=0.05)
    erp.go_down()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        d.run_once()
        time.sleep(0.01)
    channel = d.channel(connector)
    assert channel.breaker.state is not BreakerState.CLOSED
    failures = d._metrics.erp_calls.labels("rest", "unavailable")._value.get()
    assert 3 <= failures <= 12  # an open circuit makes few calls: the opening ones and probes
    assert store.counts(engine)["posted"] == 0
    erp.come_up()
    settle(d, engine)
    assert store.counts(engine) == {"staged": 0, "submitting": 0, "accepted": 0, "posted": 20, "failed": 0}
    assert channel.breaker.state is BreakerState.CLOSED
    assert channel.breaker.transitions[:2] == [BreakerState.OPEN, BreakerState.HALF_OPEN]
    assert channel.breaker.transitions[-1] is BreakerState.CLOSED
    assert erp.posts_per_key() == {j.id: 1 for j in journals}
    d.close()
    connector.close()


def test_after_max_attempts_the_journal_fails_with_an_erp_unavailable_item(
    engine: Database, erp: FaultyErp
) -> None:
    (j,) = stage(engine, 1)
    erp.fail_next("503", 10)
    limits = Limits(
        rate_per_second=1000,
        burst=10,
        backoff_base=0.01,
        backoff_cap=0.02,
        max_attempts=3,
        breaker_failures=100,
    )
    connector = rest(erp, limits)
    d = dispatcher(engine, connector)
    settle(d, engine)
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.attempts) == ("failed", 3)
    assert [r.status for r in erp.journal_requests()] == [503, 503, 503]  # certain: no lookups
    (item,) = workitems.list_items(engine)
    assert (item.code, item.locator) == ("ERP_UNAVAILABLE", f"journal {j.id}")
    assert item.details == {"journal_id": j.id, "connector": "rest", "legal_entity": "LE01"}
    assert "after 3 attempts" in item.message
    d.close()
    connector.close()


def test_a_rejection_fails_at_once_with_an_erp_rejected_item(engine: Database, erp: FaultyErp) -> None:
    (j,) = stage(engine, 1)
    erp.fail_next("reject")
    connector = rest(erp)
    d = dispatcher(engine, connector)
    settle(d, engine)
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.attempts) == ("failed", 1)
    assert "422" in (stored.last_error or "")
    (item,) = workitems.list_items(engine)
    assert item.code == "ERP_REJECTED"
    assert len(erp.journal_requests("POST")) == 1
    d.close()
    connector.close()


def test_the_outbound_rate_never_exceeds_the_limit(engine: Database, erp: FaultyErp) -> None:
    stage(engine, 60)
    rate, burst = 50.0, 5
    connector = rest(erp, Limits(rate_per_second=rate, burst=burst, concurrency=4))
    d = dispatcher(engine, connector)
    started = time.monotonic()
    settle(d, engine)
    assert time.monotonic() - started >= (60 - burst) / rate * 0.95
    times = [r.at for r in erp.journal_requests()]
    assert len(times) == 60
    assert max_excess(times, rate) <= burst + rate * 0.025  # arrival jitter at the server (GIL)
    d.close()
    connector.close()


def max_excess(times: list[float], rate: float) -> float:
    """max over i <= j of (j - i + 1) - rate * (t_j - t_i): the most calls in any window beyond
    what the refill alone allows, which a token bucket keeps at or below its burst."""
    best, running = float("-inf"), float("-inf")
    for j, t in enumerate(sorted(times)):
        running = max(running, rate * t - j)
        best = max(best, (j + 1 - rate * t) + running)
    return best


def test_metrics_count_calls_journals_and_receipt_to_posted(engine: Database, erp: FaultyErp) -> None:
    stage(engine, 5)
    erp.fail_next("500")
    connector = rest(erp)
    d = dispatcher(engine, connector)
    settle(d, engine)
    m = d._metrics
    assert m.erp_calls.labels("rest", "posted")._value.get() == 5
    assert m.erp_calls.labels("rest", "uncertain")._value.get() == 1
    assert m.erp_calls.labels("rest", "not_found")._value.get() == 1
    assert m.journals.labels("realtime", "posted")._value.get() == 5
    assert m.journals.labels("realtime", "retry")._value.get() == 1
    samples = {
        s.name: s.value
        for s in m.receipt_to_posted.collect()[0].samples
        if s.labels.get("lane") == "realtime"
    }
    assert samples["revbridge_receipt_to_posted_seconds_count"] == 5
    assert samples["revbridge_receipt_to_posted_seconds_sum"] >= 5 * 3  # received 3 s before staging
    d.close()
    connector.close()


def test_run_posts_continuously_until_stopped(engine: Database, erp: FaultyErp) -> None:
    connector = rest(erp)
    d = dispatcher(engine, connector, idle_seconds=0.05)
    stop = threading.Event()
    runner = threading.Thread(target=d.run, args=(stop,))
    runner.start()
    stage(engine, 5)
    deadline = time.monotonic() + 10
    while store.counts(engine)["posted"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(timeout=5)
    assert not runner.is_alive()
    assert store.counts(engine)["posted"] == 5
    d.close()
    connector.close()


@contextmanager
def _running(engine: Database, erp: FaultyErp, bell: Wakeup, **config: object) -> Iterator[None]:
    """An outbox posting to ``erp`` in its own thread, rung by ``bell``, until the block ends."""
    connector = rest(erp)
    d = Dispatcher(
        engine,
        lambda _le: connector,
        clock=SystemClock(),
        metrics=Metrics(),
        config=OutboxConfig(owner="test", **config),  # type: ignore[arg-type]
        staged=bell,
    )
    stop = threading.Event()
    runner = threading.Thread(target=d.run, args=(stop,))
    runner.start()
    try:
        yield
    finally:
        stop.set()
        bell.notify()
        runner.join(timeout=5)
        d.close()
        connector.close()
    assert not runner.is_alive()


def _posted_within(engine: Database, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while store.counts(engine)["posted"] < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.counts(engine)["posted"] == count


def test_an_idle_outbox_wakes_when_a_worker_rings(engine: Database, erp: FaultyErp) -> None:
    bell = Wakeup()
    with _running(engine, erp, bell, idle_seconds=60.0):
        time.sleep(0.3)  # nothing staged: the outbox sleeps for up to a minute
        stage(engine, 3)
        bell.notify()
        _posted_within(engine, 3, 10)


def test_after_a_short_round_the_outbox_lets_journals_gather(engine: Database, erp: FaultyErp) -> None:
    """A round that took fewer journals than it could is followed by ``gather_seconds`` of
    waiting, bell or not: journals trickling in go in rounds of several, not one round each."""
    bell = Wakeup()
    with _running(engine, erp, bell, idle_seconds=60.0, gather_seconds=0.8):
        stage(engine, 1)
        bell.notify()
        _posted_within(engine, 1, 10)
        staged_at = time.monotonic()
        stage(engine, 1, le="LE02")
        bell.notify()  # rung during the gathering: it does not cut it short
        _posted_within(engine, 2, 10)
        assert time.monotonic() - staged_at >= 0.5
