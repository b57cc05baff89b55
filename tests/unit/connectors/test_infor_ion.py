"""The Infor ION connector against its test ERP: a journal goes to ION as a Process BOD that
matches the schema, is accepted, and is posted or rejected when CloudSuite's acknowledgement
comes; lookup, read_back and held read what CloudSuite holds back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import xmlschema
from connectors_journals import charge_batch, nets, remittance
from infor_erp import XSD, InforErp
from infor_erp_rig import TENANT, connector, make_erp

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ConnectorRejected, Follows, Receipt, Rejection
from revbridge.connectors.infor_ion import InforIonConnector, InforIonSettings
from revbridge.connectors.infor_ion_bod import process_bod


@pytest.fixture
def erp() -> Iterator[InforErp]:
    server = make_erp()
    yield server
    server.close()


@pytest.fixture
def ion(erp: InforErp) -> Iterator[InforIonConnector]:
    client = connector(erp)
    yield client
    client.close()


def test_every_bod_revbridge_builds_matches_the_schema() -> None:
    schema = xmlschema.XMLSchema(str(XSD / "ProcessSourceSystemJournalEntry.xsd"))
    settings = InforIonSettings(
        tenant="T",
        client_id="c",
        client_secret="s",
        gateway_url="g",
        sso_url="p",
        access_key="a",
        secret_key="k",
    )
    for journal in (remittance(), charge_batch()):
        body = process_bod(journal, settings, TENANT, datetime(2026, 6, 15, 8, tzinfo=UTC))
        schema.validate(body)
        root = xmldoc.parse(body)
        assert xmldoc.text(root, "JournalEntryHeader", "JournalID") == journal.id
        flags = [xmldoc.text(e, "DebitCreditFlag") for e in xmldoc.every(root, "JournalEntryLine")]
        assert flags == ["D" if line.debit.amount else "C" for line in journal.lines]
    broken = body.replace(b"<DebitCreditFlag>D</DebitCreditFlag>", b"<DebitCreditFlag>X</DebitCreditFlag>")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(broken)


def test_a_journal_is_accepted_then_posted_when_cloudsuite_acknowledges(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    receipt = ion.submit(journal)
    assert receipt.accepted and receipt.document.startswith(ion.bod_id(journal) + "@")
    assert isinstance(ion, Follows)
    assert erp.books.count(journal.id) == 0  # ION has it; CloudSuite has not worked it yet
    done = ion.check([receipt])
    posted = done[journal.id]
    assert isinstance(posted, Receipt) and not posted.accepted
    assert posted.document == erp.books.posted[("1000", journal.id)].number
    assert erp.books.balances() == nets([journal])
    assert [r.route for r in erp.calls()] == ["token", "message", "search", "payload"]


def test_a_bod_the_schema_refuses_is_refused_by_ion_not_posted(erp: InforErp) -> None:
    client = connector(erp, ledger_id="x" * 300)  # longer than LedgerID may be
    with pytest.raises(ConnectorRejected, match=r"ION refused the BOD \(400\).*schema"):
        client.submit(remittance())
    client.close()
    assert erp.oneview.messages == []


def test_a_rejection_carries_cloudsuites_reasons_and_our_line_numbers(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    unknown = replace(journal.lines[2], account="9999")
    odd = replace(journal.lines[4], dimensions=replace(journal.lines[4].dimensions, payer_class="NOPE"))
    journal = replace(journal, lines=(*journal.lines[:2], unknown, journal.lines[3], odd, *journal.lines[5:]))
    receipt = ion.submit(journal)
    rejection = ion.check([receipt])[journal.id]
    assert isinstance(rejection, Rejection)
    assert rejection.lines == (3, 5)
    assert "GL_ACCOUNT: Line 3: GL account 9999 does not exist" in rejection.message
    assert "PAYERCLASS value NOPE" in rejection.message
    assert erp.books.count(journal.id) == 0
    assert ion.lookup(journal.id) is None  # refused every time it went: a fixed journal goes again


def test_a_closed_period_and_an_unknown_entity_are_rejected(erp: InforErp) -> None:
    erp.books.chart = erp.books.chart.closing("MHN", "2026-06")
    client = connector(erp, accounting_entities={"MHN": "1000", "MHS": "9000"})
    closed, elsewhere = remittance(), remittance(trn="T2", legal_entity="MHS")
    answers = client.check([client.submit(closed), client.submit(elsewhere)])
    client.close()
    assert "PERIOD_CLOSED: Period 2026-06 is closed" in answers[closed.id].message  # type: ignore[union-attr]
    assert "Accounting entity 9000 does not exist" in answers[elsewhere.id].message  # type: ignore[union-attr]


def test_lookup_finds_the_bod_ion_holds_then_the_posted_journal(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    assert ion.lookup(journal.id) is None
    erp.oneview.stall(True)
    ion.submit(journal)
    found = ion.lookup(journal.id)
    assert found is not None and found.accepted and found.document == ion.bod_id(journal)
    erp.oneview.stall(False)
    posted = ion.lookup(journal.id)
    assert posted is not None and not posted.accepted
    assert posted.document == erp.books.posted[("1000", journal.id)].number


def test_read_back_and_held_give_what_cloudsuite_holds_in_our_terms(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journals = [remittance(), charge_batch()]
    ion.check([ion.submit(j) for j in journals])
    back = ion.read_back([j.id for j in journals] + ["0" * 32])
    assert set(back) == {j.id for j in journals}
    for journal in journals:
        held = back[journal.id]
        assert (held.legal_entity, held.posting_date) == ("MHN", journal.posting_date)
        nets_back: dict[str, Decimal] = {}
        for line in held.lines:
            nets_back[line.account] = nets_back.get(line.account, Decimal(0)) + line.debit - line.credit
        assert {k: v for k, v in nets_back.items() if v} == {k: v for k, v in nets([journal]).items() if v}
    assert set(ion.held(date(2026, 6, 1), date(2026, 6, 30))) == {j.id for j in journals}
    assert ion.held(date(2026, 7, 1), date(2026, 7, 31)) == {}
    other = connector(erp, journal_reference="OTHER")
    assert other.held(date(2026, 6, 1), date(2026, 6, 30)) == {}  # not revbridge's journal source
    other.close()


def test_many_references_are_looked_up_in_pages(erp: InforErp) -> None:
    client = connector(erp, page_size=2)
    journals = [remittance(trn=f"P{n}") for n in range(5)]
    client.check([client.submit(j) for j in journals])
    before = len(erp.calls("search"))
    found = client.lookup_many([j.id for j in journals])
    assert {r: f.accepted for r, f in found.items()} == {j.id: False for j in journals}
    assert len(erp.calls("search")) - before == 3  # five acknowledgements, two per page
    assert len(client.read_back([j.id for j in journals])) == 5
    client.close()


def test_the_test_cloudsuite_refuses_an_unbalanced_bod_and_a_second_bodid_for_a_posted_journal(
    erp: InforErp,
) -> None:
    settings = InforIonSettings(
        tenant=TENANT,
        client_id="c",
        client_secret="s",
        gateway_url="g",
        sso_url="p",
        access_key="a",
        secret_key="k",
        accounting_entities={"MHN": "1000"},
    )
    journal = remittance()
    body = process_bod(journal, settings, TENANT, datetime(2026, 6, 15, 8, tzinfo=UTC))
    unbalanced = body.replace(b">595.25</Amount>", b">595.26</Amount>", 1)
    assert b"UNBALANCED" in erp.books.process(unbalanced) and erp.books.count(journal.id) == 0
    assert b'actionCode="Accepted"' in erp.books.process(body)
    again = body.replace(b":1?SourceSystemJournalEntry", b":2?SourceSystemJournalEntry")  # a new BODID
    refused = erp.books.process(again)
    assert b'actionCode="Rejected"' in refused and b"DUPLICATE" in refused
    assert erp.books.count(journal.id) == 1
