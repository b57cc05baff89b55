"""Remittance posting: the worked ERA, reversals, notification-only ERAs and every unmapped value."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rules_events import (
    claim,
    net_by_role,
    plb,
    remittance,
    worked_era,
)

from revbridge.canonical import codec
from revbridge.core.problem import ProblemCode
from revbridge.ledger import AccountRole, Lane, realtime_journal
from revbridge.masterdata import Configuration
from revbridge.rules import NO_CONTEXT, NOTIFICATION_ONLY, apply


def test_worked_era_nets_by_role_exactly_as_design_states(config: Configuration) -> None:
    posting = apply(worked_era(), config, NO_CONTEXT)

    assert posting.problems == ()
    assert posting.waiting == ()
    assert len(posting.drafts) == 1
    assert net_by_role(posting.drafts) == {
        "cash_clearing": Decimal("595.25"),
        "contractual_allowance": Decimal("470.00"),
        "ar_patient": Decimal("150.00"),
        "payer_credit_balance": Decimal("40.00"),
        "ar_payer": Decimal("-1250.00"),
        "interest_income": Decimal("-5.25"),
    }


def test_worked_era_is_one_balanced_realtime_journal_with_the_textbook_lines(config: Configuration) -> None:
    (draft,) = apply(worked_era(), config, NO_CONTEXT).drafts
    journal = realtime_journal(draft)

    assert journal.lane is Lane.REALTIME
    assert journal.legal_entity == "MHN"
    # revenue-accounting C.4 nets contractual to one 470 debit (total 1,555.25); sides are kept
    # apart here, so the reversal's CO-45 is its own 100 credit and the debits total 1,655.25.
    assert journal.total_debits("USD").amount == Decimal("1655.25")
    by_account = {(line.account, line.side.value): line.amount.amount for line in journal.lines}
    assert by_account == {
        ("1015", "debit"): Decimal("595.25"),
        ("4510", "debit"): Decimal("570.00"),  # CO 450 + 120
        ("4510", "credit"): Decimal("100.00"),  # the reversal's CO-45 -100
        ("1220", "debit"): Decimal("150.00"),
        ("1211", "debit"): Decimal("300.00"),  # the reversal reinstates AR
        ("1211", "credit"): Decimal("1550.00"),  # A 1,250 + corrected B 300
        ("2155", "debit"): Decimal("40.00"),
        ("7100", "credit"): Decimal("5.25"),
    }
    assert all(line.amount.amount > 0 for line in journal.lines)


def test_every_line_names_the_events_behind_it(config: Configuration) -> None:
    events = worked_era()
    (draft,) = apply(events, config, NO_CONTEXT).drafts
    cash = [line for line in draft.lines if line.role.value == "cash_clearing"]
    assert [line.event_keys for line in cash] == [(events[0].key,)]
    claim_keys = {e.key for e in events[1:4]}
    plb_keys = {e.key for e in events[4:]}
    for line in draft.lines:
        if line.role.value in ("ar_payer", "contractual_allowance", "ar_patient"):
            assert set(line.event_keys) <= claim_keys
        if line.role.value in ("interest_income", "payer_credit_balance"):
            assert set(line.event_keys) <= plb_keys
    assert set(draft.event_keys) == {e.key for e in events}
    assert draft.source_document_key == events[0].key


def test_lines_carry_facility_legal_entity_and_payer_class(config: Configuration) -> None:
    (draft,) = apply(worked_era(), config, NO_CONTEXT).drafts
    for line in draft.lines:
        assert line.dimensions.legal_entity == "MHN"
        assert line.dimensions.facility == "MHN-HOPE"
        expected = "SELF_PAY" if line.role.value == "ar_patient" else "MEDICARE"
        assert line.dimensions.payer_class == expected
        assert line.dimensions.cost_center == ""


def test_reversal_and_corrected_claim_net_to_the_payment_difference(config: Configuration) -> None:
    # Claim B was paid 200 (CO 100) on an earlier ERA; this ERA reverses it and pays 180 (CO 120).
    events = [
        remittance("-20.00", trace="T2"),
        claim(1, "22", "-300.00", "-200.00", ("CO", "45", "-100.00"), trace="T2", claim_id="B"),
        claim(2, "1", "300.00", "180.00", ("CO", "45", "120.00"), trace="T2", claim_id="B"),
    ]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.problems == ()
    assert net_by_role(posting.drafts) == {
        "cash_clearing": Decimal("-20.00"),  # 180 - 200: the payment difference
        "contractual_allowance": Decimal("20.00"),  # 120 - 100
    }
    cash = [line for line in posting.drafts[0].lines if line.role.value == "cash_clearing"]
    assert [(line.side.value, line.amount.amount) for line in cash] == [("credit", Decimal("20.00"))]


def test_notification_only_remittance_posts_nothing_and_says_why(config: Configuration) -> None:
    events = [
        remittance("5.75", cash=False, payer="UNKNOWN-PAYER"),
        claim(1, "1", "56.70", "5.75", ("CO", "42", "50.95"), payer="UNKNOWN-PAYER"),
    ]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert posting.problems == ()
    assert posting.ignored_by == NOTIFICATION_ONLY


def test_informational_adjustment_moves_neither_receivable_nor_anything_else(config: Configuration) -> None:
    # lfh secondary-payment.835, claim 1: a secondary payer's OA-23 is the primary's business.
    nys = "1559123456"
    events = [
        remittance("912.00", payer=nys, facility="599944521"),
        claim(1, "2", "10323.64", "912.00", ("OA", "23", "9411.64"), payer=nys, facility="599944521"),
    ]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.problems == ()
    assert net_by_role(posting.drafts) == {"cash_clearing": Decimal("912.00"), "ar_payer": Decimal("-912.00")}
    assert posting.drafts[0].legal_entity == "MHN"
    assert {line.dimensions.payer_class for line in posting.drafts[0].lines} == {"MEDICAID"}


def test_denial_carc_maps_to_denial_writeoff_not_contractual(config: Configuration) -> None:
    events = [remittance("0.00"), claim(1, "1", "162.13", "0.00", ("CO", "29", "162.13"))]
    posting = apply(events, config, NO_CONTEXT)

    assert net_by_role(posting.drafts) == {
        "denial_writeoff": Decimal("162.13"),
        "ar_payer": Decimal("-162.13"),
    }


def test_zero_cas_amounts_need_no_mapping(config: Configuration) -> None:
    events = [remittance("56.52"), claim(1, "1", "56.70", "56.52", ("CO", "42", "0.18"), ("CR", "141", "0"))]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.problems == ()
    assert net_by_role(posting.drafts)["contractual_allowance"] == Decimal("0.18")


def test_unbalanced_remittance_is_a_problem_and_no_journal(config: Configuration) -> None:
    events = worked_era()
    events[0] = remittance("595.26")
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [ProblemCode.UNBALANCED_REMITTANCE]
    assert posting.problems[0].where.locator == "ST[1]"
    assert ("payment", "595.26") in posting.problems[0].details


def test_unbalanced_claim_is_a_located_problem_and_no_journal(config: Configuration) -> None:
    events = [remittance("650.00"), claim(1, "1", "1250.00", "650.00", ("CO", "45", "450.00"))]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [ProblemCode.UNBALANCED_CLAIM]
    assert posting.problems[0].where.locator == "ST[1]/2100[1]"
    assert posting.problems[0].event_key == events[1].key


def test_unmapped_payer_is_located_and_nothing_posts(config: Configuration) -> None:
    rushmore = "1935665544"  # deliberately unmapped in the reference configuration
    events = [
        remittance("945.00", payer=rushmore, facility="5544667733"),
        claim(
            1,
            "1",
            "800.00",
            "450.00",
            ("CO", "A2", "50.00"),
            ("PR", "1", "300.00"),
            payer=rushmore,
            facility="5544667733",
        ),
        claim(
            2,
            "1",
            "1200.00",
            "495.00",
            ("CO", "A2", "55.00"),
            ("PR", "1", "600.00"),
            ("CO", "45", "50.00"),
            payer=rushmore,
            facility="5544667733",
        ),
    ]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    (problem,) = posting.problems
    assert problem.code is ProblemCode.UNMAPPED_PAYER
    assert problem.where.message_id == "msg-1"
    assert problem.where.locator == "ST[1]"
    assert ("value", rushmore) in problem.details
    assert rushmore in problem.message


def test_unmapped_facility_is_located_and_nothing_posts(config: Configuration) -> None:
    events = [remittance("595.25", facility="0000000000"), *worked_era()[1:]]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [ProblemCode.UNMAPPED_FACILITY]
    assert ("value", "0000000000") in posting.problems[0].details


def test_unmapped_carc_is_located_at_its_cas_and_blocks_the_whole_remittance(config: Configuration) -> None:
    events = worked_era()
    events[3] = claim(3, "1", "300.00", "180.00", ("CO", "45", "100.00"), ("OA", "A7", "20.00"), claim_id="B")
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    (problem,) = posting.problems
    assert problem.code is ProblemCode.UNMAPPED_ADJUSTMENT_REASON
    assert problem.where.locator == "ST[1]/2100[3]/CAS[2]"
    assert problem.event_key == events[3].key
    assert dict(problem.details) == {"group": "OA", "reason": "A7"}


def test_unmapped_plb_reason_is_located_and_blocks_the_whole_remittance(config: Configuration) -> None:
    events = worked_era()
    events[5] = plb(2, "ZZ", "40.00")
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    (problem,) = posting.problems
    assert problem.code is ProblemCode.UNMAPPED_PLB_REASON
    assert problem.where.locator == "ST[1]/PLB[1]-2"
    assert problem.event_key == events[5].key


def test_foreign_currency_is_unsupported_for_a_usd_legal_entity(config: Configuration) -> None:
    events = [remittance("10.00", currency="EUR")]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert [p.code for p in posting.problems] == [ProblemCode.UNSUPPORTED_CURRENCY]
    assert dict(posting.problems[0].details) == {"currency": "EUR", "legal_entity": "MHN"}


def test_inexact_amount_is_a_problem_not_a_rounded_line(config: Configuration) -> None:
    events = worked_era()
    events[0] = replace(remittance("595.25"), amount=remittance("595.250001").amount)
    posting = apply(events, config, NO_CONTEXT)

    assert posting.drafts == ()
    assert ProblemCode.INEXACT_AMOUNT in [p.code for p in posting.problems]


def test_claims_without_a_payment_header_post_their_own_cash(config: Configuration) -> None:
    # A FHIR ExplanationOfBenefit arrives as a ClaimAdjudicated with no RemittanceReceived.
    events = [
        claim(
            1,
            "1",
            "100.00",
            "80.00",
            ("CO", "45", "20.00"),
            facility="Organization/1",
            payer="Organization/2",
        )
    ]
    posting = apply(events, config, NO_CONTEXT)

    assert posting.problems == ()
    assert net_by_role(posting.drafts) == {
        "cash_clearing": Decimal("80.00"),
        "contractual_allowance": Decimal("20.00"),
        "ar_payer": Decimal("-100.00"),
    }
    assert posting.drafts[0].legal_entity == "MHN"
    assert {line.dimensions.payer_class for line in posting.drafts[0].lines} == {"COMMERCIAL"}


def test_no_patient_token_reaches_a_draft_or_problem(config: Configuration) -> None:
    events = worked_era()
    assert "pt_sentinel_token" in codec.dumps(events[1])  # the sentinel is really in the input
    posting = apply(events, config, NO_CONTEXT)
    failed = apply([remittance("1.00", payer="X"), *events[1:]], config, NO_CONTEXT)
    assert posting.drafts
    assert failed.problems
    assert "pt_sentinel_token" not in repr(posting) + repr(failed)


def test_an_unmapped_account_is_reported_once_for_the_whole_remittance(config: Configuration) -> None:
    mappings = tuple(
        m
        for m in config.master.account_mappings
        if not (m.role is AccountRole.AR_PAYER and m.payer_class == "MEDICARE")
    )
    gap = replace(config, master=replace(config.master, account_mappings=mappings))
    posting = apply(worked_era(), gap, NO_CONTEXT)

    assert posting.drafts == ()
    assert [(p.code, dict(p.details)["payer_class"]) for p in posting.problems] == [
        (ProblemCode.UNMAPPED_ACCOUNT, "MEDICARE")
    ]
