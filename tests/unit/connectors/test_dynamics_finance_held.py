"""``held`` against a fake F&O over loopback HTTP: what F&O holds that revbridge wrote, by date,
whoever put it there; nothing revbridge did not write; page after page; lines as read_back's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from connectors_journals import charge_batch, remittance, small
from fo_erp import FoErp
from fo_settings import settings

from revbridge.connectors.base import ConnectorUnavailable, Receipt
from revbridge.connectors.dynamics_finance import DynamicsFinanceConnector
from revbridge.connectors.dynamics_finance_package import journal_key, reference_of
from revbridge.ledger.journal import Journal

JUNE = (date(2026, 6, 1), date(2026, 6, 30))
UNKNOWN = "0123456789abcdef0123456789abcdef"  # an id shaped like revbridge's that its store lacks


@pytest.fixture
def erp() -> Iterator[FoErp]:
    server = FoErp(page_size=2, journal_names=("GenJrn", "Accruals"))
    yield server
    server.close()


@pytest.fixture
def fo(erp: FoErp) -> Iterator[DynamicsFinanceConnector]:
    connector = DynamicsFinanceConnector(settings(erp))
    yield connector
    connector.close()


def send(fo: DynamicsFinanceConnector, journals: list[Journal]) -> None:
    """Through the connector until F&O holds every journal (a DMF import is copied to target when
    its status is read)."""
    answers = fo.submit_many(journals)
    fo.check([a for a in answers.values() if isinstance(a, Receipt)])
    assert set(fo.read_back([j.id for j in journals])) == {j.id for j in journals}


def by_hand(
    erp: FoErp, *, description: str, journal_name: str = "GenJrn", day: date = date(2026, 6, 20)
) -> None:
    """A journal someone makes in F&O directly over its OData (balanced, two lines)."""
    with httpx.Client(base_url=erp.url) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": erp.client_id,
            "client_secret": erp.client_secret,
            "scope": f"{erp.url}/.default",
        }
        token = client.post(erp.token_url, data=form).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        header = {"dataAreaId": "mhn", "JournalName": journal_name, "Description": description}
        batch = client.post("/data/LedgerJournalHeaders", json=header).json()["JournalBatchNumber"]
        for number, (debit, credit) in enumerate((("12.50", "0"), ("0", "12.50")), start=1):
            line = {
                "dataAreaId": "mhn",
                "JournalBatchNumber": batch,
                "LineNumber": number,
                "AccountType": "Ledger",
                "AccountDisplayValue": ("1015" if number == 1 else "1220") + "||||",
                "TransDate": f"{day.isoformat()}T12:00:00Z",
                "CurrencyCode": "USD",
                "DebitAmount": debit,
                "CreditAmount": credit,
            }
            assert client.post("/data/LedgerJournalLines", json=line).status_code == 201


def test_journals_sent_are_held_in_their_date_range_and_not_outside(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    june = [remittance(), charge_batch(), small(1, date(2026, 6, 1)), small(2, date(2026, 6, 30))]
    july = [small(3, date(2026, 7, 1))]
    other = remittance(date(2026, 6, 10), legal_entity="MHS")  # not F&O's default company
    send(fo, june)  # one DMF package
    send(fo, july)  # over OData
    send(fo, [other])
    assert set(fo.held(*JUNE)) == {j.id for j in (*june, other)}
    assert set(fo.held(date(2026, 7, 1), date(2026, 7, 31))) == {july[0].id}
    assert set(fo.held(date(2026, 6, 15), date(2026, 6, 15))) == {remittance().id, charge_batch().id}
    assert fo.held(date(2026, 5, 1), date(2026, 5, 31)) == {}
    assert fo.held(date(2026, 6, 30), date(2026, 6, 1)) == {}
    assert fo.held(*JUNE)[other.id].legal_entity == "MHS"


def test_held_lines_equal_read_backs(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journals = [remittance(), charge_batch(), small(1), small(2)]
    send(fo, journals)
    erp.post_journals()
    held = fo.held(*JUNE)
    assert held == fo.read_back([j.id for j in journals])
    assert len(held[charge_batch().id].lines) == len(charge_batch().lines)


def test_a_journal_made_by_hand_with_revbridges_mark_is_held_and_others_are_not(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    send(fo, [small(1)])
    long_id = "ab" * 32  # an id of 64 hex digits: F&O keeps it as RB- and base32
    by_hand(erp, description=UNKNOWN)
    by_hand(erp, description=journal_key(long_id))
    by_hand(erp, description="June accrual")  # another source: no key
    by_hand(
        erp, description="fedcba9876543210fedcba9876543210", journal_name="Accruals"
    )  # not our journal name
    by_hand(erp, description="~" + small(2).id)  # an older revbridge's half-made OData journal
    by_hand(erp, description="RB-NOTAKEY")
    held = fo.held(*JUNE)
    assert set(held) == {small(1).id, UNKNOWN, long_id}
    assert [(a.account, a.debit, a.credit) for a in held[UNKNOWN].lines] == [
        ("1015", Decimal("12.50"), Decimal(0)),
        ("1220", Decimal(0), Decimal("12.50")),
    ]
    assert held[UNKNOWN].posting_date == date(2026, 6, 20) and held[UNKNOWN].legal_entity == "MHN"
    assert fo.held(date(2026, 6, 21), date(2026, 6, 30)) == {}  # small(1) is on the 15th


def test_held_pages_through_headers_and_lines(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journals = [remittance(), charge_batch(), *(small(n) for n in range(5))]
    send(fo, journals)
    before = len(erp.calls("/data/LedgerJournalHeaders", "GET"))
    held = fo.held(*JUNE)
    assert set(held) == {j.id for j in journals}
    assert len(erp.calls("/data/LedgerJournalHeaders", "GET")) - before == 4  # 7 headers, 2 a page
    assert len(held[remittance().id].lines) == 7  # its lines came on four pages
    assert held == fo.read_back([j.id for j in journals])


def test_a_read_that_fails_is_unavailable(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    send(fo, [small(1), small(2), small(3)])
    erp.fail_next("503", path="/data/LedgerJournalLines")
    with pytest.raises(ConnectorUnavailable):
        fo.held(*JUNE)
    assert set(fo.held(*JUNE)) == {small(n).id for n in (1, 2, 3)}


def test_reference_of_is_journal_keys_inverse_for_revbridges_ids() -> None:
    for reference in (small(1).id, "ab" * 32):
        assert reference_of(journal_key(reference)) == reference
    for description in (
        "June accrual",
        "RB-NOTAKEY",
        "~" + small(1).id,
        small(1).id.upper(),
        "RB-" + "A" * 51,
        "RB-AAAAAAAA",
    ):
        assert reference_of(description) is None
