"""``held`` against the NetSuite test ERP over loopback HTTP: every journal entry NetSuite holds
with revbridge's memo mark in a date range, found by SuiteQL paged two rows at a time, with the
lines read_back gives; what another source entered is never ours."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from connectors_journals import charge_batch, remittance, small
from netsuite_erp import NetsuiteErp
from netsuite_erp_query import SUITEQL
from netsuite_erp_setup import connector, make_erp, settings

from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.netsuite import NetsuiteConnector
from revbridge.connectors.netsuite_records import journal_entry
from revbridge.ledger.journal import Journal

JUNE = (date(2026, 6, 1), date(2026, 6, 30))
DAYS = (date(2026, 6, 1), date(2026, 6, 13), date(2026, 6, 14), date(2026, 6, 15), date(2026, 6, 16))


@pytest.fixture
def erp() -> Iterator[NetsuiteErp]:
    server = make_erp()
    yield server
    server.close()


@pytest.fixture(params=["oauth2", "tba"])
def ns(request: pytest.FixtureRequest, erp: NetsuiteErp) -> Iterator[NetsuiteConnector]:
    client = connector(erp, authentication=request.param, query_page_size=2)
    yield client
    client.close()


def _post(client: NetsuiteConnector, journals: list[Journal]) -> list[Journal]:
    for journal in journals:
        assert client.submit(journal).status == "posted"
    return journals


def _body(erp: NetsuiteErp, journal: Journal, **changes: Any) -> dict[str, Any]:
    """The record body the connector would send, changed as someone entering it elsewhere would."""
    body = journal_entry(journal, settings(erp))
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _queries(erp: NetsuiteErp) -> int:
    return len([r for r in erp.calls("POST", SUITEQL) if r.status == 200])


def test_every_journal_posted_is_held_in_its_date_range_and_none_outside_it(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journals = _post(ns, [small(n, day) for n, day in enumerate(DAYS)] + [remittance(), charge_batch()])

    june = ns.held(*JUNE)
    middle = ns.held(date(2026, 6, 14), date(2026, 6, 15))

    assert set(june) == {j.id for j in journals}
    in_middle = {j.id for j in journals if date(2026, 6, 14) <= j.posting_date <= date(2026, 6, 15)}
    assert set(middle) == in_middle and len(in_middle) == 4  # both ends of the range included
    assert ns.held(date(2026, 5, 1), date(2026, 5, 31)) == {}
    assert {k: v.posting_date for k, v in june.items()} == {j.id: j.posting_date for j in journals}


def test_paging_goes_beyond_one_page_and_sees_each_record_once(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    journals = _post(ns, [small(n) for n in range(7)])
    before = _queries(erp)

    held = ns.held(*JUNE)

    assert set(held) == {j.id for j in journals}
    assert _queries(erp) - before == 4  # 7 rows, 2 a page: offsets 0, 2, 4, 6
    reads = [r for r in erp.calls("GET") if r.path.rsplit("/", 1)[-1].isdigit()]
    assert len(reads) == 7


def test_lines_are_what_read_back_gives(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    journals = _post(ns, [remittance(), charge_batch(), small(3)])

    held = ns.held(*JUNE)

    assert held == ns.read_back([j.id for j in journals])
    remit = held[journals[0].id]
    assert (remit.legal_entity, remit.document) == ("MHN", erp.books.records[journals[0].id].id)
    assert len(remit.lines) == len(erp.books.records[journals[0].id].body["line"]["items"])


def test_a_record_with_our_mark_but_a_reference_we_never_sent_is_held(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    (ours,) = _post(ns, [remittance()])
    stranger = "ab" * 16  # another revbridge database's journal id
    erp.books.upsert(stranger, _body(erp, remittance(trn="TRN0002"), externalId=stranger))
    by_hand = erp.books.enter(_body(erp, remittance(trn="TRN0003"), externalId=None))

    held = ns.held(*JUNE)

    assert set(held) == {ours.id, stranger, f"id:{by_hand.id}"}
    assert held[stranger].lines == held[ours.id].lines  # the same remittance, entered twice
    assert held[f"id:{by_hand.id}"].document == by_hand.id


def test_records_from_another_source_are_not_held(ns: NetsuiteConnector, erp: NetsuiteErp) -> None:
    (ours,) = _post(ns, [small(1)])
    other = small(2)
    erp.books.upsert("payroll-2026-06", _body(erp, other, externalId="payroll-2026-06", memo="Payroll June"))
    erp.books.upsert("x1", _body(erp, other, externalId="x1", memo="revbridgex realtime 0123"))
    erp.books.upsert("x2", _body(erp, other, externalId="x2", memo="Revbridge realtime 0123"))
    erp.books.upsert("x3", _body(erp, other, externalId="x3", memo=None))
    erp.books.enter(_body(erp, other, externalId=None, memo="accrual reversal"))

    assert set(ns.held(*JUNE)) == {ours.id}


def test_a_memo_prefix_with_sql_wildcards_and_a_quote_is_matched_literally(erp: NetsuiteErp) -> None:
    client = connector(erp, memo_prefix="rb_o'k%")
    try:
        (ours,) = _post(client, [small(1)])
        look_alike = _body(erp, small(2), externalId="y1", memo="rbXo'kZZ realtime 0123")
        erp.books.upsert("y1", look_alike)

        assert set(client.held(*JUNE)) == {ours.id}
    finally:
        client.close()


def test_without_a_mark_or_when_netsuite_fails_it_is_unavailable(
    ns: NetsuiteConnector, erp: NetsuiteErp
) -> None:
    _post(ns, [small(1)])
    unmarked = NetsuiteConnector(replace(ns.settings, memo_prefix=""))
    try:
        with pytest.raises(ConnectorUnavailable, match="memo_prefix"):
            unmarked.held(*JUNE)
    finally:
        unmarked.close()
    erp.fail_next("503", on="POST")
    with pytest.raises(ConnectorUnavailable):
        ns.held(*JUNE)
    assert len(ns.held(*JUNE)) == 1  # the next reconcile reads it all
