"""Charges and reversals: payer class from the encounter, department mapping, waiting for context."""

from __future__ import annotations

from decimal import Decimal

from rules_events import DAY, charge, charge_reversal, net_by_role

from revbridge.core.problem import ProblemCode
from revbridge.ledger import Lane
from revbridge.masterdata import Configuration
from revbridge.rules import ChargeFacts, EncounterFacts, StaticContext, WaitReason, apply

MEDICAID_ENCOUNTER = StaticContext(
    {("MHN-STJ", "V100"): EncounterFacts(patient_class="O", primary_payer_id="636")}, {}
)


def accounts(draft_lines: object) -> dict[tuple[str, str], Decimal]:
    return {(line.account, line.side.value): line.amount.amount for line in draft_lines}  # type: ignore[attr-defined]


def test_charge_debits_the_payer_class_receivable_and_credits_department_revenue(
    config: Configuration,
) -> None:
    event = charge(1, "125.10", department="RAD")
    posting = apply([event], config, MEDICAID_ENCOUNTER)

    assert posting.problems == ()
    (draft,) = posting.drafts
    assert draft.lane is Lane.BATCH
    assert draft.legal_entity == "MHN"
    assert draft.posting_date == DAY
    assert draft.source_document_key == event.key
    assert accounts(draft.lines) == {
        ("1212", "debit"): Decimal("125.10"),
        ("4110", "credit"): Decimal("125.10"),
    }
    debit = next(line for line in draft.lines if line.side.value == "debit")
    credit = next(line for line in draft.lines if line.side.value == "credit")
    assert (debit.dimensions.facility, debit.dimensions.payer_class, debit.dimensions.cost_center) == (
        "MHN-STJ",
        "MEDICAID",
        "",
    )
    assert (credit.dimensions.cost_center, credit.dimensions.service_line, credit.dimensions.payer_class) == (
        "CC-4110",
        "IMAGING",
        "",
    )
    assert debit.event_keys == credit.event_keys == (event.key,)


def test_charge_on_an_encounter_without_coverage_is_self_pay(config: Configuration) -> None:
    context = StaticContext({("MHN-STJ", "V100"): EncounterFacts(patient_class="E")}, {})
    posting = apply([charge(1, "80.00", department="ED")], config, context)

    assert net_by_role(posting.drafts) == {"ar_payer": Decimal("80.00"), "gross_revenue": Decimal("-80.00")}
    assert accounts(posting.drafts[0].lines) == {
        ("1220", "debit"): Decimal("80.00"),
        ("4100", "credit"): Decimal("80.00"),
    }
    assert posting.drafts[0].lines[0].dimensions.payer_class == "SELF_PAY"


def test_charge_without_department_takes_the_encounters(config: Configuration) -> None:
    context = StaticContext(
        {("MHN-STJ", "V100"): EncounterFacts(department="ICU", primary_payer_id="636")}, {}
    )
    posting = apply([charge(1, "900.00", department="")], config, context)

    assert ("4020", "credit") in accounts(posting.drafts[0].lines)


def test_facility_specific_department_wins_over_a_shared_code(config: Configuration) -> None:
    # MD exists only at Bayside (MSH-4 "1"); at St. Joseph it is unmapped.
    bayside = StaticContext({("MHS-BAY", "V100"): EncounterFacts(primary_payer_id="608")}, {})
    posted = apply([charge(1, "10.00", department="MD", facility="1")], config, bayside)
    assert posted.drafts[0].legal_entity == "MHS"
    assert ("4010", "credit") in accounts(posted.drafts[0].lines)

    refused = apply([charge(1, "10.00", department="MD")], config, MEDICAID_ENCOUNTER)
    assert [p.code for p in refused.problems] == [ProblemCode.UNMAPPED_DEPARTMENT]


