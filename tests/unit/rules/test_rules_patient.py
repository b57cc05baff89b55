"""Patient payments, refunds, adjustments and claim submissions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from rules_events import adjustment, net_by_role, patient_payment, refund

from revbridge.canonical.events import ClaimSubmitted
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.ledger import AccountRole, Lane
from revbridge.masterdata import Configuration, EventKind, EventRule, LineSpec
from revbridge.masterdata.rulebook import Dimension
from revbridge.rules import NO_CONTEXT, EncounterFacts, StaticContext, WaitReason, apply


def test_patient_payment_is_cash_against_patient_receivable_in_realtime(config: Configuration) -> None:
    posting = apply([patient_payment("45.00")], config, NO_CONTEXT)

    (draft,) = posting.drafts
    assert draft.lane is Lane.REALTIME
    assert net_by_role(posting.drafts) == {"cash_clearing": Decimal("45.00"), "ar_patient": Decimal("-45.00")}
    patient_line = next(line for line in draft.lines if line.role is AccountRole.AR_PATIENT)
    cash_line = next(line for line in draft.lines if line.role is AccountRole.CASH_CLEARING)
    assert (patient_line.account, patient_line.dimensions.payer_class) == ("1220", "SELF_PAY")
    assert (cash_line.account, cash_line.dimensions.payer_class) == ("1015", "")


def test_patient_refund_is_the_reverse_of_a_payment(config: Configuration) -> None:
    posting = apply([refund("12.50")], config, NO_CONTEXT)

    assert net_by_role(posting.drafts) == {"ar_patient": Decimal("12.50"), "cash_clearing": Decimal("-12.50")}


def test_payer_refund_debits_the_payers_receivable_by_class(config: Configuration) -> None:
    posting = apply([refund("300.00", recipient="payer", payer="1512345678")], config, NO_CONTEXT)

    assert net_by_role(posting.drafts) == {"ar_payer": Decimal("300.00"), "cash_clearing": Decimal("-300.00")}
    ar = next(line for line in posting.drafts[0].lines if line.role is AccountRole.AR_PAYER)
    assert (ar.account, ar.dimensions.payer_class) == ("1211", "MEDICARE")


def test_payer_refund_to_an_unmapped_payer_and_unknown_recipient_are_problems(config: Configuration) -> None:
    unmapped = apply([refund("1.00", recipient="payer", payer="NOPE")], config, NO_CONTEXT)
    odd = apply([refund("1.00", recipient="guarantor")], config, NO_CONTEXT)

    assert [p.code for p in unmapped.problems] == [ProblemCode.UNMAPPED_PAYER]
    assert [p.code for p in odd.problems] == [ProblemCode.INVALID_VALUE]
    assert unmapped.drafts == odd.drafts == ()


def test_charity_adjustment_against_the_patient(config: Configuration) -> None:
    posting = apply([adjustment("200.00", code="CHARITY", department="ED")], config, NO_CONTEXT)

    (draft,) = posting.drafts
    assert draft.lane is Lane.BATCH
    assert net_by_role(posting.drafts) == {
        "charity_care": Decimal("200.00"),
        "ar_patient": Decimal("-200.00"),
    }
    charity = next(line for line in draft.lines if line.role is AccountRole.CHARITY_CARE)
    assert (charity.account, charity.dimensions.cost_center, charity.dimensions.service_line) == (
        "4540",
        "CC-4100",
        "EMERGENCY",
    )


def test_stated_category_wins_over_the_code(config: Configuration) -> None:
    posting = apply([adjustment("5.00", code="WHATEVER", category="small_balance")], config, NO_CONTEXT)

    assert net_by_role(posting.drafts) == {
        "administrative_writeoff": Decimal("5.00"),
        "ar_patient": Decimal("-5.00"),
    }


def test_adjustment_against_the_payer_needs_the_encounters_payer_class(config: Configuration) -> None:
    event = adjustment("75.00", code="ADMINWO", against="payer")
    context = StaticContext({("MHN-STJ", "V100"): EncounterFacts(primary_payer_id="608")}, {})

    posted = apply([event], config, context)
    assert net_by_role(posted.drafts) == {
        "administrative_writeoff": Decimal("75.00"),
        "ar_payer": Decimal("-75.00"),
    }
    assert {line.dimensions.payer_class for line in posted.drafts[0].lines} == {"COMMERCIAL"}

    waiting = apply([event], config, NO_CONTEXT)
    assert [w.reason for w in waiting.waiting] == [WaitReason.ENCOUNTER]
    final = apply([event], config, NO_CONTEXT, final=True)
    assert [p.code for p in final.problems] == [ProblemCode.MISSING_CONTEXT]


def test_unmapped_adjustment_code_and_category_are_problems(config: Configuration) -> None:
    code = apply([adjustment("5.00", code="MYSTERY")], config, NO_CONTEXT)
    category = apply([adjustment("5.00", category="goodwill")], config, NO_CONTEXT)

    assert [p.code for p in code.problems] == [ProblemCode.UNMAPPED_ADJUSTMENT_REASON]
    assert [p.code for p in category.problems] == [ProblemCode.UNMAPPED_ADJUSTMENT_CATEGORY]
    assert code.drafts == category.drafts == ()


def test_negative_adjustment_flips_sides_never_negative_lines(config: Configuration) -> None:
    posting = apply([adjustment("-20.00", code="CHARITY")], config, NO_CONTEXT)

    assert net_by_role(posting.drafts) == {"charity_care": Decimal("-20.00"), "ar_patient": Decimal("20.00")}
    assert all(line.amount.amount > 0 for line in posting.drafts[0].lines)


def _claim() -> ClaimSubmitted:
    return ClaimSubmitted(
        key="x12:837:SUBMITTER:C1:1",
        source=SourceRef("msg-7", "ST[1]/2300[1]"),
        occurred_on=date(2024, 3, 16),
        facility="5544667733",
        claim_id="C1",
        payer_id="1512345678",
        total=Money.of("100.00"),
    )


def test_claim_submission_posts_nothing_by_default(config: Configuration) -> None:
    posting = apply([_claim()], config, NO_CONTEXT)

    assert (posting.drafts, posting.problems, posting.waiting) == ((), (), ())


def test_claim_submission_reclasses_unbilled_when_configured(config: Configuration) -> None:
    dims = frozenset({Dimension.FACILITY, Dimension.PAYER_CLASS})
    reclass = EventRule(
        kind=EventKind.CLAIM_SUBMITTED,
        lane=Lane.BATCH,
        slots=(
            ("credit", LineSpec(role=AccountRole.AR_UNBILLED, dimensions=dims)),
            ("debit", LineSpec(role=AccountRole.AR_PAYER, dimensions=dims)),
        ),
    )
    rules = tuple(reclass if r.kind is EventKind.CLAIM_SUBMITTED else r for r in config.rulebook.rules)
    configured = replace(config, rulebook=replace(config.rulebook, rules=rules))

    posting = apply([_claim()], configured, NO_CONTEXT)
    assert net_by_role(posting.drafts) == {"ar_payer": Decimal("100.00"), "ar_unbilled": Decimal("-100.00")}
    assert {(line.account, line.side.value) for line in posting.drafts[0].lines} == {
        ("1211", "debit"),
        ("1200", "credit"),
    }
