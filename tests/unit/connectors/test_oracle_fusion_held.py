"""``held`` against a fake Oracle over loopback HTTP: what Oracle holds under revbridge's journal
source for a date range, page by page, read as ``read_back`` reads it, so that reconciliation can
name the journals Oracle holds that revbridge never sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from connectors_journals import small
from oracle_erp import OracleErp
from oracle_erp_jobs import Line
from oracle_fusion_kit import LEDGER_IDS, close_all, connector, settle

from revbridge.connectors.base import ConnectorUnavailable, Receipt
from revbridge.connectors.oracle_fusion import OracleFusionConnector
from revbridge.ledger.journal import Journal

JUNE = (date(2026, 6, 1), date(2026, 6, 30))
STRANGER = "0f" * 16  # a journal id revbridge's store does not have


@pytest.fixture
def erp() -> Iterator[OracleErp]:
    server = OracleErp(max_limit=2, sources=frozenset({"Patient Accounting", "Spreadsheet"}))
    yield server
    close_all()
    server.close()


def post(oracle: OracleFusionConnector, journals: list[Journal]) -> None:
    accepted = oracle.submit_many(journals)
    done = settle(oracle, list(accepted.values()))  # type: ignore[arg-type]
    assert len(done) == len(journals) and all(isinstance(a, Receipt) for a in done.values())


def two_lines(amount: str) -> list[Line]:
    """Cash debited, patient A/R credited, as segment values (legal entity, cost centre, account...)."""
    return [
        Line(1, ("MHN", "", "1015", "", ""), Decimal(amount), Decimal(0), "USD"),
        Line(2, ("MHN", "", "1220", "", ""), Decimal(0), Decimal(amount), "USD"),
    ]


def test_every_journal_posted_is_held_in_its_range_and_not_outside_it(erp: OracleErp) -> None:
    oracle = connector(erp)
    june = [small(n, date(2026, 6, day)) for n, day in enumerate((1, 10, 15, 30, 30), start=1)]
    july = [small(n, date(2026, 7, day)) for n, day in enumerate((1, 2), start=10)]
    may = [small(20, date(2026, 5, 31))]
    post(oracle, june + july + may)

    before = len(erp.calls("GET", "/journalBatches"))
    held = oracle.held(*JUNE)
    assert set(held) == {j.id for j in june}
    # five batches at two a page (the server's cap, below the 500 asked): three pages followed
    assert len(erp.calls("GET", "/journalBatches")) - before == 3
    assert set(oracle.held(date(2026, 7, 1), date(2026, 7, 31))) == {j.id for j in july}
    assert set(oracle.held(date(2026, 5, 31), date(2026, 6, 1))) == {may[0].id, june[0].id}
    assert oracle.held(date(2026, 8, 1), date(2026, 8, 31)) == {}
    for journal in june:
        assert held[journal.id] == oracle.read_back([journal.id])[journal.id]
        assert held[journal.id].posting_date == journal.posting_date
        assert sum(line.debit for line in held[journal.id].lines) == journal.total_debits("USD").amount


def test_the_connectors_own_page_size_pages_too(erp: OracleErp) -> None:
    oracle = connector(erp, page_size=1)
    journals = [small(n, date(2026, 6, 15)) for n in range(1, 4)]
    post(oracle, journals)
    before = len(erp.calls("GET", "/journalBatches"))
    assert set(oracle.held(*JUNE)) == {j.id for j in journals}
    assert len(erp.calls("GET", "/journalBatches")) - before == 3


def test_a_batch_keyed_by_hand_under_our_source_is_held_and_another_sources_is_not(erp: OracleErp) -> None:
    oracle = connector(erp)
    ours = small(1, date(2026, 6, 15))
    post(oracle, [ours])
    ledger = LEDGER_IDS["MHN"]
    erp.gl.enter(
        f"{STRANGER} Patient Accounting manual",
        "Patient Accounting",
        "2026-06-20",
        ledger,
        two_lines("12.34"),
    )
    erp.gl.enter(f"{'ab' * 16} Spreadsheet", "Spreadsheet", "2026-06-20", ledger, two_lines("99.00"))
    theirs = small(2, date(2026, 6, 16))
    post(connector(erp, journal_source="Spreadsheet"), [theirs])

    held = oracle.held(*JUNE)
    assert set(held) == {ours.id, STRANGER}
    stranger = held[STRANGER]
    assert stranger.legal_entity == "MHN" and stranger.posting_date == date(2026, 6, 20)
    assert [(a.account, a.debit, a.credit) for a in stranger.lines] == [
        ("1015", Decimal("12.34"), Decimal(0)),
        ("1220", Decimal(0), Decimal("12.34")),
    ]
    assert set(connector(erp, journal_source="Spreadsheet").held(*JUNE)) == {theirs.id, "ab" * 16}


def test_a_journal_oracle_holds_twice_is_held_once_with_both_batches(erp: OracleErp) -> None:
    oracle = connector(erp)
    journal = small(5, date(2026, 6, 15))
    post(oracle, [journal])
    (batch,) = erp.batches_for(journal.id)
    erp.gl.enter(
        f"{journal.id} Patient Accounting again",
        batch.source,
        batch.accounting_date,
        batch.ledger_id,
        batch.lines,
    )

    held = oracle.held(*JUNE)
    assert set(held) == {journal.id}
    assert len(held[journal.id].lines) == 2 * len(journal.lines)
    assert held[journal.id] == oracle.read_back([journal.id])[journal.id]


def test_oracle_down_is_connector_unavailable_and_nothing_partial(erp: OracleErp) -> None:
    oracle = connector(erp)
    post(oracle, [small(n, date(2026, 6, 15)) for n in range(1, 4)])
    erp.fail_next("503", on="GET")
    with pytest.raises(ConnectorUnavailable):
        oracle.held(*JUNE)
    assert len(oracle.held(*JUNE)) == 3
