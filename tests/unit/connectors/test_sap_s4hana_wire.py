"""SAP S/4HANA's documents against the schema (tests/support/xsd/sap), and revbridge's
confirmation endpoint as SAP meets it: served for real, over a migrated store.

Every request the connector builds validates, and one the schema forbids is refused by the test
system with SAP's sender fault, rejecting the bulk message's journals. The endpoint keeps a
confirmation once however often it comes, answers 202 with an empty body, and refuses a hostile or
foreign body with 400 and a SOAP fault, keeping nothing; without credentials it answers 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from connectors_journals import charge_batch, remittance, small
from erp_chart import reference
from sap_erp import HOSTILE, SapErp, schema
from sap_erp_books import Outcome
from sap_erp_confirm import confirmation
from sap_erp_rig import PASSWORD_ENV, Endpoint, segments, settings_for

from revbridge.connectors import registry, xmldoc
from revbridge.connectors.base import Rejection
from revbridge.connectors.sap_s4hana import SapS4HanaConnector
from revbridge.connectors.sap_s4hana_soap import add_journal, bulk_request, message_id
from revbridge.core.clock import SystemClock
from revbridge.store import Database, migrate, sap_confirmations


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    engine = Database.open(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.close()


@pytest.fixture
def erp(db: Database) -> Iterator[SapErp]:
    chart = reference()
    server = SapErp(chart, segments=frozenset(segments(chart).values()))
    endpoint = Endpoint(server)
    endpoint.attach(db)
    yield server
    endpoint.stop()
    server.close()


def _connector(erp: SapErp, db: Database, **changes: object) -> SapS4HanaConnector:
    settings = {**settings_for(erp, {}, reference()), **changes}
    settings.pop("limits")
    env = registry.Environment(db=db, clock=SystemClock(), secrets={PASSWORD_ENV: erp.password})
    connector = registry.build("sap_s4hana", settings, env)
    assert isinstance(connector, SapS4HanaConnector)
    return connector


def test_every_request_the_connector_builds_validates_against_the_schema(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db)
    journals = [remittance(), charge_batch(), small(1)]
    now = datetime.now(UTC)
    bulk = bulk_request(journals, connector._mapped, now)
    for journal in journals:
        add_journal(bulk, journal, connector._mapped, now)
    request = xmldoc.find(xmldoc.parse(xmldoc.envelope(bulk)), "Body", "JournalEntryBulkCreateRequest")
    assert request is not None
    schema().validate(request)
    assert {xmldoc.text(e, "DebitCreditCode") for e in xmldoc.every(request, "Item")} == {"S", "H"}
    assert {e.text for e in xmldoc.every(request, "Segment")} <= set(segments(reference()).values())
    connector.close()


def test_the_confirmation_the_test_system_sends_validates_too() -> None:
    posted = Outcome("A" * 32, "1010", "1000000007", "2026", [("RW(614)", "Document posted successfully")])
    refused = Outcome("B" * 32, "1010", notes=[("FH(004)", "Account 9999 does not exist")])
    document = xmldoc.find(
        xmldoc.parse(confirmation([posted, refused], "C" * 32)), "Body", "JournalEntryBulkCreateConfirmation"
    )
    assert document is not None
    schema().validate(document)


def test_a_request_the_schema_forbids_is_a_sender_fault_rejecting_the_bulk(erp: SapErp, db: Database) -> None:
    connector = _connector(erp, db, synchronous=True, document_type="TOOLONG")  # AccountingDocumentType: 4
    journals = [small(1), small(2)]
    answers = connector.submit_many(journals)
    assert all(isinstance(a, Rejection) and "Schema validation failed" in a.message for a in answers.values())
    assert [r.status for r in erp.requests] == [500]
    assert erp.books.rows() == []
    connector.close()


def _post(erp: SapErp, body: bytes, *, auth: bool = True) -> httpx.Response:
    url, credentials = erp.deliveries.endpoint
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    return httpx.post(url, content=body, headers=headers, auth=credentials if auth else None, timeout=30)


def _stored(db: Database) -> int:
    return sum(1 for _ in sap_confirmations.find(db, ["A" * 32, "B" * 32]).values())


def test_the_endpoint_keeps_a_confirmation_once_however_often_it_comes(erp: SapErp, db: Database) -> None:
    body = confirmation([Outcome("A" * 32, "1010", "1000000001", "2026")], "C" * 32)
    for _ in range(2):
        answer = _post(erp, body)
        assert (answer.status_code, answer.content) == (202, b"")
    (kept,) = sap_confirmations.find(db, ["A" * 32])["A" * 32]
    assert (kept.outcome, kept.accounting_document, kept.deliveries) == ("posted", "1000000001", 2)


@pytest.mark.parametrize("kind", [*HOSTILE, "foreign", "no_reference"])
def test_a_hostile_or_foreign_confirmation_is_refused_and_nothing_is_kept(
    erp: SapErp, db: Database, kind: str
) -> None:
    bodies = {
        **HOSTILE,
        "foreign": xmldoc.envelope(xmldoc.element("{urn:other}Anything", "x")),
        "no_reference": confirmation([Outcome("", "1010", "1000000001", "2026")], "C" * 32),
    }
    answer = _post(erp, bodies[kind])
    assert answer.status_code == 400
    fault = xmldoc.fault(xmldoc.parse(answer.content))
    assert fault is not None and fault.client
    assert _stored(db) == 0


def test_the_endpoint_wants_credentials(erp: SapErp, db: Database) -> None:
    body = confirmation([Outcome("A" * 32, "1010", "1000000001", "2026")], "C" * 32)
    assert _post(erp, body, auth=False).status_code == 401
    url, (user, _key) = erp.deliveries.endpoint
    wrong = httpx.post(url, content=body, auth=(user, "rb_wrong_key"), timeout=30)
    assert wrong.status_code == 401
    assert _stored(db) == 0
    assert message_id("A" * 32) == "A" * 32
