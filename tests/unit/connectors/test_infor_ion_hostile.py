"""A hostile or garbled answer from ION is refused without harm: an acknowledgement with entity
expansion, an external entity or a 50 MB body is never parsed into a posting, the journal stays
uncertain, and the next honest answer posts it once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from connectors_journals import remittance
from infor_erp import InforErp
from infor_erp_rig import connector, make_erp

from revbridge.connectors.base import ConnectorUnavailable, Receipt
from revbridge.connectors.infor_ion import InforIonConnector


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


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("entity_expansion", "DTDForbidden"),
        ("external_entity", "DTDForbidden"),
        ("huge", f"{50 * 1024 * 1024 + 7} bytes, over the limit"),
    ],
)
def test_a_hostile_acknowledgement_is_refused_and_the_journal_stays_uncertain(
    ion: InforIonConnector, erp: InforErp, kind: str, words: str
) -> None:
    journal = remittance()
    receipt = ion.submit(journal)
    erp.fail_next(kind, on="payload")
    with pytest.raises(ConnectorUnavailable) as refused:
        ion.check([receipt])
    # the 50 MB body is refused by its declared length, before a byte of it is read
    assert refused.value.uncertain and words in str(refused.value)
    posted = ion.check([receipt])[journal.id]  # the honest payload, read now
    assert isinstance(posted, Receipt) and erp.books.count(journal.id) == 1


def test_a_garbled_answer_to_a_send_is_uncertain_and_found_afterwards(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    erp.fail_next("garbled", on="message")
    with pytest.raises(ConnectorUnavailable) as garbled:
        ion.submit(journal)
    assert garbled.value.uncertain
    found = ion.lookup(journal.id)
    assert found is not None and not found.accepted  # acknowledged meanwhile: posted
    assert len(erp.calls("message")) == 1


def test_throttling_and_outages_are_unavailable_with_their_wait(
    ion: InforIonConnector, erp: InforErp
) -> None:
    erp.fail_next("429", on="message", retry_after="7")
    with pytest.raises(ConnectorUnavailable) as throttled:
        ion.submit(remittance())
    assert throttled.value.retry_after == 7 and not throttled.value.uncertain
    erp.fail_next("500", on="message")
    with pytest.raises(ConnectorUnavailable) as failed:
        ion.submit(remittance())
    assert failed.value.uncertain
    erp.fail_next("503", on="search")
    with pytest.raises(ConnectorUnavailable):
        ion.lookup(remittance().id)


def test_a_setup_ion_refuses_is_unavailable_not_a_rejection(erp: InforErp) -> None:
    stranger = connector(erp, logical_id="lid://infor.someone.else")
    with pytest.raises(ConnectorUnavailable, match=r"logical id \(403\)"):
        stranger.submit(remittance())
    stranger.close()
    assert erp.oneview.messages == []


def test_an_acknowledgement_without_a_known_outcome_is_no_answer(
    ion: InforIonConnector, erp: InforErp
) -> None:
    journal = remittance()
    receipt = ion.submit(journal)
    erp.oneview.run(every=True)
    (ack,) = [m for m in erp.oneview.messages if m.document_name.startswith("Acknowledge")]
    ack.payload = ack.payload.replace(b'actionCode="Accepted"', b'actionCode="Pending"')
    assert ion.check([receipt]) == {}  # neither posted nor refused on a guess: it waits
