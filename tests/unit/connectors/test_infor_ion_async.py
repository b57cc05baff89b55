"""CloudSuite's acknowledgements arrive when they arrive: late, twice, never; a resend after a
lost answer is found instead of sent again, and a refusal of an earlier send is not taken for
the answer to a later one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import xmlschema
from connectors_journals import remittance
from infor_erp import XSD, InforErp
from infor_erp_rig import connector, make_erp

from revbridge.connectors.base import ConnectorUnavailable, Receipt, Rejection
from revbridge.connectors.infor_ion import InforIonConnector


@pytest.fixture
def erp() -> Iterator[InforErp]:
    server = make_erp(ack_polls=3)
    yield server
    server.close()


@pytest.fixture
def ion(erp: InforErp) -> Iterator[InforIonConnector]:
    client = connector(erp)
    yield client
    client.close()


def test_a_late_acknowledgement_leaves_the_journal_accepted_until_it_comes(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    receipt = ion.submit(journal)
    assert ion.check([receipt]) == {} and ion.check([receipt]) == {}
    assert erp.books.count(journal.id) == 0
    posted = ion.check([receipt])[journal.id]
    assert isinstance(posted, Receipt) and posted.status == "posted"
    assert [r.route for r in erp.calls()].count("payload") == 1  # read once the answer existed


def test_an_acknowledgement_that_comes_twice_is_one_posting(ion: InforIonConnector, erp: InforErp) -> None:
    erp.fail_next("twice")
    journal = remittance()
    receipt = ion.submit(journal)
    erp.oneview.run(every=True)
    acks = [m for m in erp.oneview.messages if m.document_name.startswith("Acknowledge")]
    assert len(acks) == 2
    done = ion.check([receipt])
    assert isinstance(done[journal.id], Receipt) and erp.books.count(journal.id) == 1
    assert ion.read_back([journal.id])[journal.id].lines  # one journal read back, not two


def test_an_acknowledgement_that_never_comes_leaves_the_journal_accepted(
    ion: InforIonConnector, erp: InforErp
) -> None:
    erp.fail_next("never")
    journal = remittance()
    receipt = ion.submit(journal)
    for _ in range(5):
        assert ion.check([receipt]) == {}
    found = ion.lookup(journal.id)  # the outbox's retry after its deadline: ION has the BOD
    assert found is not None and found.accepted and erp.books.count(journal.id) == 0


def test_an_answer_lost_after_ion_took_the_bod_is_found_not_sent_again(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    erp.fail_next("drop_after_commit", on="message")
    with pytest.raises(ConnectorUnavailable) as lost:
        ion.submit(journal)
    assert lost.value.uncertain
    found = ion.lookup(journal.id)
    assert found is not None and found.accepted
    erp.oneview.run(every=True)
    posted = ion.check([found])[journal.id]
    assert isinstance(posted, Receipt) and not posted.accepted
    assert len(erp.calls("message")) == 1 and erp.books.count(journal.id) == 1


def test_a_duplicate_refusal_of_a_resend_does_not_undo_the_posting(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    first = ion.submit(journal)
    second = ion.submit(journal)  # a resend of the same BOD (another process, a lost answer)
    erp.oneview.run(every=True)
    assert erp.books.count(journal.id) == 1
    for receipt in (first, second):
        answer = ion.check([receipt])[journal.id]
        assert isinstance(answer, Receipt) and not answer.accepted


def test_a_refusal_of_an_earlier_send_is_not_the_answer_to_a_fixed_resend(erp: InforErp) -> None:
    journal = remittance()
    wrong = connector(erp, accounts={"7100": "9999"})
    sent = wrong.submit(journal)
    erp.oneview.run(every=True)
    refused = wrong.check([sent])[journal.id]
    wrong.close()
    assert isinstance(refused, Rejection) and refused.lines == (7,)
    fixed = connector(erp)
    try:
        receipt = fixed.submit(journal)  # the same BODID, after the account was fixed
        assert receipt.document != sent.document
        assert fixed.check([receipt]) == {}  # the old refusal is not this send's answer
        erp.oneview.run(every=True)
        posted = fixed.check([receipt])[journal.id]
        assert isinstance(posted, Receipt) and erp.books.count(journal.id) == 1
        old = fixed.check([sent])[journal.id]  # asked about the first send: it is posted now
        assert isinstance(old, Receipt) and old.document == posted.document
    finally:
        fixed.close()


def test_a_rejection_is_final_and_names_the_bodid(ion: InforIonConnector, erp: InforErp) -> None:
    journal = remittance()
    journal = replace(journal, lines=(replace(journal.lines[0], account="0000"), *journal.lines[1:]))
    receipt = ion.submit(journal)
    erp.oneview.run(every=True)
    rejection = ion.check([receipt])[journal.id]
    assert isinstance(rejection, Rejection) and rejection.lines == (1,)
    assert rejection.document == ion.bod_id(journal)


def test_ions_confirmbod_for_an_undelivered_bod_is_a_rejection_in_ions_words(
    ion: InforIonConnector, erp: InforErp
) -> None:
    erp.fail_next("confirm")
    journal = remittance()
    receipt = ion.submit(journal)
    erp.oneview.run(every=True)
    rejection = ion.check([receipt])[journal.id]
    assert isinstance(rejection, Rejection) and rejection.lines == ()
    assert "no active document flow" in rejection.message and erp.books.count(journal.id) == 0


def test_every_answer_the_test_erp_gives_matches_the_acknowledge_schema(
    ion: InforIonConnector, erp: InforErp
) -> None:
    schema = xmlschema.XMLSchema(str(XSD / "AcknowledgeSourceSystemJournalEntry.xsd"))
    good, bad, lost = remittance(trn="G"), remittance(trn="B"), remittance(trn="L")
    bad = replace(bad, lines=(replace(bad.lines[0], account="0000"), *bad.lines[1:]))
    ion.submit(good)
    ion.submit(bad)
    erp.fail_next("confirm")
    ion.submit(lost)
    erp.oneview.run(every=True)
    answers = [m for m in erp.oneview.messages if not m.document_name.startswith("Process")]
    assert sorted(m.document_name for m in answers) == [
        "AcknowledgeSourceSystemJournalEntry",
        "AcknowledgeSourceSystemJournalEntry",
        "ConfirmBOD",
    ]
    for message in answers:
        schema.validate(message.payload)
