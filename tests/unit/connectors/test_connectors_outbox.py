"""The outbox dispatcher against the fault-injecting HTTP ERP and against a scripted connector."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from faulty_erp import FaultyErp

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.connectors.breaker import BreakerState
from revbridge.connectors.rest import RestConnector, RestSettings
from revbridge.core.clock import FixedClock, SystemClock
from revbridge.core.money import Money
from revbridge.core.wakeup import Wakeup
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate, outbox, workitems
from revbridge.store import journals as store

FAST = Limits(rate_per_second=1000, burst=100, concurrency=2, backoff_base=0.01, backoff_cap=0.05)


def journal(n: int, *, le: str = "LE01") -> Journal:
    dims = Dimensions(legal_entity=le, facility="F01")
    lines = [
        JournalLine.signed(account="1010", role=R.CASH_CLEARING, amount=Money.of(f"{n}.25"), dimensions=dims),
        JournalLine.signed(account="1220", role=R.AR_PATIENT, amount=Money.of(f"-{n}.25"), dimensions=dims),
    ]
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=le,
        currency="USD",
        posting_date=date(2026, 6, 15),
        source_document_key=f"payment:{n}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


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


def stage(engine: Database, count: int, *, now: datetime | None = None, le: str = "LE01") -> list[Journal]:
    made = [journal(n, le=le) for n in range(1, count + 1)]
    at = now or datetime.now(UTC)
    with engine.transaction() as conn:
        for j in made:
            store.stage_journal(
                conn, j, connector="rest", first_received_at=at - timedelta(seconds=3), now=at
            )
    return made


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
    assert store.counts(engine) == {"staged": 0, "submitting": 0, "posted": 20, "failed": 0}
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


def test_an_idle_outbox_wakes_when_a_worker_rings(engine: Database, erp: FaultyErp) -> None:
    connector = rest(erp)
    bell = Wakeup()
    d = Dispatcher(
        engine,
        lambda _le: connector,
        clock=SystemClock(),
        metrics=Metrics(),
        config=OutboxConfig(owner="test", idle_seconds=60.0),
        staged=bell,
    )
    stop = threading.Event()
    runner = threading.Thread(target=d.run, args=(stop,))
    runner.start()
    try:
        time.sleep(0.3)  # nothing staged: the outbox sleeps for up to a minute
        stage(engine, 3)
        bell.notify()
        deadline = time.monotonic() + 10
        while store.counts(engine)["posted"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.counts(engine)["posted"] == 3
    finally:
        stop.set()
        bell.notify()
        runner.join(timeout=5)
        d.close()
        connector.close()
    assert not runner.is_alive()


# ---- against a scripted connector --------------------------------------------------------------


@dataclass
class Scripted:
    """A connector whose answers are scripted: each submit pops the next outcome (a Receipt is
    stored and returned; an exception is raised, after storing when ``commit_then`` is set)."""

    name: str = "scripted"
    limits: Limits = FAST
    outcomes: list[object] = field(default_factory=list)
    stored: dict[str, Receipt] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    commit_then: bool = False

    def submit(self, journal: Journal) -> Receipt:
        self.calls.append(f"submit {journal.id}")
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            if self.commit_then:
                self.stored[journal.id] = Receipt(reference=journal.id, document=f"D-{len(self.stored) + 1}")
            raise outcome
        receipt = Receipt(reference=journal.id, document=f"D-{len(self.stored) + 1}")
        self.stored[journal.id] = receipt
        return receipt

    def lookup(self, reference: str) -> Receipt | None:
        self.calls.append(f"lookup {reference}")
        return self.stored.get(reference)

    def close(self) -> None:
        pass


T0 = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fixed(engine: Database, route: Callable[[str], object], clock: FixedClock, ticks: Ticks) -> Dispatcher:
    return Dispatcher(
        engine,
        route,  # type: ignore[arg-type]
        clock=clock,
        metrics=Metrics(),
        config=OutboxConfig(owner="w2", lease=timedelta(minutes=2)),
        monotonic=ticks,
    )


def test_a_journal_whose_owner_died_is_looked_up_before_anything_is_sent(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    outbox.claim(engine, owner="dead", now=T0, lease=timedelta(minutes=2), limit=1)
    connector = Scripted(name="rest", stored={j.id: Receipt(reference=j.id, document="D-ERP")})
    clock = FixedClock(T0 + timedelta(minutes=3))
    d = fixed(engine, lambda _le: connector, clock, Ticks())
    assert d.run_once() == 1
    assert connector.calls == [f"lookup {j.id}"]
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.erp_document) == ("posted", "D-ERP")
    d.close()


def test_a_lookup_that_finds_nothing_lets_the_journal_go_once(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    connector = Scripted(
        name="rest", outcomes=[ConnectorUnavailable("timeout", uncertain=True)], commit_then=False
    )
    clock, ticks = FixedClock(T0), Ticks()
    d = fixed(engine, lambda _le: connector, clock, ticks)
    d.run_once()
    clock.advance(timedelta(seconds=1))
    d.run_once()
    assert connector.calls == [f"submit {j.id}", f"lookup {j.id}", f"submit {j.id}"]
    assert store.counts(engine)["posted"] == 1
    d.close()


def test_uncertainty_survives_a_later_certain_failure(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    connector = Scripted(
        name="rest",
        outcomes=[ConnectorUnavailable("lost", uncertain=True), ConnectorUnavailable("refused")],
        commit_then=True,
    )
    connector.commit_then = True
    clock, ticks = FixedClock(T0), Ticks()
    d = fixed(engine, lambda _le: connector, clock, ticks)
    d.run_once()  # lost answer, but the ERP committed
    connector.commit_then = False
    stored = store.get(engine, j.id)
    assert stored is not None and stored.uncertain
    clock.advance(timedelta(seconds=1))
    d.run_once()  # lookup finds it: posted, never sent twice
    assert connector.calls == [f"submit {j.id}", f"lookup {j.id}"]
    assert store.counts(engine)["posted"] == 1
    d.close()


def test_the_half_open_probe_does_not_spend_the_journals_attempts(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    down = [ConnectorUnavailable("down") for _ in range(10)]
    limits = Limits(rate_per_second=1000, burst=100, breaker_failures=1, breaker_reset=5, max_attempts=2)
    connector = Scripted(name="rest", limits=limits, outcomes=down)
    clock, ticks = FixedClock(T0), Ticks()
    d = fixed(engine, lambda _le: connector, clock, ticks)
    d.run_once()  # attempt 1 fails and opens the circuit
    for _ in range(4):  # each probe fails: still attempt 1, never failed
        clock.advance(timedelta(seconds=30))
        ticks.now += 5
        d.run_once()
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.attempts) == ("staged", 1)
    assert len(connector.calls) == 5
    connector.outcomes.clear()
    clock.advance(timedelta(seconds=30))
    ticks.now += 5
    d.run_once()
    assert store.counts(engine)["posted"] == 1
    d.close()


def test_an_open_circuit_gives_claimed_journals_back_untouched(engine: Database) -> None:
    stage(engine, 3, now=T0)
    limits = Limits(rate_per_second=1000, burst=100, concurrency=1, breaker_failures=1, breaker_reset=60)
    connector = Scripted(name="rest", limits=limits, outcomes=[ConnectorUnavailable("down")])
    d = fixed(engine, lambda _le: connector, FixedClock(T0), Ticks())
    assert d.run_once() == 3
    assert len(connector.calls) == 1
    attempts = sorted(s.attempts for s in store.list_journals(engine))
    assert attempts == [0, 0, 1]
    assert all(s.status == "staged" and s.next_attempt_at is not None for s in store.list_journals(engine))
    d.close()


def test_a_connector_change_while_uncertain_needs_a_person(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    first = Scripted(name="rest", outcomes=[ConnectorUnavailable("lost", uncertain=True)])
    other = Scripted(name="tryton")
    route: list[Scripted] = [first]
    clock, ticks = FixedClock(T0), Ticks()
    d = fixed(engine, lambda _le: route[0], clock, ticks)
    d.run_once()
    route[0] = other
    clock.advance(timedelta(seconds=5))
    d.run_once()
    assert other.calls == []
    stored = store.get(engine, j.id)
    assert stored is not None and stored.status == "failed"
    (item,) = workitems.list_items(engine)
    assert item.code == "ERP_UNAVAILABLE" and "connector changed" in item.message
    d.close()


def test_a_legal_entity_without_a_connector_is_retried_then_fails(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0, le="LE77")

    def route(le: str) -> object:
        raise KeyError(le)

    clock = FixedClock(T0)
    d = fixed(engine, route, clock, Ticks())
    for _ in range(Limits().max_attempts):
        d.run_once()
        clock.advance(timedelta(minutes=5))
    stored = store.get(engine, j.id)
    assert stored is not None and stored.status == "failed"
    assert "no connector for legal entity 'LE77'" in (stored.last_error or "")
    (item,) = workitems.list_items(engine)
    assert item.code == "ERP_UNAVAILABLE"
    d.close()


def test_a_rejection_from_a_lookup_also_fails_the_journal(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)

    class Refusing(Scripted):
        def lookup(self, reference: str) -> Receipt | None:
            raise ConnectorRejected("period closed")

    connector = Refusing(name="rest", outcomes=[ConnectorUnavailable("lost", uncertain=True)])
    clock = FixedClock(T0)
    d = fixed(engine, lambda _le: connector, clock, Ticks())
    d.run_once()
    clock.advance(timedelta(seconds=5))
    d.run_once()
    stored = store.get(engine, j.id)
    assert stored is not None and stored.status == "failed" and stored.uncertain
    assert [i.code for i in workitems.list_items(engine)] == ["ERP_REJECTED"]
    d.close()


def test_connector_for_is_asked_once_per_legal_entity_and_round(engine: Database) -> None:
    stage(engine, 3, now=T0, le="LE01")
    stage(engine, 2, now=T0, le="LE02")
    asked: list[str] = []
    connector = Scripted(name="rest")

    def route(le: str) -> object:
        asked.append(le)
        return connector

    d = fixed(engine, route, FixedClock(T0), Ticks())
    assert d.run_once() == 5
    assert sorted(asked) == ["LE01", "LE02"]
    assert store.counts(engine)["posted"] == 5
    d.close()
