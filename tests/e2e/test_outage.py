"""An ERP outage with 10,000 journals waiting: after recovery each is posted exactly once.

The ERP (tests/support/faulty_erp.py, a real HTTP server) is down while the journals are staged
and the dispatcher runs; it does not enforce idempotency keys, so any second send would show as a
duplicate document. After it comes back it still misbehaves now and then (a 429 with Retry-After,
500s, an answer dropped after commit). At the end the ERP's documents are exactly our journals,
one each, carrying the ERP document id we recorded, and the server's log of arrival times shows
the outbound rate never beat the token bucket.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from faulty_erp import FaultyErp

from revbridge.connectors.base import Limits
from revbridge.connectors.breaker import BreakerState
from revbridge.connectors.rest import RestConnector, RestSettings
from revbridge.core.clock import SystemClock
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate, workitems
from revbridge.store import journals as store

pytestmark = pytest.mark.slow

COUNT = 10_000
# Well below what this machine sends unthrottled (about 500 journals/s), so the bucket must bind.
RATE, BURST = 300.0, 30
# Seconds a request's recorded arrival may lag its sending: the server's handler threads share the
# GIL with the dispatcher's, so arrivals bunch by a few milliseconds (about 10 ms seen at worst).
JITTER = 0.025


def _journal(n: int) -> Journal:
    dims = Dimensions(legal_entity=f"LE0{n % 3 + 1}", facility="F01")
    amount = Money.of(f"{n % 500 + 1}.{n % 100:02d}")
    lines = (
        JournalLine.signed(account="1010", role=R.CASH_CLEARING, amount=amount, dimensions=dims),
        JournalLine.signed(account="1220", role=R.AR_PATIENT, amount=-amount, dimensions=dims),
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=dims.legal_entity,
        currency="USD",
        posting_date=date(2026, 6, 15),
        source_document_key=f"payment:{n}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


def max_excess(times: list[float], rate: float) -> float:
    """max over i <= j of (j - i + 1) - rate * (t_j - t_i): the most calls in any window beyond
    what the refill alone allows, which a token bucket keeps at or below its burst."""
    best, running = float("-inf"), float("-inf")
    for j, t in enumerate(sorted(times)):
        running = max(running, rate * t - j)
        best = max(best, (j + 1 - rate * t) + running)
    return best


def test_ten_thousand_journals_survive_an_outage_exactly_once(tmp_path: Path) -> None:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    erp = FaultyErp(enforce_idempotency=False)
    connector = _connector(erp)
    metrics = Metrics()
    dispatcher = Dispatcher(
        engine,
        lambda _legal_entity: connector,
        clock=SystemClock(),
        metrics=metrics,
        config=OutboxConfig(owner="outage", claim_limit=500, idle_seconds=0.05, max_inline_wait=0.2),
    )
    stop = threading.Event()
    runner = threading.Thread(target=dispatcher.run, args=(stop,), name="dispatcher")
    try:
        erp.go_down()
        runner.start()
        journals = [_journal(n) for n in range(COUNT)]
        _stage(engine, journals)
        time.sleep(3.0)  # the dispatcher keeps trying against a dead ERP
        channel = dispatcher.channel(connector)
        assert BreakerState.OPEN in channel.breaker.transitions
        assert store.counts(engine)["posted"] == 0
        erp.come_up()
        erp.fail_next("429", retry_after="1")
        erp.fail_next("500", 3)
        erp.fail_next("drop_after_commit", 2)
        deadline = time.monotonic() + 240
        while store.counts(engine)["posted"] < COUNT and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        stop.set()
        runner.join(timeout=30)
        dispatcher.close()
        connector.close()
        erp.close()

    assert not runner.is_alive()
    _check_each_journal_posted_exactly_once(engine, erp, journals)
    # the faults happened and were survived: lookups after the lost answers found the documents
    assert [r.status for r in erp.journal_requests("GET")].count(200) >= 2
    assert channel.breaker.state is BreakerState.CLOSED
    _check_the_rate_never_beat_the_bucket(erp)
    calls = metrics.erp_calls
    # the two answers dropped after commit are found by lookups; a request cut by the outage after
    # the ERP committed it is found the same way, so each journal is posted or found, once
    found = calls.labels("rest", "found")._value.get()
    assert found >= 2
    assert calls.labels("rest", "posted")._value.get() == COUNT - found
    engine.close()


def _connector(erp: FaultyErp) -> RestConnector:
    """A REST connector to ``erp`` throttled to RATE/BURST, with quick backoff and breaker reset."""
    limits = Limits(
        rate_per_second=RATE,
        burst=BURST,
        concurrency=4,
        max_attempts=8,
        backoff_base=0.05,
        backoff_cap=1.0,
        breaker_failures=5,
        breaker_reset=0.5,
    )
    settings = RestSettings(
        base_url=erp.url, token_url="/oauth/token", client_id="revbridge", client_secret="s3cret"
    )
    return RestConnector(settings, limits=limits)


def _stage(engine: Database, journals: list[Journal]) -> None:
    """Stage the journals in the outbox, a thousand per transaction."""
    now = datetime.now(UTC)
    for start in range(0, COUNT, 1000):
        with engine.transaction() as conn:
            for journal in journals[start : start + 1000]:
                store.stage_journal(conn, journal, connector="rest", first_received_at=now, now=now)


def _check_each_journal_posted_exactly_once(
    engine: Database, erp: FaultyErp, journals: list[Journal]
) -> None:
    assert store.counts(engine) == {"staged": 0, "submitting": 0, "accepted": 0, "posted": COUNT, "failed": 0}
    assert workitems.list_items(engine) == []
    # the ERP holds exactly our journals, one document each, and we recorded its document ids
    assert len(erp.documents) == COUNT
    assert erp.duplicates() == {}
    by_key = {d.external_id: d.id for d in erp.documents}
    assert set(by_key) == {j.id for j in journals}
    recorded = {s.journal.id: s.erp_document for s in store.list_journals(engine, limit=COUNT)}
    assert recorded == by_key


def _check_the_rate_never_beat_the_bucket(erp: FaultyErp) -> None:
    """The outbound rate never beat the bucket, allowing for arrival jitter at the server."""
    times = [r.at for r in erp.journal_requests()]
    assert max_excess(times, RATE) <= BURST + RATE * JITTER
    assert (max(times) - min(times)) >= (len(times) - BURST) / RATE * 0.98
