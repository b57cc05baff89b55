"""The outbox dispatcher against a scripted connector, on a fixed clock: a journal whose owner
died is looked up first, uncertainty outlives a certain failure, the breaker's half-open probe
spends no attempt, an open circuit gives journals back, a connector change while uncertain needs a
person, an unroutable legal entity fails after its attempts, and routing is asked once per round.
The dispatcher against the HTTP ERP is in test_connectors_outbox.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_staging import FAST, stage

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.core.clock import FixedClock
from revbridge.ledger.journal import Journal
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate, outbox, workitems
from revbridge.store import journals as store


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


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


def test_no_call_starts_in_the_second_half_of_the_rounds_lease(engine: Database) -> None:
    """A slow ERP makes the round outlast its lease: a call started then could still be in flight
    when another process takes the journal over, finds nothing and sends it again. The journals
    whose turn comes after half the lease are given back unsent, and go in the next round."""
    journals = sorted(stage(engine, 3, now=T0), key=lambda j: j.id)
    ticks = Ticks()

    @dataclass
    class Slow(Scripted):
        def submit(self, journal: Journal) -> Receipt:
            ticks.now += 40.0  # each answer takes 40 s; the lease is 2 minutes
            return super().submit(journal)

    one_at_a_time = Limits(rate_per_second=1000, burst=100, concurrency=1)
    connector = Slow(name="rest", limits=one_at_a_time)
    clock = FixedClock(T0)
    d = fixed(engine, lambda _le: connector, clock, ticks)
    d.run_once()
    assert connector.calls == [f"submit {journals[0].id}", f"submit {journals[1].id}"]
    last = store.get(engine, journals[2].id)
    assert last is not None
    assert (last.status, last.attempts, last.uncertain) == ("staged", 0, False)
    d.run_once()
    assert connector.calls[2:] == [f"submit {journals[2].id}"]
    assert store.counts(engine)["posted"] == 3
    d.close()
