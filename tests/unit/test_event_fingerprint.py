"""An event's content fingerprint is what tells a repeat from a conflict when a message is sent
again, so it must not change between releases: events stored by an older version would turn into
EVENT_CONFLICTs. The stored text may change shape; it must decode to the same event."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date

from revbridge.canonical import codec
from revbridge.canonical.events import PatientPaymentReceived
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.store.events import _encoded, fingerprint

PAYMENT = PatientPaymentReceived(
    key="portal:F01:pay-1",
    source=SourceRef("01a215a4-e65d-7000-9d5d-832d3092684f", "payment"),
    occurred_on=date(2026, 11, 2),
    facility="F01",
    payment_id="pay-1",
    method="card",
    amount=Money.of("125.40"),
)


def test_the_fingerprint_is_stable_and_ignores_where_the_event_came_from() -> None:
    expected = "25239db3abb5b7dac2e422ed8b8c1dbadd2456b3bdd903a220dca772701463b0"  # as of 2026-11-25
    moved = replace(PAYMENT, source=SourceRef("another-message", "elsewhere"))
    assert fingerprint(PAYMENT) == fingerprint(moved) == expected


def test_the_stored_text_decodes_to_the_event_with_its_source() -> None:
    text, digest = _encoded(PAYMENT)
    assert digest == fingerprint(PAYMENT)
    assert codec.loads(text) == PAYMENT
    assert json.loads(text)["source"] == {"message_id": PAYMENT.source.message_id, "locator": "payment"}


@dataclass(frozen=True)
class _Empty:
    pass


@dataclass(frozen=True)
class _One:
    amount: Money


@dataclass(frozen=True)
class _Many:
    name: str
    count: int
    flag: bool
    missing: None
    on: date
    parts: tuple[_One | _Empty, ...]


def test_the_encoding_reads_every_shape_of_dataclass_field_by_field() -> None:
    # The codec reads a dataclass's fields as one tuple; a class of one field or none is the edge.
    value = _Many("n", 3, True, None, date(2026, 11, 2), (_One(Money.of("1.50")), _Empty()))
    assert codec.encode_value(value) == {
        "name": "n",
        "count": 3,
        "flag": True,
        "missing": None,
        "on": "2026-11-02",
        "parts": [{"amount": {"amount": "1.50", "currency": "USD"}}, {}],
    }
