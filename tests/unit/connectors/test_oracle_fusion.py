"""The Oracle Fusion connector against a fake Oracle over loopback HTTP: upload, ESS life cycle,
Journal Import's refusals, lookup, read-back and how many calls a batch takes."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from connectors_journals import charge_batch, nets, nonzero, remittance, small
from erp_chart import reference
from oracle_erp import API, OracleErp
from oracle_fusion_kit import LEDGER_IDS, close_all, connector, line_nets, settle, two_lines

from revbridge.connectors.base import Bulk, ConnectorRejected, Follows, ReadsBack, Receipt, Rejection
from revbridge.connectors.exports import FBDI_ENTERED_DR, FbdiSettings, fbdi_rows, group_id_of
from revbridge.connectors.oracle_fusion_files import import_bulk_data


@pytest.fixture
def erp() -> Iterator[OracleErp]:
    server = OracleErp()
    yield server
    close_all()
    server.close()


def test_posts_a_batch_in_one_upload_and_reads_back_the_journals_lines(erp: OracleErp) -> None:
    oracle = connector(erp)
    assert isinstance(oracle, Bulk) and isinstance(oracle, Follows) and isinstance(oracle, ReadsBack)
    journals = [remittance(), charge_batch(), small(7)]
    accepted = oracle.submit_many(journals)
    tickets = {a.document for a in accepted.values() if isinstance(a, Receipt) and a.accepted}
    assert len(tickets) == 1 and len(erp.uploads) == 1
    assert erp.uploads[0].parameters == (
        "#NULL",
        "Patient Accounting",
        LEDGER_IDS["MHN"],
        str(group_id_of([j.id for j in journals])),
        "N",
        "N",
        "N",
    )
    done = settle(oracle, list(accepted.values()))  # type: ignore[arg-type]
    assert all(isinstance(a, Receipt) and not a.accepted for a in done.values()) and len(done) == 3
    for journal in journals:
        (batch,) = erp.batches_for(journal.id)
        assert done[journal.id].document == str(batch.je_batch_id)
    assert nonzero(erp.balances()) == nets(journals)
    held = oracle.read_back([j.id for j in journals] + ["f" * 64])
    assert set(held) == {j.id for j in journals}
    for journal in journals:
        back: dict[str, Decimal] = {}
        for line in held[journal.id].lines:
            back[line.account] = back.get(line.account, Decimal(0)) + line.debit - line.credit
        assert nonzero(back) == nonzero(line_nets(journal))
        assert held[journal.id].legal_entity == "MHN" and held[journal.id].posting_date == date(2026, 6, 15)


def test_a_batch_of_120_takes_one_upload_and_a_fixed_number_of_calls(erp: OracleErp) -> None:
    oracle = connector(erp)
    journals = [small(n) for n in range(1, 121)]
    accepted = oracle.submit_many(journals)
    done = settle(oracle, list(accepted.values()))  # type: ignore[arg-type]
    assert len(done) == 120 and all(isinstance(a, Receipt) for a in done.values())
    # 3 lookups by batch name before sending (40 names a query), 1 upload, 2 + 2 ESS status polls,
    # 2 execution details, 3 journalBatches queries confirming the 120 batches
    assert len(erp.calls("POST", "/erpintegrations")) == 1
    assert len(erp.calls("GET", "/erpintegrations")) == 6
    assert len(erp.calls("GET", "/journalBatches")) == 6
    assert len(erp.requests) == 13


def test_one_upload_per_ledger(erp: OracleErp) -> None:
    oracle = connector(erp)
    north, south = remittance(), remittance(legal_entity="MHS")
    accepted = oracle.submit_many([north, south])
    assert accepted[north.id].document != accepted[south.id].document
    assert [u.parameters[2] for u in erp.uploads] == [LEDGER_IDS["MHN"], LEDGER_IDS["MHS"]]
    done = settle(oracle, list(accepted.values()))  # type: ignore[arg-type]
    assert all(isinstance(a, Receipt) for a in done.values()) and len(done) == 2


def test_life_cycle_stays_accepted_while_the_jobs_run() -> None:
    server = OracleErp(load_polls=3, import_polls=2)
    try:
        oracle = connector(server)
        receipt = oracle.submit(small(1))
        assert receipt.accepted and receipt.document.startswith("ess:")
        assert oracle.check([receipt]) == {} and oracle.check([receipt]) == {}  # load running
        assert oracle.check([receipt]) == {}  # load ended, import running
        (answer,) = oracle.check([receipt]).values()
        assert isinstance(answer, Receipt) and answer.status == "posted" and answer.posted_at is not None
    finally:
        server.close()


def test_a_job_that_never_finishes_stays_accepted(erp: OracleErp) -> None:
    oracle = connector(erp)
    erp.fail_next("never")
    receipt = oracle.submit(small(1))
    for _ in range(5):
        assert oracle.check([receipt]) == {}
    assert len(erp.calls("GET", "/erpintegrations")) == 5 and erp.gl.batches == []


def test_lookup_before_retry_finds_the_earlier_batch_and_no_second_upload_is_sent(erp: OracleErp) -> None:
    first = connector(erp)
    journal = remittance()
    done = settle(first, [first.submit(journal)])
    later = connector(erp)  # another process: only Oracle remembers
    found = later.lookup(journal.id)
    assert found is not None and found.document == done[journal.id].document and not found.accepted
    again = later.submit(journal)
    assert again.document == found.document and len(erp.uploads) == 1
    assert len(erp.batches_for(journal.id)) == 1
    assert later.lookup("0" * 64) is None


def test_oracle_itself_imports_the_same_group_twice(erp: OracleErp) -> None:
    """Why the connector looks up first: Journal Import has no duplicate check of its own."""
    journal = small(3)
    fbdi = FbdiSettings(ledger_ids=LEDGER_IDS)
    gid = group_id_of([journal.id])
    with httpx.Client(base_url=erp.url, auth=(erp.username, erp.password)) as client:
        for _ in range(2):
            content = _zip([fbdi_rows(journal, fbdi, group_id=gid)])
            body = import_bulk_data(
                content, "GlInterface.zip", f"#NULL,Patient Accounting,{LEDGER_IDS['MHN']},{gid},N,N,N"
            )
            assert client.post(f"{API}/erpintegrations", json=body).status_code == 201
    erp.run_jobs()
    assert len(erp.batches_for(journal.id)) == 2
    held = connector(erp).read_back([journal.id])[journal.id]
    assert len(held.lines) == 4 and "," in held.document


def _zip(journals_rows: list[list[list[str]]]) -> bytes:
    buffer = io.BytesIO()
    text = "".join(",".join(row) + "\n" for rows in journals_rows for row in rows)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("GlInterface.csv", text)
    return buffer.getvalue()


# -- Journal Import's refusals ---------------------------------------------------------------------


def _rejected(erp: OracleErp, journal_or_journals: object, **overrides: object) -> dict[str, Rejection]:
    oracle = connector(erp, **overrides)
    journals = journal_or_journals if isinstance(journal_or_journals, list) else [journal_or_journals]
    accepted = oracle.submit_many(journals)
    done = settle(oracle, list(accepted.values()))  # type: ignore[arg-type]
    assert all(isinstance(a, Rejection) for a in done.values()) and len(done) == len(journals)
    return done  # type: ignore[return-value]


def test_an_unknown_account_is_rejected_with_oracles_codes_and_the_line(erp: OracleErp) -> None:
    journal = two_lines("9999")
    (refusal,) = _rejected(erp, journal).values()
    assert "EF04" in refusal.message and "9999" in refusal.message and refusal.lines == (2,)
    assert refusal.document.startswith("ess:") and erp.gl.batches == []


def test_an_unknown_dimension_value_is_rejected_on_its_line(erp: OracleErp) -> None:
    (refusal,) = _rejected(erp, two_lines(payer="BOGUS-PAYER")).values()
    assert "EC03" in refusal.message and "BOGUS-PAYER" in refusal.message and refusal.lines == (2,)


def test_a_closed_period_is_rejected_on_every_line() -> None:
    server = OracleErp(chart=reference().closing("MHN", "2026-06"))
    try:
        (refusal,) = _rejected(server, two_lines()).values()
        assert "EP01" in refusal.message and refusal.lines == (1, 2)
    finally:
        server.close()


def test_one_bad_journal_does_not_stop_the_others(erp: OracleErp) -> None:
    oracle = connector(erp)
    good, bad = small(1), two_lines("9999")
    done = settle(oracle, list(oracle.submit_many([good, bad]).values()))  # type: ignore[arg-type]
    assert isinstance(done[good.id], Receipt) and isinstance(done[bad.id], Rejection)


def test_an_unknown_ledger_fails_the_import_and_rejects_every_journal(erp: OracleErp) -> None:
    done = _rejected(erp, [small(1), small(2)], ledger_ids={"MHN": "300000000000999"})
    assert all("EL01" in r.message and "ended ERROR" in r.message for r in done.values())


def test_an_unknown_company_segment_is_rejected(erp: OracleErp) -> None:
    (refusal,) = _rejected(erp, two_lines(), company_map={"MHN": "ZZZ"}).values()
    assert "ZZZ" in refusal.message and refusal.lines == (1, 2)


def test_an_unbalanced_upload_is_rejected_by_journal_import(erp: OracleErp) -> None:
    journal = small(4)
    gid = group_id_of([journal.id])
    rows = fbdi_rows(journal, FbdiSettings(ledger_ids=LEDGER_IDS), group_id=gid)
    rows[0][FBDI_ENTERED_DR] = str(Decimal(rows[0][FBDI_ENTERED_DR]) + Decimal("0.01"))
    body = import_bulk_data(
        _zip([rows]), "GlInterface.zip", f"#NULL,Patient Accounting,{LEDGER_IDS['MHN']},{gid},N,N,N"
    )
    with httpx.Client(base_url=erp.url, auth=(erp.username, erp.password)) as client:
        ticket = f"ess:{client.post(f'{API}/erpintegrations', json=body).json()['ReqstId']}/group:{gid}"
    done = settle(connector(erp), [Receipt(reference=journal.id, document=ticket, status="accepted")])
    refusal = done[journal.id]
    assert isinstance(refusal, Rejection) and "EU02" in refusal.message and "unbalanced" in refusal.message


def test_a_journal_without_a_ledger_is_refused_before_anything_is_sent(erp: OracleErp) -> None:
    oracle = connector(erp, ledger_ids={"MHS": LEDGER_IDS["MHS"]})
    with pytest.raises(ConnectorRejected, match="no Oracle ledger id"):
        oracle.submit(small(1))
    assert erp.calls("POST") == []


def test_the_upload_resource_refuses_a_wrong_document_account_and_a_non_zip(erp: OracleErp) -> None:
    good = import_bulk_data(_zip([]), "GlInterface.zip", "#NULL,Patient Accounting,1,2,N,N,N")
    with httpx.Client(base_url=erp.url, auth=(erp.username, erp.password)) as client:
        wrong_account = client.post(
            f"{API}/erpintegrations", json=good | {"DocumentAccount": "fin$/payables$/import$"}
        )
        wrong_job = client.post(f"{API}/erpintegrations", json=good | {"JobName": "/x,Y"})
        not_zip = client.post(
            f"{API}/erpintegrations", json=good | {"DocumentContent": base64.b64encode(b"a,b").decode()}
        )
        create = client.post(f"{API}/journalBatches", json={"BatchName": "x"})
    assert [wrong_account.status_code, wrong_job.status_code, not_zip.status_code] == [400, 400, 400]
    assert "DocumentAccount" in wrong_account.text and "zip" in not_zip.text
    assert create.status_code == 405 and erp.uploads == []
