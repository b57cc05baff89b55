"""Portal payment JSON: the documented schema (docs/portal-payments.md), located problems,
Decimal amounts, tokens and nothing else from the patient object."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from revbridge.canonical.codec import dumps
from revbridge.canonical.events import PatientPaymentReceived, PaymentPlanUpdated, RefundIssued
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Limits, ParseContext
from revbridge.formats.portal import PORTAL, check, dedupe_key, to_events

RECEIVED = date(2024, 6, 30)


def ctx() -> ParseContext:
    return ParseContext(message_id="pm-1", tokenizer=fixed_tokenizer(), received_on=RECEIVED)


def run(document: Any) -> Any:
    payload = document if isinstance(document, bytes) else json.dumps(document).encode()
    return to_events(payload, ctx())


def payment(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "payment",
        "id": "PAY-1001",
        "facility": "NORTH",
        "encounter": "V-889",
        "patient": {"id": "MRN-42"},
        "amount": "12.50",
        "currency": "USD",
        "method": "card",
        "received_at": "2024-05-01T23:10:00-04:00",
    }
    item.update(changes)
    return item


def refund(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "refund",
        "id": "REF-7",
        "facility": "NORTH",
        "amount": 5,
        "original_payment_id": "PAY-1001",
        "date": "2024-05-03",
    }
    item.update(changes)
    return item


def plan(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "payment_plan",
        "id": "PLAN-3",
        "facility": "NORTH",
        "patient": {"id": "MRN-42"},
        "total": "600.00",
        "installments": 6,
        "status": "active",
        "updated_at": "2024-05-02T08:00:00Z",
    }
    item.update(changes)
    return item


def test_payment() -> None:
    outcome = run(payment())
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, PatientPaymentReceived)
    assert (event.key, event.payment_id, event.facility, event.encounter, event.method) == (
        "portal:NORTH/payment/PAY-1001",
        "PAY-1001",
        "NORTH",
        "V-889",
        "card",
    )
    assert event.amount == Money.of("12.50")
    assert event.occurred_on == date(2024, 5, 1)  # the local date as written
    assert event.patient == fixed_tokenizer()("mrn", "MRN-42")
    assert (event.source.message_id, event.source.locator) == ("pm-1", "$")


def test_refund_and_plan() -> None:
    (r,) = run(refund()).items
    assert isinstance(r, RefundIssued)
    assert (r.key, r.recipient, r.original_payment_id, r.amount, r.occurred_on) == (
        "portal:NORTH/refund/REF-7",
        "patient",
        "PAY-1001",
        Money.of("5"),
        date(2024, 5, 3),
    )
    (p,) = run(plan()).items
    assert isinstance(p, PaymentPlanUpdated)
    assert (p.plan_id, p.total, p.installments, p.status, p.occurred_on) == (
        "PLAN-3",
        Money.of("600.00"),
        6,
        "active",
        date(2024, 5, 2),
    )


def test_payer_refund_needs_a_payer() -> None:
    outcome = run(refund(recipient="payer"))
    assert outcome.items == ()
    assert [(str(p.code), p.locator) for p in outcome.problems] == [("MISSING_FIELD", "$.payer_id")]
    (event,) = run(refund(recipient="payer", payer_id="BCBS")).items
    assert isinstance(event, RefundIssued)
    assert (event.recipient, event.payer_id) == ("payer", "BCBS")


def test_amounts_are_exact_decimals_from_strings_or_numbers() -> None:
    big = run(payment(amount="12345678901234567.89")).items[0]
    assert big.amount.amount == Decimal("12345678901234567.89")
    number = to_events(json.dumps(payment(amount=0)).replace('"amount": 0', '"amount": 0.10').encode(), ctx())
    assert number.items[0].amount == Money.of("0.10")
    assert isinstance(number.items[0].amount.amount, Decimal)


def test_inexact_amount_is_rounded_half_even_with_a_warning() -> None:
    outcome = run(payment(amount="0.125"))
    (event,) = outcome.items
    assert event.amount == Money.of("0.12")
    (problem,) = outcome.problems
    assert (problem.code, problem.severity, problem.locator, problem.event_key) == (
        ProblemCode.INEXACT_AMOUNT,
        Severity.WARNING,
        "$.amount",
        "portal:NORTH/payment/PAY-1001",
    )


@pytest.mark.parametrize(
    ("changes", "code", "locator", "posts"),
    [
        ({"amount": "-1.00"}, "INVALID_AMOUNT", "$.amount", False),
        ({"amount": "0"}, "INVALID_AMOUNT", "$.amount", False),
        ({"amount": "12,50"}, "INVALID_AMOUNT", "$.amount", False),
        ({"amount": True}, "INVALID_AMOUNT", "$.amount", False),
        ({"amount": None}, "MISSING_AMOUNT", "$.amount", False),
        ({"id": None}, "MISSING_FIELD", "$.id", False),
        ({"facility": "north side!"}, "INVALID_VALUE", "$.facility", False),
        ({"currency": "ZZZ"}, "UNSUPPORTED_CURRENCY", "$.currency", False),
        # The payment itself is sound: it is read, and the problem (keyed to it) holds it.
        ({"patient": "MRN-42"}, "INVALID_VALUE", "$.patient", True),
        ({"patient": {"kind": "mrn"}}, "MISSING_FIELD", "$.patient.id", True),
        ({"method": "Visa 4111 1111 1111 1111"}, "INVALID_VALUE", "$.method", True),
        ({"type": "chargeback"}, "UNSUPPORTED_TRANSACTION", "$.type", False),
    ],
)
def test_bad_fields_are_located(changes: dict[str, Any], code: str, locator: str, posts: bool) -> None:
    outcome = run(payment(**changes))
    assert [(str(p.code), p.locator) for p in outcome.problems] == [(code, locator)]
    assert len(outcome.items) == (1 if posts else 0)
    if posts:
        assert outcome.problems[0].event_key == outcome.items[0].key
        assert not outcome.ok


def test_bad_dates_fall_back_to_the_received_date() -> None:
    outcome = run(payment(received_at="yesterday"))
    (event,) = outcome.items
    assert event.occurred_on == RECEIVED
    assert [(str(p.code), p.locator) for p in outcome.problems] == [("INVALID_DATE", "$.received_at")]
    (dated,) = run(payment(date="2024-04-30")).items
    assert dated.occurred_on == date(2024, 4, 30)  # date wins over the timestamp
    no_date = payment()
    del no_date["received_at"]
    assert run(no_date).items[0].occurred_on == RECEIVED


def test_plans_need_a_patient_and_sane_installments() -> None:
    assert [p.locator for p in run(plan(patient=None)).problems] == ["$.patient"]
    assert [p.locator for p in run(plan(installments=-1)).problems] == ["$.installments"]
    assert [p.locator for p in run(plan(status="paused")).problems] == ["$.status"]
    assert run(plan(total="0")).problems == ()  # a plan may be paid off


def test_batch_and_list_items_are_located_and_independent() -> None:
    batch = {"batch_id": "B-2024-05-01", "items": [payment(), {"type": "payment"}, 7, refund(), payment()]}
    outcome = run(batch)
    assert [type(e).__name__ for e in outcome.items] == ["PatientPaymentReceived", "RefundIssued"]
    assert [(str(p.code), p.locator) for p in outcome.problems] == [
        ("MISSING_FIELD", "$.items[1].id"),
        ("MISSING_FIELD", "$.items[1].facility"),
        ("MISSING_AMOUNT", "$.items[1].amount"),
        ("INVALID_VALUE", "$.items[2]"),
        ("EVENT_CONFLICT", "$.items[4]"),
    ]
    listed = run([payment(), refund()])
    assert [e.source.locator for e in listed.items] == ["$[0]", "$[1]"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{oops", "MALFORMED_MESSAGE"),
        (b"42", "MALFORMED_MESSAGE"),
        (b"[]", "MALFORMED_MESSAGE"),
        (b'{"items": {}}', "MALFORMED_MESSAGE"),
        (b'{"type": "payment", "amount": NaN}', "MALFORMED_MESSAGE"),
    ],
)
def test_bodies_that_are_not_portal_json(payload: bytes, code: str) -> None:
    outcome = to_events(payload, ctx())
    assert outcome.items == ()
    assert [str(p.code) for p in outcome.problems] == [code]


def test_limits() -> None:
    small = ParseContext(
        message_id="m", tokenizer=fixed_tokenizer(), received_on=RECEIVED, limits=Limits(max_message_bytes=20)
    )
    assert [str(p.code) for p in to_events(json.dumps(payment()).encode(), small).problems] == [
        "LIMIT_EXCEEDED"
    ]
    many = json.dumps([payment(id=f"P{n}") for n in range(10_001)]).encode()
    assert [str(p.code) for p in to_events(many, ctx()).problems] == ["LIMIT_EXCEEDED"]


def test_nothing_but_the_patient_id_is_read() -> None:
    sentinels = ["Quixote", "Zebulon", "1961-07-04", "742 Evergreen", "zq@example.org", "4111111111111111"]
    item = payment(
        patient={
            "id": "MRN-SENTINEL-77",
            "name": "Quixote Zebulon",
            "dob": "1961-07-04",
            "email": "zq@example.org",
        },
        payer_name="Quixote Zebulon",
        address="742 Evergreen Terrace",
        card="4111111111111111",
    )
    broken = payment(
        id="Quixote Zebulon", method="Quixote", currency="Zebulon", received_at="1961-07-04 Quixote"
    )
    for document in (item, [item, broken]):
        outcome = run(document)
        text = "\n".join(
            [dumps(e) for e in outcome.items]
            + [f"{p.message} {p.locator} {p.details}" for p in outcome.problems]
        )
        for sentinel in [*sentinels, "MRN-SENTINEL-77"]:
            assert sentinel not in text
    # The broken item was read through and complained about, field by field.
    assert [p.locator for p in run([item, broken]).problems] == [
        "$[1].id",
        "$[1].currency",
        "$[1].received_at",
        "$[1].method",
    ]


# ---- format object ----------------------------------------------------------------------------


def test_detect_split_and_dedupe() -> None:
    assert PORTAL.name == "portal"
    single = json.dumps(payment()).encode()
    assert PORTAL.detect(single)
    assert PORTAL.detect(json.dumps({"batch_id": "b", "items": [refund()]}).encode())
    assert not PORTAL.detect(b'{"resourceType": "PaymentNotice", "type": "payment"}')
    assert not PORTAL.detect(b"MSH|^~\\&|")
    (envelope,) = PORTAL.split(single)
    assert (envelope.format, envelope.payload, envelope.dedupe_key) == (
        "portal",
        single,
        "portal:NORTH/payment/PAY-1001",
    )
    assert dedupe_key({"batch_id": "B-1", "items": []}) == "portal:batch/B-1"
    assert dedupe_key([payment()]) == ""
    assert dedupe_key({"batch_id": "has space", "items": []}) == ""
    (broken,) = PORTAL.split(b"{nope")
    assert [p.code for p in broken.problems] == [ProblemCode.MALFORMED_MESSAGE]
    assert broken.payload == b"{nope"


def test_check_for_the_route() -> None:
    assert check(json.dumps(payment()).encode()) == ()
    assert [p.locator for p in check(json.dumps([payment(amount="-2")]).encode())] == ["$[0].amount"]


def test_the_documented_example_reads_as_documented() -> None:
    doc = (Path(__file__).resolve().parents[4] / "docs" / "portal-payments.md").read_text()
    example = doc.split("## Example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    outcome = to_events(example.encode(), ctx())
    assert outcome.problems == ()
    assert [type(e).__name__ for e in outcome.items] == [
        "PatientPaymentReceived",
        "RefundIssued",
        "PaymentPlanUpdated",
    ]
    assert PORTAL.detect(example.encode())
    (envelope,) = PORTAL.split(example.encode())
    assert envelope.dedupe_key == "portal:batch/B-2024-05-01-0001"
