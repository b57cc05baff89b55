"""The staging format: mapped rows -> charge, reversal, payment and adjustment events; problems
located as table[key].field and never quoting a value; detection and the dedupe key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.canonical.codec import dumps
from revbridge.canonical.events import (
    AdjustmentPosted,
    ChargeCaptured,
    ChargeReversed,
    PatientPaymentReceived,
)
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import FIRST, IN_ORDER, SMALL_CASH, ParseContext
from revbridge.formats.registry import FORMATS
from revbridge.formats.staging import STAGING, dedupe_key, document, to_events

RECEIVED = date(2026, 12, 1)
PHI = "SENTINEL-PHI-ZZQ"


def ctx() -> ParseContext:
    return ParseContext(message_id="st-1", tokenizer=fixed_tokenizer(), received_on=RECEIVED)


def charge(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "T1",
        "facility": "GENERAL",
        "encounter": "V1",
        "department": "LAB",
        "amount": "125.50",
        "date": "2026-11-02",
        "patient_id": "MRN000001",
    }
    base.update(fields)
    return {"key": "1", "kind": "charge", "fields": base}


def run(*rows: dict[str, Any]) -> Any:
    return to_events(document("pas", "billing_stage", list(rows)), ctx())


def test_a_charge_row_is_a_charge_captured_with_a_token_for_the_patient() -> None:
    outcome = run(charge(quantity="2", procedure="80053", revenue_code="0301"))
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ChargeCaptured)
    assert event.key == "staging:GENERAL/charge/T1"
    assert event.amount == Money(Decimal("125.50"), "USD")
    assert event.quantity == Decimal(2)
    assert event.occurred_on == date(2026, 11, 2)
    assert event.source.locator == "billing_stage[1]"
    assert event.patient is not None and "MRN000001" not in dumps(event)


def test_a_negative_charge_is_a_reversal_of_its_magnitude() -> None:
    (event,) = run(charge(amount="-40.00")).items
    assert isinstance(event, ChargeReversed)
    assert event.amount == Money(Decimal("40.00"), "USD")


def test_payment_and_adjustment_rows() -> None:
    payment = {"key": "2", "kind": "payment", "fields": {"id": "P1", "facility": "GENERAL", "amount": "20"}}
    adjustment = {
        "key": "3",
        "kind": "adjustment",
        "fields": {
            "id": "A1",
            "facility": "GENERAL",
            "amount": "5.25",
            "code": "CHARITY",
            "against": "payer",
        },
    }
    outcome = run(payment, adjustment)
    assert outcome.problems == ()
    paid, adjusted = outcome.items
    assert isinstance(paid, PatientPaymentReceived) and paid.occurred_on == RECEIVED
    assert (
        isinstance(adjusted, AdjustmentPosted) and adjusted.against == "payer" and adjusted.code == "CHARITY"
    )


def test_problems_name_table_key_and_field_never_the_value() -> None:
    outcome = run(
        charge(amount=None),
        {**charge(encounter=PHI + " !"), "key": "2"},
        {**charge(amount=PHI), "key": "3"},
        {"key": "4", "kind": "", "fields": {"id": PHI}},
        {**charge(date=PHI), "key": "5"},
    )
    where = {(str(p.code), p.where.locator) for p in outcome.problems}
    assert ("MISSING_AMOUNT", "billing_stage[1].amount") in where
    assert ("INVALID_VALUE", "billing_stage[2].encounter") in where
    assert ("INVALID_AMOUNT", "billing_stage[3].amount") in where
    assert ("UNSUPPORTED_TRANSACTION", "billing_stage[4].kind") in where
    assert ("INVALID_DATE", "billing_stage[5].date") in where
    assert all(PHI not in p.message for p in outcome.problems)
    assert len(outcome.items) == 1  # row 5: its date is wrong, it still maps on the received date


def test_two_rows_of_one_group_with_the_same_id_conflict() -> None:
    outcome = run(charge(), {**charge(), "key": "2"})
    assert len(outcome.items) == 1
    assert [p.code for p in outcome.problems] == [ProblemCode.EVENT_CONFLICT]


def test_detected_before_portal_and_split_keeps_the_table_key() -> None:
    payload = document("pas", "billing_stage", [charge(), {**charge(id="T2"), "key": "7"}])
    assert next(f for f in FORMATS.values() if f.detect(payload)).name == "staging"
    (envelope,) = STAGING.split(payload)
    assert envelope.dedupe_key == "staging:billing_stage/1..7" == dedupe_key("billing_stage", ["1", "7"])
    assert envelope.problems == ()
    (broken,) = STAGING.split(b'{"revbridge_staging": 1}')
    assert broken.problems and broken.dedupe_key == ""


def test_an_empty_or_broken_document_is_one_located_problem() -> None:
    outcome = to_events(b'{"revbridge_staging": 1, "rows": []}', ctx())
    assert [p.code for p in outcome.problems] == [ProblemCode.MALFORMED_MESSAGE]
    assert [p.code for p in to_events(b"{not json", ctx()).problems] == [ProblemCode.MALFORMED_MESSAGE]


def test_a_group_of_payments_only_is_cash_and_anything_mixed_keeps_arrival_order() -> None:
    def paid(key: str) -> dict[str, Any]:
        return {
            "key": key,
            "kind": "payment",
            "fields": {"id": f"P{key}", "facility": "GENERAL", "amount": "20"},
        }

    def priority(*rows: dict[str, Any]) -> int:
        (envelope,) = STAGING.split(document("pas", "cash_stage", list(rows)))
        return envelope.priority

    assert priority(paid("1"), paid("2")) == SMALL_CASH
    assert priority(*(paid(str(n)) for n in range(1_000))) == FIRST  # over SMALL_REMITTANCE_BYTES
    assert priority(paid("1"), charge()) == IN_ORDER  # a charge keeps its place
    assert priority(charge()) == IN_ORDER
    (broken,) = STAGING.split(b'{"revbridge_staging": 1, "rows": ')
    assert broken.priority == IN_ORDER and broken.problems
