"""The connector contract with the outbox, run against every cloud ERP's test server (issue 15).

Each test stages journals in a real store and lets the dispatcher post them through the
connector the registry builds from settings, to the ERP's protocol-faithful server:
- an answer lost after the ERP committed: the journal is looked up, never sent twice;
- a process that died after sending: the next owner finds the document instead of sending again;
- nothing that could identify a patient reaches the ERP, and what it holds balances;
- a journal the ERP refuses fails with an ERP_REJECTED work item in the ERP's own words, naming
  the line it refused;
- an outage drains afterwards, exactly once, never faster than the configured rate limit;
- an answer that cannot be read is uncertain: looked up, posted once;
- a job that never ends fails at the deadline with an ERP_UNAVAILABLE work item naming the job,
  and a retry after it posts once;
- refused credentials fail the journals with an ERP_UNAVAILABLE work item that says so, send
  nothing, and the journals post once the credentials are fixed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import cloud_erps
import pytest
from connectors_journals import charge_batch, remittance, small

from revbridge.connectors import registry
from revbridge.core.clock import SystemClock
from revbridge.ledger.journal import Journal
from revbridge.observability.metrics import Metrics
from revbridge.pipeline.dispatcher import Dispatcher, OutboxConfig
from revbridge.store import Database, migrate, outbox, workitems
from revbridge.store import journals as store

SENTINEL = "MRN-SENTINEL-73199"
BUSY = ("staged", "submitting", "accepted")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


@pytest.fixture(params=cloud_erps.KINDS)
def rig(request: pytest.FixtureRequest, engine: Database) -> Iterator[cloud_erps.Rig]:
    with cloud_erps.started(request.param) as made:
        made.attach(engine)
        yield made


def _stage(engine: Database, made: list[Journal]) -> list[Journal]:
    now = datetime.now(UTC)
    with engine.transaction() as tx:
        for journal in made:
            store.stage_journal(tx, journal, connector="erp", first_received_at=now, now=now)
    return made


def _dispatcher(
    engine: Database,
    rig: cloud_erps.Rig,
    limits: dict[str, object] | None = None,
    *,
    secrets: dict[str, str] | None = None,
    **changes: object,
) -> tuple[Dispatcher, registry.Router]:
    settings = (
        {**rig.settings, **changes} if limits is None else {**rig.settings, **changes, "limits": limits}
    )
    env = registry.Environment(
        db=engine, clock=SystemClock(), secrets=rig.secrets if secrets is None else secrets
    )
    router = registry.routing({"targets": {"erp": settings}, "default": "erp"}, env)
    config = OutboxConfig(owner="t")
    return Dispatcher(engine, router, clock=SystemClock(), metrics=Metrics(), config=config), router


def _settle(
    engine: Database, made: tuple[Dispatcher, registry.Router], *, timeout: float = 60.0
) -> dict[str, int]:
    d, router = made
    deadline = time.monotonic() + timeout
    try:
        while any(store.counts(engine)[s] for s in BUSY):
            assert time.monotonic() < deadline, store.counts(engine)
            if d.run_once() == 0:
                time.sleep(0.02)
    finally:
        d.close()
        router.close()
    return store.counts(engine)


def _held_once(rig: cloud_erps.Rig, made: list[Journal]) -> None:
    assert {j.id: rig.documents(j) for j in made} == {j.id: 1 for j in made}


def test_an_answer_lost_after_commit_is_looked_up_not_sent_again(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    made = _stage(engine, [small(n) for n in range(1, 6)])
    rig.fail("drop_after_commit", 1, None)
    counts = _settle(engine, _dispatcher(engine, rig))
    assert counts["posted"] == 5 and counts["failed"] == 0
    _held_once(rig, made)


def test_a_process_that_died_after_sending_is_found_by_the_next_owner(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    made = _stage(engine, [small(n) for n in range(10, 13)])
    t0 = datetime.now(UTC)
    claims = outbox.claim(engine, owner="dead", now=t0, lease=timedelta(seconds=1), limit=10)
    assert len(claims) == 3
    env = registry.Environment(db=engine, clock=SystemClock(), secrets=rig.secrets)
    dying = registry.build(rig.settings["type"], rig.settings, env, name="erp")
    for journal in made:  # the dead process reached the ERP with every journal, then died
        bulk = getattr(dying, "submit_many", None)
        bulk([journal]) if bulk is not None else dying.submit(journal)
    dying.close()
    rig.finish_jobs()
    time.sleep(1.1)  # its lease runs out: the journals are taken over as uncertain
    counts = _settle(engine, _dispatcher(engine, rig))
    assert counts["posted"] == 3
    _held_once(rig, made)


def test_nothing_that_identifies_a_patient_reaches_the_erp_and_what_it_holds_balances(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    carrying = remittance(trn=SENTINEL)  # the source document key carries the sentinel
    lines = tuple(replace(line, event_keys=(f"hl7:{SENTINEL}:{n}",)) for n, line in enumerate(carrying.lines))
    made = _stage(engine, [replace(carrying, lines=lines), charge_batch()])
    assert SENTINEL in carrying.reference
    counts = _settle(engine, _dispatcher(engine, rig))
    assert counts["posted"] == 2
    assert SENTINEL.encode() not in rig.bodies()
    for secret in rig.secrets.values():
        assert secret.encode()[:40] not in rig.bodies()
    assert sum(rig.balances().values(), Decimal(0)) == 0
    _held_once(rig, made)


def test_a_journal_the_erp_refuses_becomes_a_work_item_in_the_erps_words(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    good = remittance(trn="GOOD")
    bad = remittance(trn="BAD")
    unknown = replace(bad.lines[2], account="9999")
    bad = replace(bad, lines=(*bad.lines[:2], unknown, *bad.lines[3:]))
    _stage(engine, [good, bad])
    counts = _settle(engine, _dispatcher(engine, rig))
    assert (counts["posted"], counts["failed"]) == (1, 1)
    (item,) = workitems.list_items(engine, code="ERP_REJECTED")
    assert item.details["journal_id"] == bad.id and "9999" in item.message
    assert item.details["lines"] == "3"  # the third line, as the ERP named it
    assert rig.documents(bad) == 0 and rig.documents(good) == 1


def test_an_outage_drains_exactly_once_within_the_rate_limit(engine: Database, rig: cloud_erps.Rig) -> None:
    made = _stage(engine, [small(n) for n in range(20, 32)])
    limits = {**cloud_erps.QUICK, "rate_per_second": 10, "burst": 2, "breaker_failures": 50}
    rig.fail("503", 3, "1")
    before = rig.calls()
    start = time.monotonic()
    counts = _settle(engine, _dispatcher(engine, rig, limits))
    elapsed = time.monotonic() - start
    assert counts["posted"] == 12 and counts["failed"] == 0
    _held_once(rig, made)
    calls = rig.calls() - before
    assert calls >= 4  # three refused, then the posting ones
    assert elapsed >= (calls - 2) / 10 * 0.9, (calls, elapsed)  # the token bucket held


def test_an_answer_that_cannot_be_read_is_looked_up_and_posted_once(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    made = _stage(engine, [small(n) for n in range(40, 44)])
    rig.fail("garbled", 1, None)
    counts = _settle(engine, _dispatcher(engine, rig))
    assert counts["posted"] == 4 and counts["failed"] == 0
    _held_once(rig, made)


def test_a_job_that_never_ends_is_a_work_item_and_a_retry_posts_once(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    if rig.stall is None:
        pytest.skip(f"{rig.kind} answers at once: no job to follow")
    made = _stage(engine, [small(n) for n in range(50, 56)])  # enough for F&O's DMF path
    rig.stall(True)
    limits = {**cloud_erps.QUICK, "poll_deadline": 1.0}
    counts = _settle(engine, _dispatcher(engine, rig, limits, **rig.asynchronous))
    assert counts["failed"] == 6 and counts["posted"] == 0
    items = workitems.list_items(engine, code="ERP_UNAVAILABLE")
    assert len(items) == 6 and all("did not end within 1 s" in i.message for i in items)
    assert all(i.details.get("erp_ticket") for i in items)
    rig.stall(False)
    from revbridge.workqueue.retry import retry

    retry(engine, SystemClock(), [i.id for i in items], actor="finance", anchor=None)
    counts = _settle(engine, _dispatcher(engine, rig, **rig.asynchronous))
    assert counts["posted"] == 6 and counts["failed"] == 0
    _held_once(rig, made)


def test_refused_credentials_are_a_work_item_and_nothing_is_sent(
    engine: Database, rig: cloud_erps.Rig
) -> None:
    made = _stage(engine, [small(n) for n in range(60, 62)])
    wrong = {name: "wrong-" + value[:8] for name, value in rig.secrets.items()}
    if any("PRIVATE_KEY" in name for name in wrong):
        from cryptography.hazmat.primitives.asymmetric import rsa
        from netsuite_erp_setup import pem

        wrong = {name: pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)) for name in wrong}
    limits = {**cloud_erps.QUICK, "max_attempts": 2}
    counts = _settle(engine, _dispatcher(engine, rig, limits, secrets=wrong))
    assert counts["failed"] == 2
    items = workitems.list_items(engine, code="ERP_UNAVAILABLE")
    assert len(items) == 2, [i.message for i in items]
    assert all("credential" in i.message or "401" in i.message or "token" in i.message for i in items)
    for value in wrong.values():
        assert value[:20] not in " ".join(i.message for i in items)
    assert all(rig.documents(j) == 0 for j in made)
    with engine.transaction() as tx:
        outbox.requeue(tx, [j.id for j in made], now=datetime.now(UTC))
    counts = _settle(engine, _dispatcher(engine, rig))
    assert counts["posted"] == 2
    _held_once(rig, made)
