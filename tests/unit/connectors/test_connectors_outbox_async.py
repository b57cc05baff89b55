"""The outbox with asynchronous and bulk ERPs, on a fixed clock: an accepted journal waits in
``accepted`` (never ``posted``) until a check says posted or rejected; a rejection becomes an
ERP_REJECTED work item naming the ERP's lines; a job that never ends becomes an ERP_UNAVAILABLE
work item at the deadline and is looked up, not sent again, when retried; checks wait longer as a
job ages; a bulk ERP gets one call per legal entity per batch, and its uncertain journals are
looked up in one call first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from outbox_staging import FAST, stage

from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    Bulk,
    ConnectorUnavailable,
    Follows,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.core.clock import FixedClock
from revbridge.ledger.journal import Journal
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.pipeline.follow import next_check
from revbridge.store import Database, migrate, outbox, workitems
from revbridge.store import journals as store
from revbridge.workqueue.retry import retry

T0 = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)
SLOW_JOBS = Limits(
    rate_per_second=1000, burst=100, concurrency=2, backoff_base=0.01, backoff_cap=0.05,
    poll_interval=5.0, poll_deadline=600.0,
)  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


@dataclass
class Jobs:
    """An asynchronous ERP: every submit is accepted as a job; ``finish`` ends a job as posted or
    rejected; ``check`` answers the ended ones; ``lookup`` finds what it holds, ended or not."""

    name: str = "rest"
    limits: Limits = SLOW_JOBS
    jobs: dict[str, Answer | None] = field(default_factory=dict)  # reference -> end (None: running)
    calls: list[str] = field(default_factory=list)
    down: bool = False

    def submit(self, journal: Journal) -> Receipt:
        self.calls.append("submit")
        self.jobs[journal.id] = None
        return Receipt(reference=journal.id, document=f"JOB-{len(self.jobs)}", status=ACCEPTED)

    def lookup(self, reference: str) -> Receipt | None:
        self.calls.append("lookup")
        if reference not in self.jobs:
            return None
        end = self.jobs[reference]
        return (
            end if isinstance(end, Receipt) else Receipt(reference=reference, document="JOB", status=ACCEPTED)
        )

    def check(self, accepted: Sequence[Receipt]) -> Mapping[str, Answer]:
        self.calls.append(f"check {len(accepted)}")
        if self.down:
            raise ConnectorUnavailable("ERP answered 503")
        return {r.reference: end for r in accepted if (end := self.jobs.get(r.reference)) is not None}

    def finish(self, reference: str, end: Answer) -> None:
        self.jobs[reference] = end

    def close(self) -> None:
        pass


def dispatcher(engine: Database, connector: object, clock: FixedClock) -> Dispatcher:
    return Dispatcher(
        engine,
        lambda _le: connector,  # type: ignore[arg-type,return-value]
        clock=clock,
        metrics=Metrics(),
        config=OutboxConfig(owner="w1"),
    )


def status(engine: Database, journal_id: str) -> str:
    stored = store.get(engine, journal_id)
    assert stored is not None
    return stored.status


def test_an_accepted_journal_is_not_posted_until_the_erp_says_so(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    erp, clock = Jobs(), FixedClock(T0)
    assert isinstance(erp, Follows)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    accepted = store.get(engine, j.id)
    assert accepted is not None and accepted.status == "accepted"
    shown = store.journal_json(accepted)
    assert (shown["erp_ticket"], shown["erp_reference"]) == ("JOB-1", None)
    assert shown["accepted_at"] == T0.isoformat()
    assert d.run_once() == 0  # the first check is not due yet: the ERP is not asked
    assert erp.calls == ["submit"]
    clock.set(T0 + timedelta(seconds=5))
    d.run_once()  # due: asked, still running
    assert erp.calls == ["submit", "check 1"] and status(engine, j.id) == "accepted"
    erp.finish(j.id, Receipt(reference=j.id, document="JE-77"))
    clock.set(T0 + timedelta(seconds=10))
    assert d.run_once() == 1
    stored = store.get(engine, j.id)
    assert stored is not None and (stored.status, stored.erp_document) == ("posted", "JE-77")
    assert d._metrics.journals.labels("realtime", "accepted")._value.get() == 1
    assert d._metrics.journals.labels("realtime", "posted")._value.get() == 1
    d.close()


def test_a_rejected_job_opens_a_work_item_with_the_erps_words_and_lines(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    erp, clock = Jobs(), FixedClock(T0)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    erp.finish(j.id, Rejection(reference=j.id, message="EF04: the account is not valid", lines=(2,)))
    clock.set(T0 + timedelta(seconds=5))
    d.run_once()
    assert status(engine, j.id) == "failed"
    (item,) = workitems.list_items(engine, code="ERP_REJECTED")
    assert "EF04: the account is not valid" in item.message
    details = dict(item.details)
    assert details["lines"] == "2" and details["erp_ticket"] == "JOB-1" and details["journal_id"] == j.id
    d.close()


def test_a_job_that_never_ends_is_a_work_item_and_a_retry_looks_it_up(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    erp, clock = Jobs(), FixedClock(T0)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    clock.set(T0 + timedelta(seconds=599))
    d.run_once()
    assert status(engine, j.id) == "accepted"
    clock.set(T0 + timedelta(seconds=600))
    d.run_once()
    assert status(engine, j.id) == "failed"
    (item,) = workitems.list_items(engine, code="ERP_UNAVAILABLE")
    assert "JOB-1" in item.message and "did not end within 600 s" in item.message
    # a person retries: the ERP finished meanwhile, so the journal is found, never sent again
    erp.finish(j.id, Receipt(reference=j.id, document="JE-9"))
    with engine.transaction() as tx:
        outbox.requeue(tx, [j.id], now=clock.now())
    d.run_once()
    assert erp.calls.count("submit") == 1 and erp.calls[-1] == "lookup"
    assert status(engine, j.id) == "posted"
    d.close()


def test_an_erp_that_cannot_be_asked_is_asked_again_later(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    erp, clock = Jobs(down=True), FixedClock(T0)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    clock.set(T0 + timedelta(seconds=5))
    d.run_once()
    stored = store.get(engine, j.id)
    assert stored is not None and stored.status == "accepted" and "503" in (stored.last_error or "")
    erp.down = False
    erp.finish(j.id, Receipt(reference=j.id, document="JE-1"))
    clock.set(T0 + timedelta(seconds=15))
    d.run_once()
    assert status(engine, j.id) == "posted"
    d.close()


def test_checks_wait_longer_as_a_job_ages() -> None:
    assert next_check(T0, T0, 5.0) == T0 + timedelta(seconds=5)
    assert next_check(T0, T0 + timedelta(seconds=20), 5.0) == T0 + timedelta(seconds=40)
    assert next_check(T0, T0 + timedelta(hours=1), 5.0) == T0 + timedelta(hours=1, seconds=50)


@dataclass
class Uploads:
    """A bulk ERP: each ``submit_many`` is one upload, posted at once; it remembers the uploads."""

    name: str = "bulk"
    limits: Limits = FAST
    batch_size: int = 3
    held: dict[str, str] = field(default_factory=dict)
    uploads: list[list[str]] = field(default_factory=list)
    lookups: list[list[str]] = field(default_factory=list)
    drop_next: bool = False

    def submit_many(self, journals: Sequence[Journal]) -> Mapping[str, Answer]:
        self.uploads.append([j.legal_entity for j in journals])
        for j in journals:
            self.held[j.id] = f"BATCH-{len(self.uploads)}"
        if self.drop_next:
            self.drop_next = False
            raise ConnectorUnavailable("ERP answer lost: ReadTimeout", uncertain=True)
        return {j.id: Receipt(reference=j.id, document=self.held[j.id]) for j in journals}

    def lookup_many(self, references: Sequence[str]) -> Mapping[str, Answer]:
        self.lookups.append(list(references))
        return {r: Receipt(reference=r, document=self.held[r]) for r in references if r in self.held}

    def submit(self, journal: Journal) -> Receipt:
        raise AssertionError("a bulk ERP is sent batches")

    def lookup(self, reference: str) -> Receipt | None:
        raise AssertionError("a bulk ERP is looked up in batches")

    def close(self) -> None:
        pass


def test_a_bulk_erp_gets_one_call_per_legal_entity_and_batch(engine: Database) -> None:
    stage(engine, 7, now=T0, le="LE01")
    stage(engine, 2, now=T0, le="LE02")
    erp = Uploads()
    assert isinstance(erp, Bulk)
    d = dispatcher(engine, erp, FixedClock(T0))
    d.run_once()
    assert sorted(erp.uploads) == sorted([["LE01"] * 3, ["LE01"] * 3, ["LE01"], ["LE02"] * 2])
    assert store.counts(engine)["posted"] == 9
    d.close()


def test_a_lost_bulk_answer_is_looked_up_in_one_call_and_nothing_is_sent_twice(engine: Database) -> None:
    made = stage(engine, 3, now=T0)
    erp = Uploads(drop_next=True)
    clock = FixedClock(T0)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    assert store.counts(engine)["staged"] == 3  # all three uncertain, waiting for their retry
    clock.set(T0 + timedelta(seconds=5))
    d.run_once()
    assert len(erp.uploads) == 1 and erp.lookups == [sorted(j.id for j in made)]
    assert store.counts(engine)["posted"] == 3
    d.close()


def test_a_failed_async_journal_can_be_retried_from_the_work_queue(engine: Database) -> None:
    (j,) = stage(engine, 1, now=T0)
    erp, clock = Jobs(), FixedClock(T0)
    d = dispatcher(engine, erp, clock)
    d.run_once()
    erp.finish(j.id, Rejection(reference=j.id, message="period Jun-26 is closed"))
    clock.set(T0 + timedelta(seconds=5))
    d.run_once()
    (item,) = workitems.list_items(engine, code="ERP_REJECTED")
    retried = retry(engine, clock, [item.id], actor="finance", anchor=None)
    assert retried.journals == (j.id,) and status(engine, j.id) == "staged"
    d.run_once()  # a rejected journal is not held by the ERP: it is sent again
    assert erp.calls.count("submit") == 2 and status(engine, j.id) == "accepted"
    d.close()


def test_a_rest_erp_answering_202_is_followed_to_posted_and_to_rejected(engine: Database) -> None:
    from faulty_erp import FaultyErp

    from revbridge.connectors.rest import RestConnector, RestSettings

    first, second = stage(engine, 2, now=T0)
    erp = FaultyErp(asynchronous=True)
    settings = RestSettings(
        base_url=erp.url, token_url="/oauth/token", client_id="revbridge", client_secret="s3cret"
    )
    connector = RestConnector(settings, limits=SLOW_JOBS)
    clock = FixedClock(T0)
    d = dispatcher(engine, connector, clock)
    try:
        d.run_once()
        assert status(engine, first.id) == status(engine, second.id) == "accepted"  # 202 is not posted
        clock.set(T0 + timedelta(seconds=5))
        d.run_once()
        assert status(engine, first.id) == "accepted"
        erp.finish(first.id)
        erp.finish(second.id, "rejected", "account 4100 is blocked for direct posting")
        clock.set(T0 + timedelta(seconds=10))
        d.run_once()
        assert status(engine, first.id) == "posted" and status(engine, second.id) == "failed"
        (item,) = workitems.list_items(engine, code="ERP_REJECTED")
        assert "account 4100 is blocked for direct posting" in item.message
        assert erp.posts_per_key() == {first.id: 1, second.id: 1}
    finally:
        d.close()
        connector.close()
        erp.close()
