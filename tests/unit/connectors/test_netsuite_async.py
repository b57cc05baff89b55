"""NetSuite's asynchronous upserts: accepted with a job, followed job -> task -> result to posted
or rejected, a job that never finishes, and the idempotency key that makes a resend find the
earlier job instead of queueing a second one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from connectors_journals import nets, remittance, small
from netsuite_erp import NetsuiteErp
from netsuite_erp_setup import connector, make_erp

from revbridge.connectors.base import ConnectorUnavailable, Follows, Receipt, Rejection
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.netsuite import IDEMPOTENCY_HEADER, NetsuiteConnector, idempotency_key


@pytest.fixture
def erp() -> Iterator[NetsuiteErp]:
    server = make_erp(job_polls=2)
    yield server
    server.close()


@pytest.fixture
def ns(erp: NetsuiteErp) -> Iterator[NetsuiteConnector]:
    client = connector(erp, asynchronous=True)
    yield client
    client.close()


def test_an_accepted_journal_is_followed_to_posted(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    journal = remittance()
    receipt = ns.submit(journal)
    assert receipt.accepted and receipt.document in erp.jobs.jobs
    assert isinstance(ns, Follows)

    assert ns.check([receipt]) == {}  # the first read: still pending
    assert erp.books.records == {}
    done = ns.check([receipt])

    posted = done[journal.id]
    assert isinstance(posted, Receipt) and posted.status == "posted"
    assert posted.document == erp.books.records[journal.id].id
    assert erp.books.balances() == nets([journal])
    paths = [
        r.path.removeprefix("/services/rest/async/v1/job/" + receipt.document) for r in erp.record_calls()
    ]
    assert paths[0].startswith("/services/rest/record/v1/journalentry/eid:")
    assert paths[1:] == ["", "", "/task", "/task/1", "/task/1/result"]


def test_a_job_netsuite_refuses_becomes_a_rejection_with_its_words_and_lines(erp: NetsuiteErp) -> None:
    client = connector(erp, asynchronous=True, accounts={"7100": "9999"})
    journal = remittance()
    receipt = client.submit(journal)  # NetSuite validates when the job runs, not when it queues it
    assert receipt.accepted

    client.check([receipt])
    rejected = client.check([receipt])[journal.id]

    assert isinstance(rejected, Rejection) and rejected.document == receipt.document
    assert rejected.message == "INVALID_KEY_OR_REF: Invalid Field Value 9999 for the following field: account"
    line = next(line.line_no for line in exact_lines(journal) if line.account == "7100")
    assert rejected.lines == (line,)
    assert erp.books.records == {}
    client.close()


def test_a_job_that_never_finishes_stays_accepted(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    erp.fail_next("never")
    receipt = ns.submit(small(1))
    for _ in range(5):
        assert ns.check([receipt]) == {}

    assert erp.books.records == {}
    assert [r.path.rsplit("/", 1)[-1] for r in erp.record_calls()[1:]] == [receipt.document] * 5


def test_a_resend_with_the_same_key_finds_the_earlier_job(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    journal = small(1)
    first = ns.submit(journal)
    again = ns.submit(journal)

    assert again.accepted and again.document == first.document
    assert len(erp.jobs.jobs) == 1
    assert [r.status for r in erp.calls("PUT")] == [202, 400]  # IDEMPOTENCY_ERROR with the Location
    ns.check([again])
    assert isinstance(ns.check([again])[journal.id], Receipt)
    assert erp.books.records[journal.id].versions == 1


def test_a_lost_async_answer_is_uncertain_and_the_resend_follows_the_same_job(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journal = small(1)
    erp.fail_next("drop_after_commit")
    with pytest.raises(ConnectorUnavailable) as lost:
        ns.submit(journal)
    assert lost.value.uncertain

    assert ns.lookup(journal.id) is None  # the job has not run: no record yet
    receipt = ns.submit(journal)
    assert receipt.accepted and len(erp.jobs.jobs) == 1
    ns.check([receipt])
    assert isinstance(ns.check([receipt])[journal.id], Receipt)
    assert len(erp.books.records) == 1


def test_the_idempotency_key_is_a_uuid_derived_from_the_journal_id() -> None:
    key = idempotency_key(small(1).id)
    assert key == idempotency_key(small(1).id) != idempotency_key(small(2).id)
    assert len(key) == 36 and key.count("-") == 4
    assert IDEMPOTENCY_HEADER == "X-NetSuite-Idempotency-Key"


def test_an_unreadable_job_status_is_uncertain(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    receipt = ns.submit(small(1))
    erp.fail_next("garbled", on="GET")
    with pytest.raises(ConnectorUnavailable) as unreadable:
        ns.check([receipt])
    assert unreadable.value.uncertain


def test_n_async_journals_take_n_puts_and_five_reads_each_to_posted(erp: NetsuiteErp) -> None:
    client = connector(erp, asynchronous=True)
    receipts = [client.submit(small(n)) for n in range(4)]
    client.check(receipts)
    done = client.check(receipts)

    assert len(done) == 4 and len(erp.books.records) == 4
    methods = [r.method for r in erp.record_calls()]
    assert methods.count("PUT") == 4 and methods.count("GET") == 4 * 5  # job twice, task list, task, result
    client.close()
