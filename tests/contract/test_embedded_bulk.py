"""The embedded ledger's bulk path (``submit_many``/``lookup_many``), on SQLite and PostgreSQL.

The outbox hands a connector with a bulk path a round's journals of one legal entity in one call;
for the embedded ledger that is one transaction instead of one per journal. It must answer every
journal exactly as ``submit`` would: a document each (the same one on a second post), a refusal for
a journal dated in a closed period without refusing the rest, and still one document per journal
when two processes post the same batch at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from connectors_journals import LE, charge_batch, remittance
from sqlalchemy import func, select

from revbridge.connectors.base import Bulk, Receipt, Rejection
from revbridge.connectors.embedded import BATCH_SIZE, EmbeddedLedger
from revbridge.core.clock import FixedClock
from revbridge.ledger.journal import Journal, Side
from revbridge.store import Database
from revbridge.store.general_ledger import trial_balance
from revbridge.store.schema import gl_documents, gl_entries, periods

T0 = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url, pool_size=4)
    yield database
    database.close()


def _ledger(db: Database) -> EmbeddedLedger:
    return EmbeddedLedger(db, clock=FixedClock(T0))


def _batch(n: int, day: date = date(2026, 6, 15)) -> list[Journal]:
    return [remittance(day, trn=f"TRN{i:04d}") for i in range(n)]


def _documents(db: Database) -> dict[str, int]:
    with db.reading() as tx:
        query = select(gl_documents.c.reference, func.count()).group_by(gl_documents.c.reference)
        return {str(r[0]): int(r[1]) for r in tx.execute(query)}


def test_the_embedded_ledger_takes_the_outboxs_bulk_path(db: Database) -> None:
    assert isinstance(_ledger(db), Bulk)
    assert 1 < _ledger(db).batch_size == BATCH_SIZE


def test_a_batch_posts_one_document_per_journal_with_every_line(db: Database) -> None:
    ledger = _ledger(db)
    batch = [*_batch(7), charge_batch()]
    answers = ledger.submit_many(batch)
    assert set(answers) == {j.id for j in batch}
    assert all(isinstance(a, Receipt) and a.document.startswith("GL-") for a in answers.values())
    assert len({a.document for a in answers.values()}) == len(batch)
    assert _documents(db) == {j.id: 1 for j in batch}
    with db.reading() as tx:
        assert tx.execute(select(func.count()).select_from(gl_entries)).scalar_one() == sum(
            len(j.lines) for j in batch
        )
    for journal in batch:  # what the ledger holds is each journal's lines, account by account
        expected: dict[str, tuple[Decimal, Decimal]] = {}
        for line in journal.lines:
            debit, credit = expected.get(line.account, (Decimal(0), Decimal(0)))
            if line.side is Side.DEBIT:
                debit += line.amount.amount
            else:
                credit += line.amount.amount
            expected[line.account] = (debit, credit)
        rows = trial_balance(db, references=[journal.id])
        assert {r.account: (r.debit.amount, r.credit.amount) for r in rows} == expected
    # and each answer is the document a single lookup finds
    for journal in batch:
        found = ledger.lookup(journal.id)
        assert found is not None and found.document == answers[journal.id].document


def test_a_second_post_of_a_batch_returns_the_first_documents(db: Database) -> None:
    ledger = _ledger(db)
    batch = _batch(5)
    first = ledger.submit_many(batch[:3])
    again = ledger.submit_many(batch)  # three already held, two new
    assert {k: again[k] for k in first} == first
    assert _documents(db) == {j.id: 1 for j in batch}


def test_a_closed_period_refuses_its_journal_and_posts_the_rest(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute(
            periods.insert().values(
                legal_entity=LE, period="2026-03", status="closed", changed_by="t", changed_at=T0
            )
        )
    open_ones = _batch(3)
    closed = remittance(date(2026, 3, 31), trn="CLOSED")
    other_entity = remittance(date(2026, 3, 31), trn="ELSEWHERE", legal_entity="MSJ")  # its March is open
    answers = _ledger(db).submit_many([open_ones[0], closed, *open_ones[1:], other_entity])
    refused = answers[closed.id]
    assert isinstance(refused, Rejection) and "2026-03" in refused.message and LE in refused.message
    assert all(isinstance(answers[j.id], Receipt) for j in [*open_ones, other_entity])
    assert closed.id not in _documents(db)


def test_lookup_many_answers_only_what_the_ledger_holds(db: Database) -> None:
    ledger = _ledger(db)
    batch = _batch(3)
    posted = ledger.submit_many(batch[:2])
    unknown = replace(batch[2], id="never-posted")
    found = ledger.lookup_many([j.id for j in batch] + [unknown.id])
    assert found == posted


def test_lookup_many_reads_more_references_than_one_query_takes(db: Database) -> None:
    ledger = _ledger(db)
    batch = _batch(1_100)
    for start in range(0, len(batch), BATCH_SIZE):
        ledger.submit_many(batch[start : start + BATCH_SIZE])
    assert len(ledger.lookup_many([j.id for j in batch])) == 1_100


def test_two_processes_posting_the_same_batch_make_one_document_each(db_url: str) -> None:
    """Two outboxes racing on one batch (one took it over as its lease ran out): the unique
    reference makes the loser's transaction fail; it then posts one at a time and gets the
    winner's documents back."""
    batch = _batch(BATCH_SIZE)
    answers: list[dict[str, object]] = []
    go = threading.Barrier(2)

    def post() -> None:
        database = Database.open(db_url, pool_size=2)
        try:
            go.wait()
            answers.append(dict(_ledger(database).submit_many(batch)))
        finally:
            database.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2
    assert answers[0] == answers[1]
    check = Database.open(db_url, null_pool=True)
    try:
        assert _documents(check) == {j.id: 1 for j in batch}
    finally:
        check.close()
