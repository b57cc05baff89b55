"""What Business Central holds from revbridge over a date range (``held``), against a real HTTP BC:
the other side of reconciliation, documents in BC that revbridge's store may not have. BC keeps only
the document number (``RB`` + 18 hex digits) of our journal id, so ``held`` is keyed by ``key_of``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from bc_erp import SCOPE, BcErp
from bc_journals import connect, journal

from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.business_central import BusinessCentralConnector

JUNE = (date(2026, 6, 1), date(2026, 6, 30))


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


def _post_by_hand(erp: BcErp, document: str, day: str = "2026-06-10", amount: str = "7.25") -> None:
    """A balanced two-line document posted straight to BC's API, as a person or another tool would."""
    form = {
        "grant_type": "client_credentials",
        "client_id": erp.client_id,
        "client_secret": erp.client_secret,
        "scope": SCOPE,
    }
    token = httpx.post(erp.token_url, data=form).json()["access_token"]
    base = f"{erp.url}{erp.prefix}companies({erp.company_id('MHN')})/journals"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as api:
        batch = api.post(base, json={"code": "HAND" + document[-4:]}).json()["id"]
        for account, sign in (("1015", ""), ("1211", "-")):
            line = {
                "accountType": "G/L Account",
                "accountNumber": account,
                "postingDate": day,
                "documentNumber": document,
                "amount": json.loads(sign + amount),
            }
            assert api.post(f"{base}({batch})/journalLines", json=line).status_code == 201
        assert api.post(f"{base}({batch})/Microsoft.NAV.post").status_code == 204


def test_posted_journals_are_held_in_their_range_and_only_there(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    inside = [journal(1, day=date(2026, 6, 1)), journal(2, day=date(2026, 6, 30)), journal(3)]
    outside = [journal(4, day=date(2026, 5, 31)), journal(5, day=date(2026, 7, 1))]
    other_entity = journal(6, legal_entity="MHS")
    bc.submit_many([*inside, *outside])
    bc.submit(other_entity)
    held = bc.held(*JUNE)
    assert set(held) == {bc.key_of(j.id) for j in [*inside, other_entity]}
    assert held[bc.key_of(other_entity.id)].legal_entity == "MHS"
    assert set(bc.held(date(2026, 7, 1), date(2026, 7, 31))) == {bc.key_of(outside[1].id)}
    assert bc.held(date(2026, 8, 1), date(2026, 8, 31)) == {}


def test_key_of_is_the_document_number_bc_keeps(erp: BcErp, bc: BusinessCentralConnector) -> None:
    j = journal(7)
    posted = bc.submit(j)
    assert bc.key_of(j.id) == posted.document == "RB" + j.id[:18].upper()
    assert {e["documentNumber"] for e in erp.entries()} == {bc.key_of(j.id)}


def test_a_document_with_our_mark_but_an_unknown_reference_is_held(
    erp: BcErp, bc: BusinessCentralConnector
) -> None:
    stranger = bc.key_of("ab" * 16)  # a journal from another revbridge database, say
    _post_by_hand(erp, stranger)
    held = bc.held(*JUNE)
    assert list(held) == [stranger]
    assert held[stranger].posting_date == date(2026, 6, 10)
    assert {(a.account, a.debit, a.credit) for a in held[stranger].lines} == {
        ("1015", Decimal("7.25"), Decimal(0)),
        ("1211", Decimal(0), Decimal("7.25")),
    }


def test_documents_from_other_sources_are_not_held(erp: BcErp, bc: BusinessCentralConnector) -> None:
    ours = journal(8)
    bc.submit(ours)
    _post_by_hand(erp, "INV-1001")  # no prefix
    _post_by_hand(erp, "RB-0001")  # the prefix, not our shape
    _post_by_hand(erp, "RBA" + "0" * 16)  # one digit short
    assert len(erp.documents()) == 4
    assert set(bc.held(*JUNE)) == {bc.key_of(ours.id)}


def test_held_follows_next_links_beyond_one_page() -> None:
    erp = BcErp(page_size=3)
    bc = connect(erp, companies={"MHN": "MHN"})  # one company read: its pages are all the reads
    try:
        journals = [journal(n, amount=f"{n}.01") for n in range(10, 17)]  # 14 entries: 5 pages
        bc.submit_many(journals)
        _post_by_hand(erp, "INV-2002")  # filtered out by BC, not by us
        before = len(erp.calls("generalLedgerEntries", "GET"))
        held = bc.held(*JUNE)
        pages = len(erp.calls("generalLedgerEntries", "GET")) - before
        assert set(held) == {bc.key_of(j.id) for j in journals}
        assert all(len(h.lines) == 2 for h in held.values())
        assert pages == 5
    finally:
        bc.close()
        erp.close()


def test_lines_are_read_back_s(erp: BcErp) -> None:
    bc = connect(erp, accounts={"1015": "10150", "1211": "12110"})
    erp.ledger.accounts |= {"10150", "12110"}
    journals = [journal(20, amount="99.99"), journal(21, amount="0.01", day=date(2026, 6, 2))]
    bc.submit_many(journals)
    held = bc.held(*JUNE)
    back = bc.read_back([j.id for j in journals])
    for j in journals:
        mine, theirs = held[bc.key_of(j.id)], back[j.id]
        assert mine.lines == theirs.lines and {a.account for a in mine.lines} == {"1015", "1211"}
        assert (mine.document, mine.legal_entity, mine.posting_date) == (
            theirs.document,
            theirs.legal_entity,
            theirs.posting_date,
        )
    bc.close()


def test_an_unreachable_or_refusing_bc_is_unavailable(erp: BcErp, bc: BusinessCentralConnector) -> None:
    bc.submit(journal(30))
    erp.fail_next("503", on="generalLedgerEntries")
    with pytest.raises(ConnectorUnavailable):
        bc.held(*JUNE)
    erp.fail_next("garbled", on="generalLedgerEntries")
    with pytest.raises(ConnectorUnavailable):
        bc.held(*JUNE)
    assert set(bc.held(*JUNE)) == {bc.key_of(journal(30).id)}
