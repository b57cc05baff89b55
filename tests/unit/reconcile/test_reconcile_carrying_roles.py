"""Which role carries each event kind's source amount: the worked ERA and the other kinds."""

from __future__ import annotations

import typing

from reconcile_facts import (
    CLAIM_A,
    CLAIM_B,
    CLAIM_B_REV,
    ERA,
    PLB_L6,
    PLB_WO,
    R,
    by_event,
    era_events,
    era_lines,
    line,
    usd,
)

from revbridge.canonical.events import PostingEvent
from revbridge.reconcile import CARRIER_ROLE, carried


def test_every_event_of_the_worked_era_carries_its_headline_amount() -> None:
    rows = by_event(era_lines())
    for event in era_events():
        assert carried(event.kind, rows[event.key], "USD") == event.amount, event.key


def test_the_worked_era_amounts() -> None:
    rows = by_event(era_lines())
    assert carried("RemittanceReceived", rows[ERA], "USD") == usd("595.25")
    assert carried("ClaimAdjudicated", rows[CLAIM_A], "USD") == usd("650.00")
    assert carried("ClaimAdjudicated", rows[CLAIM_B_REV], "USD") == usd("-200.00")
    assert carried("ClaimAdjudicated", rows[CLAIM_B], "USD") == usd("180.00")
    assert carried("ProviderAdjustment", rows[PLB_L6], "USD") == usd("-5.25")
    assert carried("ProviderAdjustment", rows[PLB_WO], "USD") == usd("40.00")


def test_a_claim_response_without_a_payment_header_books_its_own_cash_and_still_carries_clp04() -> None:
    rows = [
        line("C", R.CASH_CLEARING, "80.00"),
        line("C", R.CONTRACTUAL_ALLOWANCE, "20.00"),
        line("C", R.AR_PAYER, "-100.00"),
    ]
    assert carried("ClaimAdjudicated", rows, "USD") == usd("80.00")
    plb = [line("P", R.CASH_CLEARING, "-40.00"), line("P", R.PAYER_CREDIT_BALANCE, "40.00")]
    assert carried("ProviderAdjustment", plb, "USD") == usd("40.00")


def test_charges_payments_refunds_adjustments_and_claims() -> None:
    charge = [line("c", R.AR_PAYER, "125.10"), line("c", R.GROSS_REVENUE, "-125.10")]
    assert carried("ChargeCaptured", charge, "USD") == usd("125.10")
    reversal = [line("r", R.GROSS_REVENUE, "30.00"), line("r", R.AR_PAYER, "-30.00")]
    assert carried("ChargeReversed", reversal, "USD") == usd("30.00")
    payment = [line("p", R.CASH_CLEARING, "20.00"), line("p", R.AR_PATIENT, "-20.00")]
    assert carried("PatientPaymentReceived", payment, "USD") == usd("20.00")
    refund = [line("f", R.AR_PATIENT, "15.00"), line("f", R.CASH_CLEARING, "-15.00")]
    assert carried("RefundIssued", refund, "USD") == usd("15.00")
    charity = [line("a", R.CHARITY_CARE, "60.00"), line("a", R.AR_PATIENT, "-60.00")]
    assert carried("AdjustmentPosted", charity, "USD") == usd("60.00")
    reclass = [line("s", R.AR_PAYER, "500.00"), line("s", R.AR_UNBILLED, "-500.00")]
    assert carried("ClaimSubmitted", reclass, "USD") == usd("500.00")
    assert carried("ClaimSubmitted", [], "USD") == usd("0")


def test_a_wrong_amount_on_the_carrying_role_shows() -> None:
    charge = [line("c", R.AR_PAYER, "125.10"), line("c", R.GROSS_REVENUE, "-125.01")]
    assert carried("ChargeCaptured", charge, "USD") == usd("125.01")


def test_context_kinds_have_no_carrier_and_every_posting_kind_names_one() -> None:
    assert carried("EncounterRegistered", [], "USD") is None
    assert set(CARRIER_ROLE) == {cls.__name__ for cls in typing.get_args(PostingEvent)}
