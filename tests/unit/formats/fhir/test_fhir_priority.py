"""FHIR's remittance is cash like an 835: a PaymentReconciliation, alone or in a Bundle of payments
only, is claimed before the backlog (SMALL_CASH, or FIRST when large); a Bundle that mixes payments
with visits or charges, any other resource and anything unreadable keep their place in arrival
order."""

from __future__ import annotations

import json

from revbridge.formats.base import FIRST, IN_ORDER, SMALL_CASH, SMALL_REMITTANCE_BYTES
from revbridge.formats.fhir import FHIR

PAYMENT = {"resourceType": "PaymentReconciliation", "id": "pr1", "status": "active"}
NOTICE = {"resourceType": "PaymentNotice", "id": "pn1", "status": "active"}
ENCOUNTER = {"resourceType": "Encounter", "id": "e1", "status": "finished"}


def _bundle(*resources: object) -> dict[str, object]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _priority(document: object) -> int:
    (envelope,) = FHIR.split(json.dumps(document).encode())
    return envelope.priority


def test_a_payment_reconciliation_alone_or_among_payments_is_small_cash() -> None:
    assert _priority(PAYMENT) == SMALL_CASH
    assert _priority(_bundle(PAYMENT, NOTICE)) == SMALL_CASH


def test_a_large_payment_reconciliation_goes_after_small_cash_and_before_the_rest() -> None:
    details = [{"type": {"text": "payment"}, "amount": {"value": 1, "currency": "USD"}}] * 3_000
    large = {**PAYMENT, "detail": details}
    assert len(json.dumps(large)) > SMALL_REMITTANCE_BYTES
    assert _priority(large) == FIRST


def test_anything_else_keeps_its_place_in_arrival_order() -> None:
    assert _priority(ENCOUNTER) == IN_ORDER
    assert _priority(NOTICE) == IN_ORDER  # a notice alone posts nothing
    assert _priority(_bundle(PAYMENT, ENCOUNTER)) == IN_ORDER
    assert _priority(_bundle(PAYMENT, {"id": "no type"})) == IN_ORDER
    assert _priority({"resourceType": "Bundle", "entry": "not a list"}) == IN_ORDER
    (broken,) = FHIR.split(b'{"resourceType": "PaymentReconciliation", ')
    assert broken.priority == IN_ORDER and broken.problems


def test_each_ndjson_line_has_its_own_priority() -> None:
    lines = b"\n".join(json.dumps(d).encode() for d in (ENCOUNTER, PAYMENT, _bundle(NOTICE)))
    assert [e.priority for e in FHIR.split(lines)] == [IN_ORDER, SMALL_CASH, IN_ORDER]
