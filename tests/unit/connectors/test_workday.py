"""The Workday connector against the Workday test tenant over loopback HTTP: the import followed
through its background process, the synchronous submit, exactly once through Add_Only and the
journal number, Workday's refusals as rejections naming our line, reading back and ``held``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from connectors_journals import charge_batch, nets, remittance, small
from erp_chart import reference
from workday_erp import WorkdayErp
from workday_erp_rig import connector

from revbridge.connectors.base import ConnectorRejected, Receipt, Rejection
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.workday import WorkdayConnector
from revbridge.ledger.journal import Journal

SENTINEL = "MRN-SENTINEL-73199"


@pytest.fixture
def erp() -> Iterator[WorkdayErp]:
    server = WorkdayErp(import_polls=3)
    yield server
    server.close()


@pytest.fixture(params=["username_token", "oauth2"])
def wd(request: pytest.FixtureRequest, erp: WorkdayErp) -> Iterator[WorkdayConnector]:
    client = connector(erp, oauth=request.param == "oauth2")
    yield client
    client.close()


def _follow(wd: WorkdayConnector, receipt: Receipt, polls: int = 10) -> Receipt | Rejection:
    for _ in range(polls):
        done = wd.check([receipt])
        if receipt.reference in done:
            return done[receipt.reference]
    raise AssertionError("the import process never ended")


def _with_account(journal: Journal, line_no: int, account: str) -> Journal:
    changed = replace(journal.lines[line_no - 1], account=account)
    return replace(journal, lines=(*journal.lines[: line_no - 1], changed, *journal.lines[line_no:]))


def test_an_import_is_followed_through_its_background_process_to_the_end(
    wd: WorkdayConnector, erp: WorkdayErp
) -> None:
    journal = remittance(trn=SENTINEL)
    receipt = wd.submit(journal)
    assert receipt.accepted and receipt.document in erp.books.processes
    assert wd.check([receipt]) == {} and wd.check([receipt]) == {}  # Processing, twice
    posted = wd.check([receipt])[journal.id]
    assert isinstance(posted, Receipt) and not posted.accepted
    (held,) = erp.books.numbered(journal.id)
    assert held.journal_id == journal.id and held.source == "revbridge"
    assert nets([journal]) == erp.books.balances()
    assert SENTINEL.encode() not in b"".join(erp.bodies)
    assert [c.operation for c in erp.calls()][-4:] == ["Import_Accounting_Journal"] + [
        "Get_Import_Processes"
    ] * 3


def test_worktags_carry_cost_centre_payer_class_and_facility(wd: WorkdayConnector, erp: WorkdayErp) -> None:
    journal = charge_batch()
    _follow(wd, wd.submit(journal))
    (held,) = erp.books.numbered(journal.id)
    for sent, line in zip(exact_lines(journal), held.lines, strict=True):
        assert (line.account, line.debit, line.credit) == (sent.account, sent.debit, sent.credit)
        if sent.cost_center:
            assert line.worktags["Cost_Center_Reference_ID"] == sent.cost_center
        if sent.facility:
            assert line.worktags["Location_ID"] == sent.facility


def test_a_rejected_import_names_our_line_in_workdays_words(wd: WorkdayConnector, erp: WorkdayErp) -> None:
    bad = _with_account(remittance(trn="BAD"), 3, "9999")
    answer = _follow(wd, wd.submit(bad))
    assert isinstance(answer, Rejection)
    assert "'9999' is not a valid ID value for type = 'Ledger_Account_ID'" in answer.message
    assert answer.lines == (3,) and answer.document in erp.books.processes
    assert erp.books.numbered(bad.id) == []
    assert erp.calls("Get_Import_Process_Messages")


def test_the_synchronous_submit_posts_at_once_and_a_refusal_names_the_line(erp: WorkdayErp) -> None:
    wd = connector(erp, operation="submit")
    try:
        good = remittance(trn="GOOD")
        receipt = wd.submit(good)
        assert (
            not receipt.accepted and receipt.document == erp.books.numbered(good.id)[0].journal_id == good.id
        )
        with pytest.raises(ConnectorRejected) as refused:
            wd.submit(_with_account(remittance(trn="BAD"), 5, "9999"))
        assert refused.value.lines == (5,) and "'9999'" in str(refused.value)
    finally:
        wd.close()


def test_a_closed_period_and_an_unknown_worktag_are_refused() -> None:
    erp = WorkdayErp(reference().closing("MHN", "2026-06"))
    wd = connector(erp, operation="submit")
    try:
        with pytest.raises(ConnectorRejected, match="closed period for company MHN"):
            wd.submit(small(1))
        unknown = connector(erp, operation="submit", cost_centers={"CC-4100": "CC-NOWHERE"})
        journal = remittance(date(2026, 7, 1))
        with pytest.raises(ConnectorRejected, match="CC-NOWHERE") as refused:
            unknown.submit(journal)
        unknown.close()
        assert refused.value.lines == tuple(line.line_no for line in exact_lines(journal) if line.cost_center)
    finally:
        wd.close()
        erp.close()


def test_an_unknown_company_is_refused(erp: WorkdayErp) -> None:
    wd = connector(erp, operation="submit", companies={"MHN": "NO_SUCH_COMPANY"})
    try:
        with pytest.raises(ConnectorRejected, match="Company_Reference_ID"):
            wd.submit(small(2))
    finally:
        wd.close()


def test_a_second_submit_is_refused_by_add_only_and_found_not_posted_twice(erp: WorkdayErp) -> None:
    wd = connector(erp, operation="submit")
    try:
        journal = small(3)
        first = wd.submit(journal)
        again = wd.submit(journal)  # the answer to the first was lost, say
        assert again.document == first.document
        assert len(erp.books.numbered(journal.id)) == 1
        assert [c.status for c in erp.calls("Submit_Accounting_Journal")] == [200, 500]
    finally:
        wd.close()


def test_an_import_sent_twice_posts_once_whichever_process_ends_first(
    wd: WorkdayConnector, erp: WorkdayErp
) -> None:
    journal = small(4)
    first = wd.submit(journal)
    second = wd.submit(journal)  # a resend after a lost answer: a second process
    erp.books.run_all()  # Workday's queue runs both: Add_Only refuses the second
    answers = wd.check([first, second])
    assert isinstance(answers[journal.id], Receipt) and not answers[journal.id].accepted
    assert {wd.check([r])[journal.id].document for r in (first, second)} == {journal.id}
    assert erp.books.processes[second.document].status == "Failed"  # Add_Only refused it
    assert len(erp.books.numbered(journal.id)) == 1


def test_a_process_that_never_ends_stays_accepted(wd: WorkdayConnector, erp: WorkdayErp) -> None:
    erp.fail_next("never")
    receipt = wd.submit(small(5))
    for _ in range(12):
        assert wd.check([receipt]) == {}
    erp.books.run_all()
    assert wd.check([receipt]) == {}
    assert erp.books.processes[receipt.document].status == "Processing"


def test_lookup_and_read_back_find_what_workday_holds(wd: WorkdayConnector, erp: WorkdayErp) -> None:
    journal = remittance(trn="READ")
    assert wd.lookup(journal.id) is None and wd.read_back([journal.id]) == {}
    _follow(wd, wd.submit(journal))
    found = wd.lookup(journal.id)
    assert found is not None and found.document == journal.id == erp.books.numbered(journal.id)[0].journal_id
    held = wd.read_back([journal.id, "f" * 32])[journal.id]
    assert held.legal_entity == journal.legal_entity and held.posting_date == journal.posting_date
    assert sum(line.debit for line in held.lines) == sum(line.debit for line in exact_lines(journal))
    assert [(a.account, a.debit, a.credit) for a in held.lines] == [
        (line.account, line.debit, line.credit) for line in exact_lines(journal)
    ]


def test_held_lists_every_journal_of_our_source_in_the_dates_page_by_page(erp: WorkdayErp) -> None:
    wd = connector(erp, operation="submit", page_size=2)
    try:
        made = [small(n) for n in range(10, 15)]
        for journal in made:
            wd.submit(journal)
        wd.submit(small(20, date(2026, 7, 1)))  # outside the dates
        held = wd.held(date(2026, 6, 1), date(2026, 6, 30))
        assert set(held) == {j.id for j in made}
        assert sum((line.debit for j in held.values() for line in j.lines), Decimal(0)) == sum(
            (line.debit for j in made for line in exact_lines(j)), Decimal(0)
        )
        assert len(erp.calls("Get_Journals")) == 3  # five journals, two a page
    finally:
        wd.close()
