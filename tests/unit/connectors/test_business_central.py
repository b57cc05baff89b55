"""The Business Central connector against a real HTTP BC: posting, read-back, exactly-once by
lookup, bulk posting and how many calls it takes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from bc_erp import BcErp
from bc_journals import connect, journal

from revbridge.connectors.base import Bulk, ConnectorUnavailable, ReadsBack, Receipt, Rejection
from revbridge.connectors.business_central import BusinessCentralConnector
from revbridge.connectors.business_central_payload import document_number, external_number


@pytest.fixture
def erp() -> Iterator[BcErp]:
    server = BcErp()
    yield server
    server.close()


@pytest.fixture
def bc(erp: BcErp) -> Iterator[BusinessCentralConnector]:
    connector = connect(erp)
    yield connector
    connector.close()


def test_posts_a_journal_whose_entries_balance_like_its_lines(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    posted = bc.submit(journal(1, amount="1250.10"))
    assert posted.status == "posted" and posted.document == document_number(posted.reference)
    assert erp.balances() == {"1015": Decimal("1250.10"), "1211": Decimal("-1250.10")}
    entry = erp.entries()[0]
    assert (
        entry["_externalDocumentNumber"]
        == external_number(posted.reference)
        == "RB" + posted.reference.upper()
    )
    assert entry["_dimensions"] == {"DEPARTMENT": "CC-4100", "PAYERCLASS": "MEDICARE", "FACILITY": "F01"}
    assert erp.unposted() == [] and erp.batches() == []  # the emptied batch is deleted


def test_read_back_gives_our_accounts_and_sides(erp: BcErp) -> None:
    bc = connect(erp, accounts={"1015": "10150", "1211": "12110"})
    erp.ledger.accounts |= {"10150", "12110"}
    j = journal(2, amount="99.99")
    bc.submit(j)
    held = bc.read_back([j.id, "f" * 32])
    assert list(held) == [j.id]
    back = held[j.id]
    assert back.legal_entity == "MHN" and back.posting_date == j.posting_date
    assert {(a.account, a.debit, a.credit) for a in back.lines} == {
        ("1015", Decimal("99.99"), Decimal(0)),
        ("1211", Decimal(0), Decimal("99.99")),
    }
    assert erp.balances() == {"10150": Decimal("99.99"), "12110": Decimal("-99.99")}
    assert isinstance(bc, ReadsBack) and isinstance(bc, Bulk)
    bc.close()


def test_lookup_finds_the_posted_document_and_nothing_for_an_unseen_reference(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    j = journal(3)
    posted = bc.submit(j)
    found = bc.lookup(j.id)
    assert found is not None and found.document == posted.document
    assert bc.lookup(journal(4).id) is None


def test_duplicate_submit_creates_no_second_document(erp: BcErp, bc: BusinessCentralConnector) -> None:
    j = journal(5)
    first = bc.submit(j)
    before = len(erp.calls())
    again = bc.submit(j)  # BC would post it twice (no idempotency key): the connector reads first
    assert again.document == first.document
    assert erp.documents() == {document_number(j.id): 2}
    assert [(r.method, r.resource) for r in erp.calls()[before:]] == [("GET", "generalLedgerEntries")]


def test_answer_lost_after_post_is_uncertain_and_lookup_finds_it(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    j = journal(6)
    erp.fail_next("drop_after_commit", on="Microsoft.NAV.post")
    with pytest.raises(ConnectorUnavailable) as lost:
        bc.submit(j)
    assert lost.value.uncertain
    found = bc.lookup(j.id)
    assert found is not None and found.document == document_number(j.id)
    assert erp.documents() == {document_number(j.id): 2}  # one posting, no second one


def test_cut_off_batch_leftover_is_deleted_by_lookup_and_posted_once(erp: BcErp) -> None:
    bc = connect(erp)
    j = journal(7)
    erp.fail_next("drop_after_commit", on="$batch")  # lines stored, answer lost
    erp.fail_next("500", on="journals")  # and the clean-up DELETE fails too
    with pytest.raises(ConnectorUnavailable) as lost:
        bc.submit(j)
    assert lost.value.uncertain
    assert len(erp.unposted()) == 2  # an unposted leftover with our external document number
    assert bc.lookup(j.id) is None  # never posted: the leftover is deleted, the journal may go again
    assert erp.unposted() == [] and erp.batches() == []
    bc.submit(j)
    assert erp.documents() == {document_number(j.id): 2}
    bc.close()


def test_batch_posts_many_journals_in_few_calls(erp: BcErp, bc: BusinessCentralConnector) -> None:
    journals = [journal(n, amount=f"{n}.25") for n in range(1, 51)]
    bc.lookup_many([])  # companies read once, before counting
    before = len(erp.calls())
    answers = bc.submit_many(journals)
    assert all(isinstance(a, Receipt) and a.status == "posted" for a in answers.values())
    assert set(answers) == {j.id for j in journals}
    calls = [(r.method, r.resource) for r in erp.calls()[before:]]
    # two reads of posted entries (25 per filter); 100 lines: one $batch;
    # 300 dimension set lines: three $batch of 100; then post and delete
    assert calls == [("GET", "generalLedgerEntries")] * 2 + [("POST", "journals")] + [
        ("POST", "$batch")
    ] * 4 + [
        ("POST", "Microsoft.NAV.post"),
        ("DELETE", "journals"),
    ]
    total = sum(Decimal(f"{n}.25") for n in range(1, 51))
    assert erp.balances() == {"1015": total, "1211": -total}


def test_lookup_many_answers_only_what_bc_has(erp: BcErp, bc: BusinessCentralConnector) -> None:
    posted = [journal(n) for n in range(10, 30)]
    bc.submit_many(posted)
    unseen = journal(99)
    before = len(erp.calls())
    found = bc.lookup_many([j.id for j in posted] + [unseen.id])
    assert set(found) == {j.id for j in posted}
    # MHN: one G/L entry read (25 references per filter) and one read of leftover batches; MHS: the same
    assert len(erp.calls()[before:]) == 2 + 2


def test_journals_of_two_companies_post_to_each(erp: BcErp, bc: BusinessCentralConnector) -> None:
    north, south = journal(40), journal(41, legal_entity="MHS")
    answers = bc.submit_many([north, south])
    assert all(isinstance(a, Receipt) for a in answers.values())
    assert erp.balances("MHN") == {"1015": Decimal("1250.10"), "1211": Decimal("-1250.10")}
    assert erp.balances("MHS") == erp.balances("MHN")
    assert bc.read_back([south.id])[south.id].legal_entity == "MHS"


def test_mapped_company_and_dimension_values(erp: BcErp) -> None:
    bc = connect(
        erp,
        companies={"NORTH": "MHN"},
        cost_centers={"ED": "CC-4100"},
        dimension_codes={"cost_center": "DEPARTMENT", "payer_class": "", "facility": "FACILITY"},
    )
    j = journal(42, cost_center="ED", legal_entity="NORTH")
    assert isinstance(bc.submit_many([j])[j.id], Receipt)
    assert erp.entries()[0]["_dimensions"] == {"DEPARTMENT": "CC-4100", "FACILITY": "F01"}
    assert bc.read_back([j.id])[j.id].legal_entity == "NORTH"
    bc.close()


def test_a_refused_journal_is_left_out_and_the_rest_post(erp: BcErp, bc: BusinessCentralConnector) -> None:
    good, bad = journal(50), journal(51, debit_account="9999")
    answers = bc.submit_many([good, bad])
    assert isinstance(answers[good.id], Receipt)
    refused = answers[bad.id]
    assert isinstance(refused, Rejection)
    line = [x.account for x in bad.lines].index("9999") + 1  # our 1-based number of the bad line
    assert "The G/L Account does not exist" in refused.message and refused.lines == (line,)
    assert erp.documents() == {document_number(good.id): 2}
    assert erp.batches() == [] and erp.unposted() == []


def test_one_journal_takes_six_calls_after_the_first_token_and_companies(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    bc.submit(journal(60))
    before = len(erp.calls())
    bc.submit(journal(61))
    assert [(r.method, r.resource) for r in erp.calls()[before:]] == [
        ("GET", "generalLedgerEntries"),
        ("POST", "journals"),
        ("POST", "$batch"),
        ("POST", "$batch"),
        ("POST", "Microsoft.NAV.post"),
        ("DELETE", "journals"),
    ]
    assert erp.tokens_issued == 1
