"""The F&O connector against a fake F&O over loopback HTTP: DMF import to posted, OData for few
journals, lookup before resend, read back, and each refusal as a rejection naming our lines."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from connectors_journals import charge_batch, nets, remittance, small
from fo_erp import FoErp
from fo_settings import settings

from revbridge.connectors.base import Bulk, Follows, ReadsBack, Receipt
from revbridge.connectors.dynamics_finance import DynamicsFinanceConnector
from revbridge.connectors.dynamics_finance_package import execution_id, journal_key

DMF = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."


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


def test_a_package_is_imported_then_posted_only_when_fo_posts_it(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    journals = [remittance(), charge_batch(), small(1)]
    answers = fo.submit_many(journals)
    executions = {a.document for a in answers.values() if isinstance(a, Receipt) and a.accepted}
    assert executions == {execution_id(j.id for j in journals)}
    accepted = [a for a in answers.values() if isinstance(a, Receipt)]
    assert fo.check(accepted) == {}  # imported, not yet posted by F&O's journal post job
    assert erp.balances() == {}
    assert erp.post_journals() == 3
    done = fo.check(accepted)
    assert {r: a.status for r, a in done.items() if isinstance(a, Receipt)} == {
        j.id: "posted" for j in journals
    }
    assert erp.balances() == nets(journals)


def test_read_back_gives_our_accounts_and_amounts(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journal = remittance()
    fo.submit_many([journal, small(1), small(2)])
    fo.check(
        [
            Receipt(
                reference=journal.id,
                document=execution_id([journal.id, small(1).id, small(2).id]),
                status="accepted",
            )
        ]
    )
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
    first = a.submit_many(journals)
    second = a.submit_many([*journals[:2], small(9)])  # another grouping: a new execution id
    a.check([x for x in (*first.values(), *second.values()) if isinstance(x, Receipt)])
    assert len(erp.journals(journal_key(journals[0].id))) == 2  # F&O keeps both
    assert a.lookup(journals[0].id) is not None  # which is why the outbox looks up before a resend
    a.close()


def test_a_resent_package_is_found_by_its_execution_id_not_imported_again(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    journals = [small(n) for n in range(4)]
    first = fo.submit_many(journals)
    second = fo.submit_many(journals)
    assert first == second
    assert len(erp.calls(DMF + "ImportFromPackage")) == 1 and erp.dmf.imports_started == 1


def test_lookup_before_retry_finds_an_import_still_running_and_one_copied(
    erp: FoErp, fo: DynamicsFinanceConnector
) -> None:
    erp.stall()
    journals = [small(n) for n in range(3)]
    fo.submit_many(journals)
    found = fo.lookup_many([j.id for j in journals])
    assert {a.document for a in found.values()} == {execution_id(j.id for j in journals)}
    erp.stall(False)
    fo.check(list(found.values()))  # type: ignore[arg-type]
    assert fo.lookup(journals[0].id) is not None
    assert fo.lookup("e" * 64) is None


def test_a_batch_takes_five_calls_to_go_and_two_to_post(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    journals = [small(n) for n in range(50)]
    answers = fo.submit_many(journals)
    assert [(r.method, r.path.removeprefix(DMF)) for r in erp.requests] == [
        ("POST", "/contoso/oauth2/v2.0/token"),
        ("POST", "GetExecutionSummaryStatus"),
        ("POST", "GetAzureWriteUrl"),
        ("PUT", f"/blob/{execution_id(j.id for j in journals)}.zip"),
        ("POST", "ImportFromPackage"),
    ]
    erp.auto_post()
    before = len(erp.requests)
    done = fo.check([a for a in answers.values() if isinstance(a, Receipt)])
    assert len(done) == 50 and len(erp.requests) - before == 1 + 2  # status, headers in chunks of 25


def test_two_legal_entities_make_two_packages(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    north = [remittance(trn=f"T{n}") for n in range(3)]
    south = [remittance(trn=f"S{n}", legal_entity="MHS") for n in range(3)]
    answers = fo.submit_many(north + south)
    assert len({a.document for a in answers.values() if isinstance(a, Receipt)}) == 2
    erp.auto_post()
    done = fo.check([a for a in answers.values() if isinstance(a, Receipt)])
    assert all(isinstance(a, Receipt) and a.status == "posted" for a in done.values()) and len(done) == 6
    assert {j.legal_entity for j in fo.read_back([j.id for j in south]).values()} == {"MHS"}


def test_an_import_that_never_finishes_stays_accepted(erp: FoErp, fo: DynamicsFinanceConnector) -> None:
    erp.stall()
    answers = fo.submit_many([small(n) for n in range(3)])
    for _ in range(3):
        assert fo.check([a for a in answers.values() if isinstance(a, Receipt)]) == {}


def test_imports_are_never_started_in_parallel(erp: FoErp) -> None:
    import threading

    slow = FoErp(import_seconds=0.2)
    fo = DynamicsFinanceConnector(settings(slow))
    results: list[object] = []
    threads = [
        threading.Thread(
            target=lambda k=k: results.append(fo.submit_many([small(k * 10 + n) for n in range(3)]))
        )
        for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and slow.dmf.imports_started == 2
    assert all(r.status == 200 for r in slow.calls(DMF + "ImportFromPackage"))
    fo.close()
    slow.close()


def test_the_server_refuses_an_import_while_another_runs(erp: FoErp) -> None:
    import threading

    slow = FoErp(import_seconds=0.3)
    first = DynamicsFinanceConnector(settings(slow))
    second = DynamicsFinanceConnector(settings(slow))  # two processes: no shared lock
    errors: list[Exception] = []

    def go(connector: DynamicsFinanceConnector, base: int) -> None:
        try:
            connector.submit_many([small(base + n) for n in range(3)])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(c, b)) for c, b in ((first, 0), (second, 100))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status for r in slow.calls(DMF + "ImportFromPackage"))
    assert statuses == [200, 500] and len(errors) == 1 and "500" in str(errors[0])
    first.close()
    second.close()
    slow.close()