def test_unmapped_department_is_located_and_only_that_charge_fails(config: Configuration) -> None:
    good, bad = charge(1, "10.00", department="LAB"), charge(2, "20.00", department="RAD9")
    posting = apply([good, bad], config, MEDICAID_ENCOUNTER)

    assert [d.source_document_key for d in posting.drafts] == [good.key]
    (problem,) = posting.problems
    assert problem.code is ProblemCode.UNMAPPED_DEPARTMENT
    assert problem.where.locator == "FT1[2]"
    assert problem.event_key == bad.key
    assert dict(problem.details) == {"facility": "MHN-STJ", "value": "RAD9"}
    assert '"RAD9"' in problem.message


def test_unmapped_primary_payer_is_a_problem(config: Configuration) -> None:
    context = StaticContext({("MHN-STJ", "V100"): EncounterFacts(primary_payer_id="99999")}, {})
    posting = apply([charge(1, "10.00")], config, context)

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [ProblemCode.UNMAPPED_PAYER]


def test_unmapped_facility_and_foreign_currency_are_problems(config: Configuration) -> None:
    posting = apply(
        [charge(1, "10.00", facility="NOWHERE"), charge(2, "10.00", currency="EUR")],
        config,
        MEDICAID_ENCOUNTER,
    )

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [
        ProblemCode.UNMAPPED_FACILITY,
        ProblemCode.UNSUPPORTED_CURRENCY,
    ]


def test_charge_before_its_encounter_waits_and_holds_the_whole_document(config: Configuration) -> None:
    known = StaticContext({("MHN-STJ", "V100"): EncounterFacts(primary_payer_id="636")}, {})
    early = charge(2, "20.00", encounter="V200")
    posting = apply([charge(1, "10.00"), early], config, known)

    assert posting.drafts == ()
    assert posting.problems == ()
    (waiting,) = posting.waiting
    assert (waiting.event_key, waiting.reason, waiting.reference) == (early.key, WaitReason.ENCOUNTER, "V200")


def test_after_the_wait_a_missing_encounter_is_a_problem_and_the_rest_posts(config: Configuration) -> None:
    known = StaticContext({("MHN-STJ", "V100"): EncounterFacts(primary_payer_id="636")}, {})
    first, early = charge(1, "10.00"), charge(2, "20.00", encounter="V200")
    posting = apply([first, early], config, known, final=True)

    assert posting.waiting == ()
    assert [d.source_document_key for d in posting.drafts] == [first.key]
    (problem,) = posting.problems
    assert (problem.code, problem.event_key) == (ProblemCode.MISSING_CONTEXT, early.key)


def test_reversal_mirrors_its_original(config: Configuration) -> None:
    context = StaticContext({}, {("MHN-STJ", "T1"): ChargeFacts(department="RAD", payer_class="MEDICARE")})
    posting = apply([charge_reversal(1, "125.10", original="T1")], config, context)

    assert posting.problems == ()
    assert accounts(posting.drafts[0].lines) == {
        ("4110", "debit"): Decimal("125.10"),
        ("1211", "credit"): Decimal("125.10"),
    }
    assert posting.drafts[0].lane is Lane.BATCH


def test_charge_and_its_reversal_net_to_zero_by_role(config: Configuration) -> None:
    original = charge(1, "125.10")
    reversal = charge_reversal(1, "125.10", original="T1")
    context = StaticContext(
        {("MHN-STJ", "V100"): EncounterFacts(primary_payer_id="636")},
        {("MHN-STJ", "T1"): ChargeFacts(department="RAD", payer_class="MEDICAID")},
    )
    posting = apply([original, reversal], config, context)

    assert len(posting.drafts) == 2
    assert net_by_role(posting.drafts) == {}


def test_reversal_before_its_original_waits_then_is_an_orphan(config: Configuration) -> None:
    reversal = charge_reversal(1, "10.00", original="T9")
    empty = StaticContext({}, {})

    waiting = apply([reversal], config, empty)
    assert [(w.reason, w.reference) for w in waiting.waiting] == [(WaitReason.ORIGINAL_CHARGE, "T9")]

    final = apply([reversal], config, empty, final=True)
    assert [(p.code, p.event_key) for p in final.problems] == [(ProblemCode.ORPHAN_REVERSAL, reversal.key)]
    assert final.drafts == ()
