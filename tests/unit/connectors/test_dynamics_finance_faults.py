"""The F&O connector's refusals and faults: each refusal F&O makes becomes a rejection with F&O's
words and our line numbers; throttling, lost and unreadable answers and refused credentials
become ConnectorUnavailable; no secret or PHI leaves in a request or an error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from connectors_journals import remittance, small
from erp_chart import reference
from fo_erp import FoErp
from fo_settings import settings

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Receipt, Rejection
from revbridge.connectors.dynamics_finance import DynamicsFinanceConnector
from revbridge.connectors.dynamics_finance_package import execution_id, rows_for

SENTINEL = "TRN-SENTINEL-PHI-4471"


@pytest.fixture
def erp() -> Iterator[FoErp]:
    server = FoErp()
    yield server
    server.close()


def _connector(erp: FoErp, **changes: object) -> DynamicsFinanceConnector:
    return DynamicsFinanceConnector(settings(erp, **changes))


def _finish(fo: DynamicsFinanceConnector, answers: dict[str, object]) -> dict[str, object]:
    return dict(fo.check([a for a in answers.values() if isinstance(a, Receipt)]))


@pytest.mark.parametrize(
    ("changes", "words", "lines"),
    [
        ({"accounts": {"4510": "9999"}}, "Main account '9999' does not exist", (6,)),
        ({"cost_centers": {"CC-4100": "CC-9999"}}, "CostCenter does not exist", (6,)),
        ({"companies": {"MHN": "ZZZ"}}, "Company 'ZZZ' does not exist", (1, 2, 3, 4, 5, 6, 7)),
    ],
)
def test_a_refusal_in_the_package_is_a_rejection_naming_our_lines(
    erp: FoErp, changes: dict[str, object], words: str, lines: tuple[int, ...]
) -> None:
    fo = _connector(erp, **changes)
    journals = [remittance(trn=f"T{n}") for n in range(3)]
    done = _finish(fo, fo.submit_many(journals))
    assert set(done) == {j.id for j in journals}
    for answer in done.values():
        assert isinstance(answer, Rejection) and words in answer.message and answer.lines == lines
    assert erp.ledger.headers == []  # a journal batch with an error is not created
    fo.close()


def test_a_closed_period_is_refused_in_the_package_and_over_odata() -> None:
    erp = FoErp(reference().closing("MHN", "2026-06"))
    fo = _connector(erp)
    done = _finish(fo, fo.submit_many([small(n) for n in range(3)]))
    assert all(
        isinstance(a, Rejection) and "period" in a.message and a.lines == (1, 2) for a in done.values()
    )
    with pytest.raises(ConnectorRejected, match="closed") as refused:
        fo.submit(small(7))
    assert refused.value.lines == (1,) and erp.ledger.headers == erp.ledger.lines == []  # none made
    fo.close()
    erp.close()


def test_an_unbalanced_voucher_is_refused_naming_every_line(erp: FoErp) -> None:
    fo = _connector(erp)
    journal = small(1)
    rows = rows_for(journal, 1, "GenJrn", {1: "1015||||F01|", 2: "1220||||F01|"})
    rows[1]["CREDITAMOUNT"] = "0.01"  # no journal can be unbalanced: the package is tampered with
    fo.dmf.upload("MHN", "tampered", [{k: v.replace("||||", "|||") for k, v in r.items()} for r in rows])
    done = fo.check([Receipt(reference=journal.id, document="revbridge-tampered", status="accepted")])
    assert done == {}  # not our execution id prefix: nothing known
    status = fo.dmf.status("tampered")
    assert status == "Failed"
    errors = fo.dmf.errors("tampered")
    assert errors is not None
    (messages, lines) = next(iter(errors.values()))
    assert "do not balance" in messages[0] and lines == (1, 2)
    fo.close()


def test_a_partly_refused_package_posts_the_rest(erp: FoErp) -> None:
    fo = _connector(erp, accounts={"7100": "9999"})  # only the remittance uses 7100
    journals = [remittance(), small(1), small(2)]
    erp.auto_post()
    done = _finish(fo, fo.submit_many(journals))
    assert erp.dmf.executions[execution_id(j.id for j in journals)].outcome == "PartiallySucceeded"
    assert isinstance(done[journals[0].id], Rejection) and done[journals[0].id].lines == (7,)  # type: ignore[union-attr]
    assert all(isinstance(done[j.id], Receipt) for j in journals[1:])
    fo.close()


def test_a_target_error_file_not_yet_ready_leaves_the_journal_accepted() -> None:
    erp = FoErp(keys_file_delay=1)
    fo = _connector(erp, accounts={"1015": "9999"})
    answers = fo.submit_many([small(n) for n in range(3)])
    assert _finish(fo, answers) == {}
    assert all(isinstance(a, Rejection) for a in _finish(fo, answers).values())
    fo.close()
    erp.close()


def test_429_is_unavailable_with_retry_after(erp: FoErp) -> None:
    fo = _connector(erp)
    erp.fail_next("429", retry_after="13")
    with pytest.raises(ConnectorUnavailable) as busy:
        fo.submit_many([small(n) for n in range(3)])
    assert busy.value.retry_after == 13.0 and not busy.value.uncertain
    fo.close()


@pytest.mark.parametrize("kind", ["drop_after_commit", "garbled"])
def test_a_lost_or_unreadable_import_answer_is_uncertain_and_lookup_finds_it(erp: FoErp, kind: str) -> None:
    fo = _connector(erp)
    journals = [small(n) for n in range(3)]
    erp.fail_next(
        kind, path="/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.ImportFromPackage"
    )
    with pytest.raises(ConnectorUnavailable) as lost:
        fo.submit_many(journals)
    assert lost.value.uncertain
    found = fo.lookup_many([j.id for j in journals])
    assert {a.document for a in found.values()} == {execution_id(j.id for j in journals)}
    assert erp.dmf.imports_started == 1
    fo.close()


def test_a_lost_odata_answer_is_uncertain_and_lookup_finds_the_whole_journal(erp: FoErp) -> None:
    fo = _connector(erp)
    journal = remittance()
    erp.fail_next("drop_after_commit", path="/data/$batch")
    with pytest.raises(ConnectorUnavailable) as lost:
        fo.submit(journal)
    found = fo.lookup(journal.id)
    assert lost.value.uncertain and found is not None  # the changeset went whole
    receipt = fo.submit(journal)  # a resend finds it and makes no second journal
    assert len(erp.ledger.headers) == 1 and erp.ledger.headers[0]["JournalBatchNumber"] == receipt.document
    assert found.document == receipt.document and len(erp.ledger.lines) == len(journal.lines)
    fo.close()


def test_a_slow_answer_past_the_timeout_is_uncertain(erp: FoErp) -> None:
    fo = _connector(erp, timeout=0.2)
    erp.fail_next("slow", seconds=0.5, path="/data/$batch")
    with pytest.raises(ConnectorUnavailable) as slow:
        fo.submit(small(1))
    assert slow.value.uncertain
    fo.close()


def test_refused_credentials_are_a_clear_unavailable(erp: FoErp) -> None:
    fo = _connector(erp, client_secret="wrong-secret-value")
    with pytest.raises(ConnectorUnavailable, match="token endpoint answered 401") as refused:
        fo.submit(small(1))
    assert "wrong-secret-value" not in str(refused.value) and "wrong-secret-value" not in repr(fo)
    fo.close()


def test_the_token_is_cached_and_renewed_after_a_401(erp: FoErp) -> None:
    fo = _connector(erp)
    fo.submit_many([small(n) for n in range(3)])
    fo.lookup(small(1).id)
    assert fo.tokens_fetched == 1
    erp.revoke_tokens()
    fo.lookup(small(1).id)
    assert fo.tokens_fetched == 2 and erp.tokens_issued == 2
    fo.close()


def test_no_secret_or_phi_leaves_in_any_request(erp: FoErp) -> None:
    fo = _connector(erp)
    journal = remittance(trn=SENTINEL)
    assert any(SENTINEL in key for line in journal.lines for key in line.event_keys)
    fo.submit(journal)
    fo.submit_many([remittance(trn=SENTINEL + "x"), small(1), small(2)])
    bodies = b"".join(r.body for r in erp.requests if "/token" not in r.path)
    assert SENTINEL.encode() not in bodies and SENTINEL.encode("utf-16-le") not in bodies
    assert erp.client_secret.encode() not in bodies
    for blob in erp.dmf.blobs.values():
        assert SENTINEL.encode() not in blob and b"835:" not in blob
    fo.close()
