"""The F&O connector against a fake F&O over loopback HTTP: DMF import to posted, OData for few
journals, lookup before resend, read back, and each refusal as a rejection naming our lines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
from connectors_journals import charge_batch, nets, remittance, small
from erp_chart import reference
from fo_erp import FoErp

from revbridge.connectors.base import Bulk, Follows, Receipt, ReadsBack, Rejection
from revbridge.connectors.dynamics_finance import DynamicsFinanceConnector, DynamicsFinanceSettings
from revbridge.connectors.dynamics_finance_package import execution_id, journal_key

DMF = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."


def settings(erp: FoErp, **changes: object) -> DynamicsFinanceSettings:
    base = DynamicsFinanceSettings(
        base_url=erp.url,
        token_url=erp.token_url,
        client_id=erp.client_id,
        client_secret=erp.client_secret,
        dimension_delimiter="|",
        odata_below=3,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def erp() -> Iterator[FoErp]:
    server = FoErp()
    yield server
    server.close()


@pytest.fixture
def fo(erp: FoErp) -> Iterator[DynamicsFinanceConnector]:
    connector = DynamicsFinanceConnector(settings(erp))
    yield connector
    connector.close()


def test_the_connector_is_bulk_follows_and_reads_back(fo: DynamicsFinanceConnector) -> None:
    assert isinstance(fo, Bulk) and isinstance(fo, Follows) and isinstance(fo, ReadsBack)
    assert fo.batch_size == 2000


def test_a_package_is_imported_then_posted_only_when_fo_posts_it(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journals = [remittance(), charge_batch(), small(1)]
    answers = fo.submit_many(journals)
    executions = {a.document for a in answers.values() if isinstance(a, Receipt) and a.accepted}
    assert executions == {execution_id(j.id for j in journals)}
    accepted = [a for a in answers.values() if isinstance(a, Receipt)]
    assert fo.check(accepted) == {}  # imported, not yet posted by F&O's journal post job
    assert erp.balances() == {}
    assert erp.post_journals() == 3
    done = fo.check(accepted)
    assert {r: a.status for r, a in done.items() if isinstance(a, Receipt)} == {j.id: "posted" for j in journals}
    assert erp.balances() == nets(journals)


def test_read_back_gives_our_accounts_and_amounts(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journal = remittance()
    fo.submit_many([journal, small(1), small(2)])
    fo.check([Receipt(reference=journal.id, document=execution_id([journal.id, small(1).id, small(2).id]), status="accepted")])
    held = fo.read_back([journal.id, "f" * 64])
    assert list(held) == [journal.id]
    back = held[journal.id]
    assert back.legal_entity == "MHN" and back.posting_date == journal.posting_date
    assert [(a.account, a.debit, a.credit) for a in back.lines] == [
        (line.account, line.debit.amount, line.credit.amount) for line in journal.lines
    ]


def test_a_few_journals_go_over_odata_and_a_resend_makes_no_second_journal(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    journal = remittance()
    first = fo.submit(journal)
    assert first.accepted and not erp.calls(DMF + "ImportFromPackage")
    again = fo.submit(journal)
    assert again.document == first.document
    assert len(erp.journals(journal_key(journal.id))) == 1
    erp.post_journals()
    assert fo.check([first])[journal.id].status == "posted"  # type: ignore[union-attr]


def test_the_server_does_not_dedupe_by_description_so_lookup_must(erp: FoErp) -> None:
    journals = [small(n) for n in range(3)]
    a = DynamicsFinanceConnector(settings(erp))
    a.submit_many(journals)
    a.submit_many(journals[:2] + [small(9)])  # another grouping: a new execution id
    assert len(erp.journals(journal_key(journals[0].id))) == 0  # not copied yet: no status poll
    a.close()
