"""ChargeItem, PaymentReconciliation, PaymentNotice, Invoice, Encounter, Account, Coverage and the
Bundle rules (urn:uuid resolution, keys, conflicts, unsupported entries)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fhir_helpers import RECEIVED, bundle, by_code, claim, money, run

from revbridge.canonical.events import (
    ChargeCaptured,
    ChargeReversed,
    ClaimSubmitted,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
    ProviderAdjustment,
    RemittanceReceived,
)
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer


def charge_item(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "id": "ch1",
        "status": "billable",
        "code": {"coding": [{"code": "71045"}]},
        "subject": {"reference": "Patient/p1"},
        "context": {"reference": "Encounter/v1"},
        "occurrenceDateTime": "2024-02-01T09:30:00-05:00",
        "quantity": {"value": 3},
        "priceOverride": money("75.00"),
        "costCenter": {"identifier": {"value": "RAD"}},
    }
    resource.update(changes)
    return resource


def test_charge_price_override_is_the_total_not_multiplied_by_quantity() -> None:
    outcome = run(charge_item())
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ChargeCaptured)
    assert (event.amount, event.quantity, event.department, event.encounter) == (
        Money.of("75.00"),
        3,
        "RAD",
        "v1",
    )
    assert (event.key, event.charge_id, event.procedure) == ("fhir:ChargeItem/ch1", "ch1", "71045")
    assert event.occurred_on.isoformat() == "2024-02-01"


def test_charge_factor_rounds_half_even_with_a_warning() -> None:
    outcome = run(charge_item(priceOverride=money("10.01"), factorOverride=Decimal("0.5")))
    (event,) = outcome.items
    assert isinstance(event, ChargeCaptured)
    assert event.amount == Money.of("5.00")  # 5.005 -> 5.00, half to even
    (problem,) = outcome.problems
    assert (problem.code, problem.severity, problem.event_key) == (
        ProblemCode.INEXACT_AMOUNT,
        Severity.WARNING,
        "fhir:ChargeItem/ch1",
    )


def test_entered_in_error_reverses_the_charge_itself() -> None:
    (event,) = run(charge_item(status="entered-in-error")).items
    assert isinstance(event, ChargeReversed)
    assert (event.key, event.original_charge_id, event.amount) == (
        "fhir:ChargeItem/ch1#reversal",
        "ch1",
        Money.of("75.00"),
    )


def test_negative_quantity_is_a_reversal_with_magnitudes() -> None:
    (event,) = run(charge_item(quantity={"value": -3})).items
    assert isinstance(event, ChargeReversed)
    assert (event.key, event.quantity, event.amount) == ("fhir:ChargeItem/ch1", 3, Money.of("75.00"))


@pytest.mark.parametrize("status", ["billed", "planned", "not-billable", "aborted", "unknown"])
def test_other_statuses_post_nothing(status: str) -> None:
    outcome = run(charge_item(status=status))
    assert outcome.items == ()
    assert outcome.ignored_by == f"fhir.chargeitem: status {status} posts nothing"


def test_charge_without_price_override_is_missing_amount() -> None:
    resource = charge_item()
    del resource["priceOverride"]
    outcome = run(resource)
    assert outcome.items == ()
    (problem,) = outcome.problems
    assert (problem.code, problem.locator, problem.event_key) == (
        ProblemCode.MISSING_AMOUNT,
        "ChargeItem.priceOverride",
        "fhir:ChargeItem/ch1",
    )


def test_charge_facility_from_its_encounter_in_the_bundle() -> None:
    encounter = {
        "resourceType": "Encounter",
        "id": "v1",
        "fullUrl": "urn:uuid:e1",
        "status": "in-progress",
        "class": {"code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "serviceProvider": {"reference": "Organization/north"},
    }
    outcome = run(bundle(encounter, charge_item(context={"reference": "urn:uuid:e1"})))
    charge = next(e for e in outcome.items if isinstance(e, ChargeCaptured))
    assert (charge.facility, charge.encounter) == ("Organization/north", "v1")
    registered = next(e for e in outcome.items if isinstance(e, EncounterRegistered))
    assert registered.patient == charge.patient


# ---- payments ---------------------------------------------------------------------------------


def reconciliation(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "PaymentReconciliation",
        "id": "pr1",
        "status": "active",
        "created": "2024-03-01",
        "paymentDate": "2024-03-02",
        "paymentAmount": money("450.00"),
        "paymentIdentifier": {"value": "TRC-9"},
        "paymentIssuer": {"reference": "Organization/payer", "display": "Acme Health Plan"},
        "requestor": {"reference": "Organization/hosp"},
        "detail": [
            {"type": {"coding": [{"code": "payment"}]}, "amount": money("400.00")},
            {"type": {"coding": [{"code": "payment"}]}, "amount": money("75.00")},
            {"type": {"coding": [{"code": "adjustment"}]}, "amount": money("-25.00"), "date": "2024-03-01"},
        ],
    }
    resource.update(changes)
    return resource


def test_reconciliation_that_adds_up() -> None:
    outcome = run(reconciliation())
    assert outcome.problems == ()
    remittance, adjustment = outcome.items
    assert isinstance(remittance, RemittanceReceived)
    assert (remittance.amount, remittance.claim_count, remittance.trace, remittance.payer_name) == (
        Money.of("450.00"),
        2,
        "TRC-9",
        "Acme Health Plan",
    )
    assert (remittance.facility, remittance.remittance_id) == (
        "Organization/hosp",
        "Organization/payer:TRC-9",
    )
    assert isinstance(adjustment, ProviderAdjustment)
    assert (adjustment.key, adjustment.reason, adjustment.amount, adjustment.remittance_id) == (
        "fhir:PaymentReconciliation/pr1#detail[2]",
        "adjustment",
        Money.of("25.00"),
        remittance.remittance_id,
    )


def test_cancelled_reconciliation_reverses() -> None:
    remittance, adjustment = run(reconciliation(status="cancelled")).items
    assert isinstance(remittance, RemittanceReceived)
    assert (remittance.key, remittance.amount) == (
        "fhir:PaymentReconciliation/pr1#reversal",
        Money.of("-450.00"),
    )
    assert isinstance(adjustment, ProviderAdjustment)
    assert adjustment.amount == Money.of("-25.00")


def test_reconciliation_detail_in_another_currency() -> None:
    resource = reconciliation()
    resource["detail"][1]["amount"] = money("75.00", "EUR")
    outcome = run(resource)
    assert by_code(outcome.problems) == {"INVALID_VALUE": ["PaymentReconciliation.detail[1].amount.currency"]}


def test_payment_notice_posts_nothing_but_is_checked() -> None:
    notice = {
        "resourceType": "PaymentNotice",
        "id": "pn1",
        "status": "active",
        "created": "2024-03-03",
        "payment": {"reference": "PaymentReconciliation/pr1"},
        "recipient": {"reference": "Organization/hosp"},
        "amount": money("450.001"),
    }
    outcome = run(notice)
    assert outcome.items == ()
    assert outcome.ignored_by is not None
    assert by_code(outcome.problems) == {
        "INEXACT_AMOUNT": ["PaymentNotice.amount.value"],
        "NOTHING_TO_POST": ["PaymentNotice"],
    }
    del notice["amount"]
    assert by_code(run(notice).problems) == {"MISSING_FIELD": ["PaymentNotice.amount"]}


def invoice(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Invoice",
        "id": "i1",
        "status": "issued",
        "totalNet": money("40", "EUR"),
        "totalGross": money("48", "EUR"),
        "totalPriceComponent": [{"type": "tax", "amount": money("8", "EUR")}],
    }
    resource.update(changes)
    return resource


def test_invoice_tax_components_must_explain_gross() -> None:
    assert by_code(run(invoice()).problems) == {"NOTHING_TO_POST": ["Invoice"]}
    assert by_code(run(invoice(totalGross=money("49", "EUR"))).problems) == {
        "TOTAL_MISMATCH": ["Invoice.totalGross.value"]
    }
    assert by_code(run(invoice(totalGross=money("30", "EUR"), totalPriceComponent=[])).problems) == {
        "TOTAL_MISMATCH": ["Invoice.totalGross.value"]
    }


# ---- context ----------------------------------------------------------------------------------


def encounter(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": "v1",
        "status": "finished",
        "class": {"code": "EMER"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-01-01T22:00:00Z", "end": "2024-01-02T03:00:00Z"},
        "serviceType": {"coding": [{"code": "ED"}]},
        "serviceProvider": {"reference": "Organization/north"},
    }
    resource.update(changes)
    return resource


def test_encounter_statuses() -> None:
    (updated,) = run(encounter()).items
    assert isinstance(updated, EncounterUpdated)
    assert (updated.patient_class, updated.department, updated.facility) == ("E", "ED", "Organization/north")
    assert (updated.admitted_on.isoformat(), str(updated.discharged_on)) == ("2024-01-01", "2024-01-02")
    assert isinstance(run(encounter(status="arrived")).items[0], EncounterRegistered)
    assert isinstance(run(encounter(status="cancelled")).items[0], EncounterCancelled)
    (odd,) = run(encounter(**{"class": {"code": "HH"}})).items
    assert isinstance(odd, EncounterUpdated)
    assert odd.patient_class == "HH"


def test_encounter_without_subject_is_a_problem() -> None:
    resource = encounter()
    del resource["subject"]
    outcome = run(resource)
    assert outcome.items == ()
    assert by_code(outcome.problems) == {"MISSING_FIELD": ["Encounter.subject"]}


def coverage(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": "cov1",
        "fullUrl": "urn:uuid:cov",
        "status": "active",
        "subscriberId": "W123456789",
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"reference": "Organization/bcbs"}],
        "order": 2,
        "class": [{"type": {"coding": [{"code": "plan"}]}, "value": "PPO-1"}],
    }
    resource.update(changes)
    return resource


def test_coverage_tokenises_the_member_id() -> None:
    (event,) = run(coverage()).items
    assert isinstance(event, CoverageUpdated)
    (part,) = event.coverages
    assert (part.payer_id, part.plan, part.priority) == ("Organization/bcbs", "PPO-1", 2)
    assert part.member is not None
    assert part.member.startswith("pt_")
    assert "W123456789" not in part.member
    assert run(coverage(status="cancelled")).items == ()


def test_account_takes_its_coverages_from_the_bundle() -> None:
    account = {
        "resourceType": "Account",
        "id": "acct7",
        "status": "active",
        "subject": [{"reference": "Patient/p1"}],
        "servicePeriod": {"start": "2024-01-05"},
        "coverage": [{"coverage": {"reference": "urn:uuid:cov"}, "priority": 1}],
        "owner": {"reference": "Organization/north"},
    }
    outcome = run(bundle(coverage(), account, kind="collection"))
    registered = next(e for e in outcome.items if isinstance(e, EncounterRegistered))
    assert (registered.encounter, registered.trigger, registered.facility) == (
        "acct7",
        "Account",
        "Organization/north",
    )
    (part,) = registered.coverages
    assert (part.payer_id, part.plan, part.priority) == ("Organization/bcbs", "PPO-1", 1)


# ---- bundles ----------------------------------------------------------------------------------


def test_unresolved_urn_reference_in_a_bundle() -> None:
    outcome = run(bundle(claim(patient={"reference": "urn:uuid:nobody"})))
    assert by_code(outcome.problems) == {
        "UNRESOLVED_REFERENCE": ["Bundle.entry[0].resource.patient.reference"]
    }


def test_entry_locators_and_sources() -> None:
    outcome = run(bundle({"resourceType": "Observation", "id": "o1"}, claim(total=money("1.00"))))
    (event,) = outcome.items
    assert event.source.locator == "Bundle.entry[1].resource"
    assert event.source.message_id == "msg-1"
    assert by_code(outcome.problems) == {"TOTAL_MISMATCH": ["Bundle.entry[1].resource.total.value"]}


def test_same_key_twice_is_a_conflict() -> None:
    outcome = run(bundle(claim(), claim(total=money("135.50"))))
    assert len(outcome.items) == 1
    (problem,) = outcome.problems
    assert (problem.code, problem.locator, problem.event_key) == (
        ProblemCode.EVENT_CONFLICT,
        "Bundle.entry[1].resource",
        "fhir:Claim/c1",
    )


def test_keys_without_an_id() -> None:
    resource = claim(fullUrl="urn:uuid:1234")
    del resource["id"]
    (event,) = run(bundle(resource)).items
    assert event.key == "fhir:Claim/urn:uuid:1234"
    bare = claim()
    del bare["id"]
    outcome = run(bare)
    (event,) = outcome.items
    assert event.key == "fhir:Claim@msg-1:Claim"
    assert by_code(outcome.problems) == {"MISSING_FIELD": ["Claim.id"]}
    assert outcome.problems[0].severity is Severity.WARNING
    assert run({"resourceType": "Patient"}).problems == ()  # no event, so no key to worry about


def test_delete_entries_and_nested_bundles() -> None:
    document = bundle(claim(), {"resourceType": "Bundle", "type": "collection"})
    document["entry"].append({"request": {"method": "DELETE", "url": "Claim/c0"}})
    outcome = run(document)
    assert [type(e) for e in outcome.items] == [ClaimSubmitted]
    assert by_code(outcome.problems) == {
        "UNSUPPORTED_MESSAGE": ["Bundle.entry[1].resource"],
        "UNSUPPORTED_TRANSACTION": ["Bundle.entry[2].request.method"],
    }


def test_unsupported_resource_and_empty_bundle() -> None:
    outcome = run({"resourceType": "Observation", "id": "o1"})
    assert by_code(outcome.problems) == {"UNSUPPORTED_MESSAGE": ["resourceType"]}
    empty = run(bundle({"resourceType": "Observation", "id": "o1"}))
    assert (empty.items, empty.problems) == ((), ())
    assert empty.ignored_by == "fhir: the document holds no financial resource"


def test_received_date_is_the_fallback_business_date() -> None:
    resource = charge_item()
    del resource["occurrenceDateTime"]
    (event,) = run(resource).items
    assert event.occurred_on == RECEIVED


def test_patient_tokens_agree_across_reference_styles() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "fullUrl": "urn:uuid:pat"}
    by_urn = claim(id="c1", patient={"reference": "urn:uuid:pat"})
    by_id = claim(id="c2", patient={"reference": "Patient/p1"})
    absolute = claim(id="c3", patient={"reference": "https://ehr.example/fhir/Patient/p1/_history/4"})
    outcome = run(bundle(patient, by_urn, by_id, absolute))
    expected = fixed_tokenizer()("fhir:Patient", "Patient/p1")
    assert [e.patient for e in outcome.items] == [expected, expected, expected]
    alone = run(claim(patient={"reference": "Patient/p1"}))
    assert alone.items[0].patient == expected
