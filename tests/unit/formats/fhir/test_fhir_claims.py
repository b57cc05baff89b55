"""Claim -> ClaimSubmitted; ClaimResponse / ExplanationOfBenefit -> ClaimAdjudicated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir_helpers import bundle, by_code, claim, claim_response, money, run

from revbridge.canonical.events import ClaimAdjudicated, ClaimSubmitted
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity

# ---- Claim ------------------------------------------------------------------------------------


def test_claim_maps_total_lines_payer_and_facility() -> None:
    outcome = run(claim())
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ClaimSubmitted)
    assert event.key == "fhir:Claim/c1"
    assert event.total == Money.of("135.50")
    assert (event.payer_id, event.facility, event.claim_type, event.frequency) == (
        "Organization/payer",
        "Organization/hosp",
        "professional",
        "1",
    )
    assert [(ln.line_number, ln.procedure, ln.charge, ln.units) for ln in event.lines] == [
        (1, "99213:25", Money.of("120.00"), 2),
        (2, "36415", Money.of("15.50"), 1),
    ]
    assert event.occurred_on.isoformat() == "2024-02-10"
    assert event.patient is not None


def test_claim_total_disagreeing_with_items_is_located_and_keeps_the_total() -> None:
    outcome = run(claim(total=money("140.00")))
    (event,) = outcome.items
    assert isinstance(event, ClaimSubmitted)
    assert event.total == Money.of("140.00")
    (problem,) = outcome.problems
    assert (problem.code, problem.locator, problem.event_key) == (
        ProblemCode.TOTAL_MISMATCH,
        "Claim.total.value",
        "fhir:Claim/c1",
    )
    assert dict(problem.details) == {"total": "140.00", "items": "135.50"}
    assert not outcome.ok


def test_item_net_against_unit_price_times_quantity() -> None:
    resource = claim()
    resource["item"][0]["net"] = money("110.00")
    resource["total"] = money("125.50")
    outcome = run(resource)
    assert by_code(outcome.problems) == {"TOTAL_MISMATCH": ["Claim.item[0].net.value"]}


def test_no_total_is_derived_from_unit_price_quantity_and_factor() -> None:
    resource = claim()
    del resource["total"]
    del resource["item"][0]["net"]
    resource["item"][0]["factor"] = Decimal("0.5")
    outcome = run(resource)
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ClaimSubmitted)
    assert event.lines[0].charge == Money.of("60.00")
    assert event.total == Money.of("75.50")


def test_no_total_and_an_unpriced_item_is_missing_amount() -> None:
    resource = claim()
    del resource["total"]
    del resource["item"][1]["net"]
    outcome = run(resource)
    assert outcome.items == ()
    (problem,) = outcome.problems
    assert (problem.code, problem.locator) == (ProblemCode.MISSING_AMOUNT, "Claim.total")
    assert outcome.ignored_by is None  # an excepted message, not an ignored one


def test_a_stated_total_with_unpriced_items_is_not_checked_and_unpriced_lines_are_left_out() -> None:
    resource = claim(total=money("999.00"))
    del resource["item"][1]["net"]
    outcome = run(resource)
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ClaimSubmitted)
    assert event.total == Money.of("999.00")
    assert [ln.line_number for ln in event.lines] == [1]


def test_mixed_currencies_are_a_problem_not_a_crash() -> None:
    resource = claim()
    resource["item"][1]["net"] = money("15.50", "EUR")
    outcome = run(resource)
    assert "INVALID_VALUE" in by_code(outcome.problems)


def test_preauthorization_and_draft_post_nothing() -> None:
    assert (
        run(claim(use="preauthorization")).ignored_by
        == "fhir.claim: use preauthorization asks for no payment"
    )
    assert run(claim(status="draft")).items == ()


def test_cancelled_claim_is_a_void() -> None:
    (event,) = run(claim(status="cancelled")).items
    assert isinstance(event, ClaimSubmitted)
    assert (event.key, event.frequency) == ("fhir:Claim/c1#void", "8")


def test_payer_from_the_focal_coverage_in_the_bundle() -> None:
    coverage = {
        "resourceType": "Coverage",
        "id": "cov1",
        "status": "active",
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"reference": "urn:uuid:0f0"}],
        "fullUrl": "urn:uuid:c0c",
    }
    payer = {"resourceType": "Organization", "id": "bcbs", "fullUrl": "urn:uuid:0f0"}
    resource = claim(insurance=[{"sequence": 1, "focal": True, "coverage": {"reference": "urn:uuid:c0c"}}])
    del resource["insurer"]
    outcome = run(bundle(payer, coverage, resource))
    (submitted,) = [e for e in outcome.items if isinstance(e, ClaimSubmitted)]
    assert submitted.payer_id == "Organization/bcbs"


def test_versioned_keys() -> None:
    (event,) = run(claim(meta={"versionId": "3"})).items
    assert event.key == "fhir:Claim/c1/_history/3"


# ---- ClaimResponse and ExplanationOfBenefit ---------------------------------------------------


def adjudicated(resource: dict[str, Any]) -> ClaimAdjudicated:
    outcome = run(resource)
    (event,) = outcome.items
    assert isinstance(event, ClaimAdjudicated)
    return event


def test_claim_response_maps_amounts_and_adjustments() -> None:
    outcome = run(claim_response())
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ClaimAdjudicated)
    assert (event.charge, event.paid, event.patient_responsibility) == (
        Money.of("120.00"),
        Money.of("80.00"),
        Money.of("20.00"),
    )
    assert [(a.group, a.reason, a.amount, a.locator) for a in event.adjustments] == [
        ("PR", "3", Money.of("20.00"), "ClaimResponse.item[0].adjudication[2]"),
        ("CO", "45", Money.of("20.00"), "ClaimResponse.item[0].adjudication[1]"),
    ]
    assert (event.claim_id, event.payer_claim_id, event.status) == ("c1", "cr1", "1")
    assert event.remittance_id == "Organization/payer:EFT-77"
    assert event.facility == "Organization/hosp"
    assert event.occurred_on.isoformat() == "2024-02-25"
    (line,) = event.lines
    assert (line.charge, line.paid) == (Money.of("120.00"), Money.of("80.00"))


def test_payment_adjustment_explains_the_difference() -> None:
    resource = claim_response()
    resource["payment"]["amount"] = money("75.00")
    resource["payment"]["adjustment"] = money("-5.00")
    assert run(resource).problems == ()
    resource["payment"]["adjustment"] = money("-4.00")
    problems = run(resource).problems
    assert by_code(problems) == {"TOTAL_MISMATCH": ["ClaimResponse.payment.amount.value"]}


def test_a_total_against_its_items() -> None:
    resource = claim_response()
    resource["total"][1]["amount"] = money("81.00")
    resource["payment"]["amount"] = money("81.00")
    assert by_code(run(resource).problems) == {"TOTAL_MISMATCH": ["ClaimResponse.total[1].amount.value"]}


def test_without_payment_or_not_complete_nothing_posts() -> None:
    resource = claim_response()
    del resource["payment"]
    outcome = run(resource)
    assert outcome.items == ()
    # Never silent: an INFO (a work item) says why the resource posted nothing.
    [info] = outcome.problems
    assert (info.code, info.severity, info.locator) == (
        ProblemCode.NOTHING_TO_POST,
        Severity.INFO,
        "ClaimResponse",
    )
    assert info.message == "ClaimResponse posts nothing: no payment, so nothing to post"
    assert outcome.ignored_by == "fhir.claimresponse: no payment, so nothing to post"
    assert run(claim_response(outcome="queued")).items == ()
    assert run(claim_response(use="predetermination")).items == ()


def test_withdrawn_response_is_a_reversal_with_negated_amounts() -> None:
    event = adjudicated(claim_response(status="entered-in-error"))
    assert (event.key, event.status, event.is_reversal) == ("fhir:ClaimResponse/cr1#reversal", "22", True)
    assert (event.charge, event.paid, event.patient_responsibility) == (
        Money.of("-120.00"),
        Money.of("-80.00"),
        Money.of("-20.00"),
    )
    assert all(a.amount.is_negative() for a in event.adjustments)
    assert event.lines[0].paid == Money.of("-80.00")


def test_charge_not_stated_is_zero_with_a_warning() -> None:
    resource = claim_response(total=[])
    resource["item"][0]["adjudication"] = resource["item"][0]["adjudication"][2:]
    outcome = run(resource)
    (event,) = outcome.items
    assert isinstance(event, ClaimAdjudicated)
    assert event.charge == Money.zero()
    (problem,) = outcome.problems
    assert (problem.code, problem.severity) == (ProblemCode.MISSING_AMOUNT, Severity.WARNING)


def test_payment_in_another_currency_than_its_parts() -> None:
    resource = claim_response()
    resource["payment"]["amount"] = money("80.00", "EUR")
    outcome = run(resource)
    assert outcome.items == ()
    assert "INVALID_VALUE" in by_code(outcome.problems)


def eob() -> dict[str, Any]:
    return {
        "resourceType": "ExplanationOfBenefit",
        "id": "e1",
        "status": "active",
        "type": {"coding": [{"code": "institutional"}]},
        "use": "claim",
        "patient": {"reference": "Patient/p1"},
        "created": "2024-02-20",
        "insurer": {"display": "private"},
        "provider": {"reference": "Practitioner/doc"},
        "claim": {"reference": "Claim/c9"},
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"reference": "#cov", "display": "private"}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": "99213"}]},
                "net": money("140.52"),
                "adjudication": [
                    {
                        "category": {"coding": [{"code": "https://bluebutton.cms.gov/x/line_coinsrnc_amt"}]},
                        "amount": money("28.104000000000003"),
                    },
                    {
                        "category": {"coding": [{"code": "https://bluebutton.cms.gov/x/line_prvdr_pmt_amt"}]},
                        "amount": money("112.41600000000001"),
                    },
                ],
            }
        ],
        "total": [{"category": {"coding": [{"code": "submitted"}]}, "amount": money("140.52")}],
        "payment": {"amount": money("112.41600000000001")},
    }


def test_eob_with_blue_button_categories_and_float_artefacts() -> None:
    outcome = run(eob())
    (event,) = outcome.items
    assert isinstance(event, ClaimAdjudicated)
    assert (event.charge, event.paid, event.patient_responsibility) == (
        Money.of("140.52"),
        Money.of("112.42"),
        Money.of("28.10"),
    )
    assert [(a.group, a.reason) for a in event.adjustments] == [("PR", "2")]
    assert (event.payer_id, event.claim_id, event.facility) == ("private", "c9", "Practitioner/doc")
    assert event.remittance_id == "private:ExplanationOfBenefit/e1"
    assert {p.code for p in outcome.problems} == {ProblemCode.INEXACT_AMOUNT}
    assert outcome.ok


def test_eob_payee_is_the_facility() -> None:
    resource = eob()
    resource["payee"] = {"party": {"reference": "Organization/hosp"}}
    assert adjudicated(resource).facility == "Organization/hosp"
