"""The AR roll-forward: opening + charges - payments - adjustments +/- transfers = closing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from reconcile_facts import CLAIM_A, CLAIM_B, CLAIM_B_REV, DAY, LE, R, era_lines, line, usd

from revbridge.core.money import Money
from revbridge.reconcile import ArBalance, Control, LineFact
from revbridge.reconcile.rollforward import (
    AR_ROLES,
    Movement,
    RollForward,
    RollForwardRow,
    classify,
    roll_forward,
)

KINDS = {CLAIM_A: "ClaimAdjudicated", CLAIM_B_REV: "ClaimAdjudicated", CLAIM_B: "ClaimAdjudicated"}


def balances(rows: Iterable[LineFact], *, journaled: bool = True) -> list[ArBalance]:
    sums: dict[tuple[str, str, R], Money] = defaultdict(lambda: usd("0"))
    for r in rows:
        if r.role in AR_ROLES:
            sums[(r.legal_entity, r.payer_class, r.role)] += r.net
    return [
        ArBalance(legal_entity=le, payer_class=pc, role=role, amount=amount, journaled=journaled)
        for (le, pc, role), amount in sums.items()
    ]


def roll(
    movements: list[LineFact],
    *,
    opening: list[LineFact] | None = None,
    kinds: dict[str, str] | None = None,
    closing: list[ArBalance] | None = None,
    journals: list[ArBalance] | None = None,
) -> RollForward:
    before = opening or []
    return roll_forward(
        start=DAY,
        end=DAY,
        opening=balances(before),
        movements=movements,
        kinds=kinds or KINDS,
        closing=closing if closing is not None else balances(before + movements),
        journals=journals if journals is not None else balances(before + movements),
    )


def row(result: RollForward, payer_class: str) -> RollForwardRow:
    (found,) = [r for r in result.rows if r.payer_class == payer_class]
    return found


def test_the_worked_era_splits_into_payments_adjustments_and_the_patient_transfer() -> None:
    result = roll(era_lines())
    assert result.breaks == ()
    medicare = row(result, "MEDICARE")
    assert medicare.payments == usd("630.00")  # 650 - 200 + 180
    assert medicare.adjustments == usd("470.00")  # CO-45 450 - 100 + 120
    assert medicare.transfers == usd("-150.00")  # PR-1 + PR-2 to the patient
    assert medicare.charges == usd("0")
    assert medicare.closing == medicare.computed == usd("-1250.00")
    patient = row(result, "SELF_PAY")
    assert patient.transfers == usd("150.00") and patient.closing == usd("150.00")
    assert dict(medicare.event_keys) == {
        "payments": tuple(sorted((CLAIM_A, CLAIM_B_REV, CLAIM_B))),
        "adjustments": tuple(sorted((CLAIM_A, CLAIM_B_REV, CLAIM_B))),
        "transfers": (CLAIM_A,),
    }
    assert dict(patient.event_keys) == {"transfers": (CLAIM_A,)}


def test_charges_reversals_payments_refunds_and_write_offs() -> None:
    moves = [
        line("c1", R.AR_PAYER, "300.00", payer_class="COMMERCIAL"),
        line("c1", R.GROSS_REVENUE, "-300.00", payer_class=""),
        line("r1", R.GROSS_REVENUE, "40.00", payer_class=""),
        line("r1", R.AR_PAYER, "-40.00", payer_class="COMMERCIAL"),
        line("p1", R.CASH_CLEARING, "25.00", payer_class=""),
        line("p1", R.AR_PATIENT, "-25.00", payer_class="SELF_PAY"),
        line("f1", R.AR_PATIENT, "5.00", payer_class="SELF_PAY"),
        line("f1", R.CASH_CLEARING, "-5.00", payer_class=""),
        line("a1", R.CHARITY_CARE, "60.00", payer_class="SELF_PAY"),
        line("a1", R.AR_PATIENT, "-60.00", payer_class="SELF_PAY"),
    ]
    kinds = {
        "c1": "ChargeCaptured",
        "r1": "ChargeReversed",
        "p1": "PatientPaymentReceived",
        "f1": "RefundIssued",
        "a1": "AdjustmentPosted",
    }
    opening = [line("old", R.AR_PATIENT, "100.00", payer_class="SELF_PAY", posting_date=date(2026, 6, 1))]
    result = roll(moves, opening=opening, kinds=kinds)
    assert result.breaks == ()
    commercial = row(result, "COMMERCIAL")
    assert (commercial.opening, commercial.charges, commercial.closing) == (
        usd("0"),
        usd("260.00"),
        usd("260.00"),
    )
    patient = row(result, "SELF_PAY")
    assert patient.opening == usd("100.00")
    assert patient.payments == usd("20.00")  # 25 received less 5 refunded
    assert patient.adjustments == usd("60.00")
    assert patient.closing == patient.computed == usd("20.00")
    assert dict(patient.event_keys)["payments"] == ("f1", "p1")
    assert patient.as_json(keys=True)["event_keys"] == {"payments": ["f1", "p1"], "adjustments": ["a1"]}
    assert patient.as_json(keys=False)["event_counts"] == {"payments": 2, "adjustments": 1}


def test_a_claim_submission_reclass_is_a_transfer_that_nets_to_zero() -> None:
    moves = [
        line("s1", R.AR_PAYER, "500.00", payer_class="MEDICARE"),
        line("s1", R.AR_UNBILLED, "-500.00", payer_class="MEDICARE"),
    ]
    (found,) = roll(moves, kinds={"s1": "ClaimSubmitted"}).rows
    assert found.transfers == usd("0") and found.closing == usd("0")
    assert dict(found.closing_by_role) == {"ar_payer": usd("500.00"), "ar_unbilled": usd("-500.00")}


def test_lines_without_receivables_do_not_move_ar() -> None:
    assert classify([line("x", R.CASH_CLEARING, "5.25"), line("x", R.INTEREST_INCOME, "-5.25")], "") == {}


def test_a_replay_revision_is_classified_on_its_own() -> None:
    original = [
        line("c1", R.AR_PAYER, "300.00", payer_class="COMMERCIAL"),
        line("c1", R.GROSS_REVENUE, "-300.00", payer_class=""),
    ]
    replayed = [
        line("c1", R.GROSS_REVENUE, "300.00", payer_class="", revision="r1"),
        line("c1", R.AR_PAYER, "-300.00", payer_class="COMMERCIAL", revision="r1"),
        line("c1", R.AR_PAYER, "300.00", payer_class="MEDICAID", revision="r1"),
        line("c1", R.GROSS_REVENUE, "-300.00", payer_class="", revision="r1"),
    ]
    result = roll(original + replayed, kinds={"c1": "ChargeCaptured"})
    assert result.breaks == ()
    assert row(result, "COMMERCIAL").closing == usd("0")
    assert row(result, "MEDICAID").closing == usd("300.00")


def test_a_closing_balance_the_movements_do_not_reach_is_a_break() -> None:
    moves = era_lines()
    forged = [
        ArBalance(
            legal_entity=b.legal_entity, payer_class=b.payer_class, role=b.role, amount=b.amount + usd("1.00")
        )
        if b.payer_class == "MEDICARE"
        else b
        for b in balances(moves)
    ]
    result = roll(moves, closing=forged, journals=forged)
    (brk,) = result.breaks
    assert brk.control is Control.AR_ROLLFORWARD
    assert brk.subject == f"AR {LE} MEDICARE"
    assert brk.expected == usd("-1249.00") and brk.actual == usd("-1250.00")


def test_receivables_in_the_journals_must_equal_the_subledgers() -> None:
    moves = era_lines()
    short = [
        ArBalance(
            legal_entity=b.legal_entity,
            payer_class=b.payer_class,
            role=b.role,
            amount=b.amount - usd("300.00"),
        )
        if b.payer_class == "MEDICARE"
        else b
        for b in balances(moves)
    ]
    result = roll(moves, journals=short)
    (brk,) = result.breaks
    assert "the journals hold -1550.00" in brk.message


def test_rows_waiting_for_their_window_are_not_expected_in_the_journals() -> None:
    moves = [
        line("c1", R.AR_PAYER, "300.00", payer_class="COMMERCIAL"),
        line("c1", R.GROSS_REVENUE, "-300.00", payer_class=""),
    ]
    result = roll(
        moves, kinds={"c1": "ChargeCaptured"}, closing=balances(moves, journaled=False), journals=[]
    )
    assert result.breaks == ()
    (found,) = result.rows
    assert found.unjournaled == usd("300.00") and found.journaled == usd("0")
    assert Movement.CHARGES.value in dict(found.event_keys)


def test_a_go_live_opening_position_inside_the_range_is_the_opening_not_a_movement() -> None:
    """The opening journal (Dr AR / Cr opening_balance) dated in the range adds to the opening
    column; the day's payment on a pre-cut-over claim then relieves it and the row foots."""
    opened = [
        line("golive:A1", R.AR_PAYER, "1000.00", document="golive:doc"),
        line("golive:A1", R.OPENING_BALANCE, "-1000.00", payer_class="", document="golive:doc"),
        line("golive:P1", R.AR_PATIENT, "40.00", payer_class="SELF_PAY", document="golive:doc"),
        line("golive:P1", R.OPENING_BALANCE, "-40.00", payer_class="", document="golive:doc"),
    ]
    paid = [line("pay", R.CASH_CLEARING, "600.00"), line("pay", R.AR_PAYER, "-600.00")]
    result = roll(opened + paid, kinds={"pay": "ClaimAdjudicated"})
    medicare, patient = row(result, "MEDICARE"), row(result, "SELF_PAY")
    assert medicare.opening == usd("1000.00")
    assert medicare.adjustments == medicare.charges == usd("0")
    assert medicare.payments == usd("600.00")
    assert medicare.closing == medicare.computed == usd("400.00")
    assert patient.opening == patient.closing == usd("40.00")
    assert dict(medicare.event_keys) == {"payments": ("pay",)}
    assert result.breaks == ()
