"""The Workday connector's two ways of authenticating, Workday's faults and hostile answers, and
every document it sends checked against the schema (tests/support/xsd/workday/bsvc.xsd)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest
import xmlschema
from connectors_journals import charge_batch, remittance, small
from workday_erp import WorkdayErp
from workday_erp_answers import XSD
from workday_erp_rig import connector, settings

from revbridge.connectors import registry, workday_documents, xmldoc
from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.workday_auth import username_token


@pytest.fixture
def erp() -> Iterator[WorkdayErp]:
    server = WorkdayErp()
    yield server
    server.close()


# -- authentication -----------------------------------------------------------------------------


def test_username_token_is_sent_in_the_soap_header_and_a_wrong_password_is_refused(erp: WorkdayErp) -> None:
    wd = connector(erp)
    assert wd.lookup(small(1).id) is None
    header = xmldoc.parse(erp.bodies[-1])
    assert (
        xmldoc.text(header, "Header", "Security", "UsernameToken", "Username")
        == f"ISU_revbridge@{erp.tenant}"
    )
    wd.close()
    wrong = connector(erp, password="not-the-password")
    with pytest.raises(ConnectorUnavailable, match="refused our credentials") as refused:
        wrong.submit(small(1))
    assert "not-the-password" not in str(refused.value) and "not-the-password" not in repr(wrong.settings)
    wrong.close()
    assert erp.books.processes == {}


def test_oauth_fetches_one_token_renews_it_on_a_401_once_and_before_expiry(erp: WorkdayErp) -> None:
    now = [0.0]
    wd = connector(erp, oauth=True, monotonic=lambda: now[0])
    try:
        for n in range(3):
            wd.lookup(small(n).id)
        assert wd.tokens_fetched == 1
        assert b"Security" not in erp.bodies[-1]  # Bearer, no WS-Security header
        erp.expire_tokens()  # Workday forgot the token: 401, a new token, the call again
        wd.lookup(small(9).id)
        assert wd.tokens_fetched == 2
        assert [r.status for r in erp.requests[-3:]] == [401, 200, 200]
        now[0] += 3600 - 300 + 1  # within refresh_margin of expiry: renewed before use
        wd.lookup(small(9).id)
        assert wd.tokens_fetched == 3 and erp.requests[-1].status == 200
    finally:
        wd.close()


def test_a_refused_refresh_token_sends_nothing(erp: WorkdayErp) -> None:
    wd = connector(erp, oauth=True, refresh_token="revoked-token")
    with pytest.raises(
        ConnectorUnavailable, match=r"refused our client or refresh token \(400\) invalid_grant"
    ):
        wd.submit(small(1))
    wd.close()
    assert [r.operation for r in erp.requests] == ["token"] and erp.bodies == []


def test_settings_name_their_secrets_through_the_environment(erp: WorkdayErp) -> None:
    from revbridge.core.clock import SystemClock
    from revbridge.store import Database

    env = registry.Environment(
        db=Database.open("sqlite://"), clock=SystemClock(), secrets={"WD_PW": erp.password}
    )
    values = {"tenant": erp.tenant, "base_url": erp.url, "username": f"ISU_revbridge@{erp.tenant}"}
    built = registry.build("workday", {**values, "password_env": "WD_PW"}, env)
    assert built.lookup(small(1).id) is None
    built.close()
    with pytest.raises(Exception, match="authentication needs password"):
        registry.build("workday", values, env)


# -- faults -------------------------------------------------------------------------------------


def test_throttling_and_server_errors_are_unavailable(erp: WorkdayErp) -> None:
    wd = connector(erp)
    try:
        erp.fail_next("503", retry_after="7")
        with pytest.raises(ConnectorUnavailable) as busy:
            wd.submit(small(1))
        assert busy.value.retry_after == 7 and not busy.value.uncertain
        erp.fail_next("500")
        with pytest.raises(ConnectorUnavailable) as failed:
            wd.submit(small(1))
        assert failed.value.uncertain
        assert wd.submit(small(1)).accepted
    finally:
        wd.close()


def test_a_throttled_call_waits_as_workday_asks_and_a_slow_answer_is_uncertain(erp: WorkdayErp) -> None:
    wd = connector(erp, timeout=0.2)
    erp.slow_seconds = 1.0
    try:
        erp.fail_next("429", retry_after="3")
        with pytest.raises(ConnectorUnavailable) as throttled:
            wd.lookup(small(1).id)
        assert throttled.value.retry_after == 3 and not throttled.value.uncertain
        erp.fail_next("slow", on="Import_Accounting_Journal")
        with pytest.raises(ConnectorUnavailable) as slow:
            wd.submit(small(1))
        assert slow.value.uncertain and "ReadTimeout" in str(slow.value)
    finally:
        wd.close()


@pytest.mark.parametrize("kind", ["drop_after_commit", "garbled"])
def test_an_answer_lost_or_garbled_after_the_import_is_uncertain(erp: WorkdayErp, kind: str) -> None:
    wd = connector(erp)
    try:
        erp.fail_next(kind, on="Import_Accounting_Journal")
        with pytest.raises(ConnectorUnavailable) as lost:
            wd.submit(small(2))
        assert lost.value.uncertain and len(erp.books.processes) == 1  # Workday took it
    finally:
        wd.close()


@pytest.mark.parametrize("kind", ["entities", "external_entity", "huge"])
def test_a_hostile_answer_is_refused_without_harm(erp: WorkdayErp, kind: str) -> None:
    wd = connector(erp)
    try:
        erp.fail_next(kind)
        start = time.monotonic()
        with pytest.raises(ConnectorUnavailable, match="answer was refused") as refused:
            wd.submit(small(3))
        assert refused.value.uncertain and time.monotonic() - start < 10
        assert "root:" not in str(refused.value)  # nothing of /etc/passwd
        assert wd.lookup(small(3).id) is None  # the connection is usable again
    finally:
        wd.close()


def test_a_hostile_answer_to_a_status_read_is_refused_and_the_journal_stays_accepted(erp: WorkdayErp) -> None:
    wd = connector(erp)
    try:
        receipt = wd.submit(small(6))
        erp.fail_next("entities", on="Get_Import_Processes")
        with pytest.raises(ConnectorUnavailable, match="answer was refused"):
            wd.check([receipt])
        assert erp.books.processes[receipt.document].status == "Processing"
        assert receipt.reference in wd.check([receipt])
    finally:
        wd.close()


def test_a_request_outside_the_schema_gets_workdays_validation_fault(erp: WorkdayErp) -> None:
    request = workday_documents.import_request(small(4), settings(erp))
    data = xmldoc.find(request, "Accounting_Journal_Data")
    data.remove(next(e for e in data if xmldoc.local(e.tag) == "Ledger_Type_Reference"))
    import httpx

    body = xmldoc.envelope(request, header=username_token(f"ISU_revbridge@{erp.tenant}", erp.password))
    answer = httpx.post(f"{erp.url}/ccx/service/{erp.tenant}/Financial_Management/v43.0", content=body)
    assert answer.status_code == 500
    fault = xmldoc.fault(xmldoc.parse(answer.content))
    assert fault is not None and fault.client and "Accounting_Journal_Data" in fault.detail
    assert erp.books.processes == {}


def test_the_tenant_refuses_an_unbalanced_or_intercompany_journal_without_affiliate(erp: WorkdayErp) -> None:
    data = xmldoc.find(
        workday_documents.submit_request(remittance(), settings(erp)), "Accounting_Journal_Data"
    )
    data = xmldoc.parse(xmldoc.serialize(data))
    lines = [e for e in data if xmldoc.local(e.tag) == "Journal_Entry_Line_Replacement_Data"]
    next(e for e in lines[0] if xmldoc.local(e.tag) in ("Debit_Amount", "Credit_Amount")).text = "1.00"
    company = next(e for e in lines[1] if xmldoc.local(e.tag) == "Line_Company_Reference")
    next(iter(company)).text = "MHS"
    problems = erp.books.problems(data, "Submit_Accounting_Journal_Request", add_only=True)
    words = " ".join(p.message for p in problems)
    assert "out of balance" in words and "Intercompany Affiliate worktag is required" in words
    assert any(
        p.xpath.endswith("Journal_Entry_Line_Replacement_Data[2]/wd:Line_Company_Reference[1]")
        for p in problems
    )


def test_a_refusal_of_a_query_is_never_a_rejection_of_the_journal(erp: WorkdayErp) -> None:
    wd = connector(erp, journal_source="NOT_A_SOURCE", operation="submit")
    try:
        with pytest.raises(ConnectorRejected):
            wd.submit(small(5))
        with pytest.raises(ConnectorUnavailable, match="refused a Financial_Management query") as refused:
            wd.lookup(small(5).id)  # a setup problem, never the journal's fault
        assert "Journal_Source_ID" in str(refused.value)
    finally:
        wd.close()


# -- the schema ---------------------------------------------------------------------------------


def test_every_document_the_connector_sends_is_valid_against_the_schema(erp: WorkdayErp) -> None:
    schema = xmlschema.XMLSchema(str(XSD))
    config = settings(erp)
    documents = [
        workday_documents.import_request(charge_batch(), config),
        workday_documents.submit_request(remittance(), config),
        workday_documents.journals_numbered("abc", config),
        workday_documents.journals_dated(date(2026, 6, 1), date(2026, 6, 30), 2, config),
        workday_documents.import_process("0" * 32, config.version),
        workday_documents.import_messages("0" * 32, 1, config.version),
    ]
    for document in documents:
        schema.validate(xmldoc.parse(xmldoc.serialize(document)))
    broken = xmldoc.parse(xmldoc.serialize(documents[0]))
    data = xmldoc.find(broken, "Accounting_Journal_Data")
    data.append(data[0])  # Accounting_Journal_ID again, after the lines: out of order
    assert not schema.is_valid(broken)
