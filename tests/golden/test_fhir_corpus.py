"""Golden tests over ../shared/corpus/fhir: the totals SOURCES.md states, and the official
examples' own inconsistencies as located problems. The corpus is read in place."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from revbridge.canonical.codec import dumps, loads
from revbridge.canonical.events import (
    ChargeCaptured,
    ClaimAdjudicated,
    ClaimSubmitted,
    CoverageUpdated,
    EncounterRegistered,
    EncounterUpdated,
    ProviderAdjustment,
    RemittanceReceived,
)
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir import FHIR, parse, to_events

SYNTHEA = "inferno_refserver__synthea_v2.4_Emmie273_Kovacek682_transaction_bundle_claims_eobs.json"
CENT = Decimal("0.01")


def ctx() -> ParseContext:
    return ParseContext(message_id="golden", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 2))


def example(corpus: Path, name: str) -> bytes:
    return (corpus / "fhir" / f"fhir_models_r4__{name}-example.json").read_bytes()


@pytest.fixture(scope="module")
def synthea(corpus: Path) -> bytes:
    return (corpus / "fhir" / SYNTHEA).read_bytes()


@pytest.fixture(scope="module")
def synthea_json(synthea: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(synthea, parse_float=Decimal)
    return data


# ---- Synthea transaction bundle -------------------------------------------------------------


def test_synthea_models_hold_every_claim_and_eob_with_exact_totals(synthea: bytes) -> None:
    parsed = parse(synthea, ctx())
    assert parsed.document is not None
    assert parsed.document.bundle_type == "transaction"
    assert parsed.document.entry_count == 295
    claims = [r.model for r in parsed.resources if r.entry.resource_type == "Claim"]
    eobs = [r.model for r in parsed.resources if r.entry.resource_type == "ExplanationOfBenefit"]
    assert len(claims) == 39
    assert len(eobs) == 33
    assert sum(c.total.value for c in claims) == Decimal("17286.76")
    by_type: Counter[str] = Counter()
    for c in claims:
        by_type[c.claim_type] += c.total.value
    assert by_type == {"institutional": Decimal("15756.76"), "pharmacy": Decimal("1530.00")}
    submitted = [t.amount.value for e in eobs for t in e.totals if t.category == "submitted"]
    assert len(submitted) == 33
    assert sum(submitted) == Decimal("15756.76")
    # Exactly as written, float artefacts and all: nothing went through a float.
    assert sum(e.payment.amount.value for e in eobs) == Decimal("9305.40800000000042")


def test_synthea_events_post_the_rounded_amounts(synthea: bytes, synthea_json: dict[str, Any]) -> None:
    outcome = to_events(synthea, ctx())
    kinds = Counter(type(e).__name__ for e in outcome.items)
    assert kinds == {"ClaimSubmitted": 39, "ClaimAdjudicated": 33, "EncounterUpdated": 33}
    claims = [e for e in outcome.items if isinstance(e, ClaimSubmitted)]
    adjudicated = [e for e in outcome.items if isinstance(e, ClaimAdjudicated)]
    assert sum((c.total for c in claims), Money.zero()) == Money.of("17286.76")
    written = [
        e["resource"]["payment"]["amount"]["value"]
        for e in synthea_json["entry"]
        if e["resource"]["resourceType"] == "ExplanationOfBenefit"
    ]
    rounded = sum(Decimal(v).quantize(CENT, rounding=ROUND_HALF_EVEN) for v in written)
    assert rounded == Decimal("9305.41")
    assert sum((a.paid for a in adjudicated), Money.zero()) == Money.of(rounded)
    assert all(a.paid.is_exact() and a.charge.is_exact() for a in adjudicated)
    assert sum(1 for a in adjudicated if a.paid.is_zero()) == 18


def test_synthea_every_eob_answers_one_institutional_claim(synthea: bytes) -> None:
    outcome = to_events(synthea, ctx())
    institutional = {
        e.claim_id: e
        for e in outcome.items
        if isinstance(e, ClaimSubmitted) and e.claim_type == "institutional"
    }
    answered = [e.claim_id for e in outcome.items if isinstance(e, ClaimAdjudicated)]
    assert len(institutional) == 33
    assert sorted(answered) == sorted(institutional)
    for eob in (e for e in outcome.items if isinstance(e, ClaimAdjudicated)):
        claim = institutional[eob.claim_id]
        assert eob.charge == claim.total
        assert eob.facility == claim.facility  # the billing organization, as the Claim names it
        assert eob.facility.startswith("Organization/")
        assert eob.patient == claim.patient


def test_synthea_float_artefacts_are_located_warnings(synthea: bytes, synthea_json: dict[str, Any]) -> None:
    outcome = to_events(synthea, ctx())
    assert outcome.ok
    assert {(p.code, p.severity) for p in outcome.problems} == {
        (ProblemCode.INEXACT_AMOUNT, Severity.WARNING)
    }
    located = {p.locator for p in outcome.problems}
    inexact_payments = [
        f"Bundle.entry[{i}].resource.payment.amount.value"
        for i, e in enumerate(synthea_json["entry"])
        if e["resource"]["resourceType"] == "ExplanationOfBenefit"
        and not Money(e["resource"]["payment"]["amount"]["value"]).is_exact()
    ]
    assert len(inexact_payments) == 13
    assert set(inexact_payments) <= located
    first = next(p for p in outcome.problems if p.locator == inexact_payments[0])
    assert "rounded half-even to" in first.message


def test_synthea_references_resolve_inside_the_bundle(synthea: bytes) -> None:
    outcome = to_events(synthea, ctx())
    assert not any(p.code is ProblemCode.UNRESOLVED_REFERENCE for p in outcome.problems)
    patients = {getattr(e, "patient", None) for e in outcome.items}
    assert len(patients) == 1  # one Synthea patient, one token, on every event
    assert None not in patients
    encounters = [e for e in outcome.items if isinstance(e, EncounterUpdated)]
    assert all(e.facility.startswith("Organization/") and e.patient_class == "O" for e in encounters)
    assert all(not e.facility.startswith("urn:") for e in outcome.items)


def test_synthea_split_is_one_envelope(synthea: bytes) -> None:
    envelopes = list(FHIR.split(synthea))
    assert len(envelopes) == 1
    assert envelopes[0].payload == synthea
    assert envelopes[0].dedupe_key == ""  # the Bundle has no id: the store uses the content hash
    assert FHIR.detect(synthea[:512])


# ---- official examples ----------------------------------------------------------------------


def test_payment_reconciliation_details_do_not_add_up(corpus: Path) -> None:
    outcome = to_events(example(corpus, "paymentreconciliation"), ctx())
    remittance, advance = outcome.items
    assert isinstance(remittance, RemittanceReceived)
    assert remittance.amount == Money.of("7000.00")
    assert remittance.occurred_on == date(2014, 8, 1)
    assert remittance.payer_id == "Organization/2"
    assert remittance.remittance_id == "Organization/2:10-12345"
    assert remittance.claim_count == 2
    assert isinstance(advance, ProviderAdjustment)
    assert advance.reason == "advance"
    assert advance.amount == Money.of("1500.00")  # PLB sign: the advance reduced the payment
    (problem,) = outcome.problems
    assert problem.code is ProblemCode.TOTAL_MISMATCH
    assert problem.severity is Severity.ERROR
    assert problem.locator == "PaymentReconciliation.paymentAmount.value"
    assert problem.event_key == remittance.key
    assert dict(problem.details) == {"paymentAmount": "7000.00", "details": "6000.00"}
    assert not outcome.ok


def test_claim_response_payment_disagrees_with_its_benefit(corpus: Path) -> None:
    outcome = to_events(example(corpus, "claimresponse"), ctx())
    (event,) = outcome.items
    assert isinstance(event, ClaimAdjudicated)
    assert event.paid == Money.of("100.47")
    assert event.charge == Money.of("135.57")
    assert event.claim_id == "15476332402"
    assert event.payer_id == "555123"
    assert event.remittance_id == "555123:201408-2-1569478"
    assert event.occurred_on == date(2014, 8, 31)
    assert [(a.group, a.reason, a.amount) for a in event.adjustments] == [("PR", "3", Money.of("10.00"))]
    assert event.patient_responsibility == Money.of("10.00")
    (problem,) = outcome.problems
    assert problem.code is ProblemCode.TOTAL_MISMATCH
    assert problem.locator == "ClaimResponse.payment.amount.value"
    assert problem.event_key == event.key == "fhir:ClaimResponse/R3500"
    assert "100.47" in problem.message
    assert "90.47" in problem.message


def test_charge_item_price_override_with_factor(corpus: Path) -> None:
    payload = example(corpus, "chargeitem")
    (resource,) = parse(payload, ctx()).resources
    assert resource.model.price.value == 40
    assert resource.model.price.currency == "EUR"
    assert resource.model.factor == Decimal("0.8")
    outcome = to_events(payload, ctx())
    assert outcome.problems == ()
    (charge,) = outcome.items
    assert isinstance(charge, ChargeCaptured)
    assert charge.amount == Money.of("32.00", "EUR")
    assert charge.quantity == 1
    assert charge.procedure == "01510"
    assert charge.department == "CARD_INTERMEDIATE_CARE"
    assert charge.encounter == "example"
    assert charge.occurred_on == date(2017, 1, 25)


def test_invoice_totals_are_read_and_post_nothing(corpus: Path) -> None:
    payload = example(corpus, "invoice")
    (resource,) = parse(payload, ctx()).resources
    assert resource.model.total_net.money() == Money.of("40", "EUR")
    assert resource.model.total_gross.money() == Money.of("48", "EUR")
    outcome = to_events(payload, ctx())
    assert outcome.items == ()
    # Posting nothing is said, never silent: one INFO naming why (a work item to read).
    assert [(str(p.code), str(p.severity), p.locator) for p in outcome.problems] == [
        ("NOTHING_TO_POST", "info", "Invoice")
    ]
    assert outcome.ignored_by is not None
    assert outcome.ignored_by.startswith("fhir.invoice")


def test_claim_without_total_totals_its_items(corpus: Path) -> None:
    outcome = to_events(example(corpus, "claim"), ctx())
    assert outcome.problems == ()
    (claim,) = outcome.items
    assert isinstance(claim, ClaimSubmitted)
    assert claim.key == "fhir:Claim/100150"
    assert claim.lines[0].charge == Money.of("135.57")
    assert claim.total == Money.of("135.57")
    assert claim.payer_id == "Organization/2"
    assert claim.facility == "Organization/1"
    assert claim.claim_type == "oral"


def test_context_examples(corpus: Path) -> None:
    (coverage,) = to_events(example(corpus, "coverage"), ctx()).items
    assert isinstance(coverage, CoverageUpdated)
    assert [(c.payer_id, c.plan, c.priority) for c in coverage.coverages] == [("Organization/2", "B37FC", 1)]
    (account,) = to_events(example(corpus, "account"), ctx()).items
    assert isinstance(account, EncounterRegistered)
    assert (account.encounter, account.facility, account.trigger) == (
        "example",
        "Organization/hl7",
        "Account",
    )
    assert (account.admitted_on, account.discharged_on) == (date(2016, 1, 1), date(2016, 6, 30))
    (encounter,) = to_events(example(corpus, "encounter"), ctx()).items
    assert isinstance(encounter, EncounterRegistered)
    assert encounter.patient_class == "I"
    assert encounter.patient == account.patient  # both reference Patient/example
    patient = to_events(example(corpus, "patient"), ctx())
    assert (patient.items, patient.problems) == ((), ())


def test_every_example_reads_without_structural_errors(corpus: Path) -> None:
    for path in sorted((corpus / "fhir").glob("*.json")):
        problems = parse(path.read_bytes(), ctx()).problems
        assert all(p.severity is not Severity.ERROR for p in problems), (path.name, problems)


def test_a_large_amount_survives_exactly(corpus: Path) -> None:
    claim = json.loads(example(corpus, "claim"), parse_float=Decimal)
    claim["item"][0]["unitPrice"]["value"] = Decimal("12345678901234567.89")
    claim["item"][0]["net"]["value"] = Decimal("12345678901234567.89")
    payload = (
        json.dumps(claim, default=str).replace('"12345678901234567.89"', "12345678901234567.89").encode()
    )
    assert b"12345678901234567.89" in payload
    outcome = to_events(payload, ctx())
    assert outcome.problems == ()
    (event,) = outcome.items
    assert isinstance(event, ClaimSubmitted)
    assert event.total.amount == Decimal("12345678901234567.89")
    assert event.lines[0].charge.amount == Decimal("12345678901234567.89")
    assert loads(dumps(event)) == event  # and through the store's JSON codec
    # The value is one a float cannot hold, so a float anywhere on the path would have failed above.
    assert Decimal(float("12345678901234567.89")) != Decimal("12345678901234567.89")


# ---- fhir.resources as an oracle (never on the hot path) --------------------------------------


def test_amounts_agree_with_fhir_resources(corpus: Path) -> None:
    from fhir.resources.R4B.chargeitem import ChargeItem
    from fhir.resources.R4B.claim import Claim
    from fhir.resources.R4B.claimresponse import ClaimResponse
    from fhir.resources.R4B.invoice import Invoice
    from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

    def both(name: str, model: Any) -> tuple[Any, Any]:
        payload = example(corpus, name)
        (resource,) = parse(payload, ctx()).resources
        return resource.model, model.model_validate(json.loads(payload, parse_float=Decimal))

    ours, theirs = both("claim", Claim)
    assert [i.net.value for i in ours.items] == [i.net.value for i in theirs.item]
    ours, theirs = both("claimresponse", ClaimResponse)
    assert ours.payment.amount.value == theirs.payment.amount.value
    assert [t.amount.value for t in ours.totals] == [t.amount.value for t in theirs.total]
    ours, theirs = both("paymentreconciliation", PaymentReconciliation)
    assert ours.amount.value == theirs.paymentAmount.value
    assert [d.amount.value for d in ours.details] == [d.amount.value for d in theirs.detail]
    ours, theirs = both("chargeitem", ChargeItem)
    assert (ours.price.value, ours.factor) == (theirs.priceOverride.value, theirs.factorOverride)
    ours, theirs = both("invoice", Invoice)
    assert (ours.total_net.value, ours.total_gross.value) == (theirs.totalNet.value, theirs.totalGross.value)


def test_fhir_resources_json_path_would_lose_the_large_amount(corpus: Path) -> None:
    from fhir.resources.R4B.claim import Claim

    text = example(corpus, "claim").decode().replace('"value": 135.57', '"value": 12345678901234567.89')
    assert Claim.model_validate_json(text).item[0].net.value != Decimal("12345678901234567.89")
    (resource,) = parse(text.encode(), ctx()).resources
    assert resource.model.items[0].net.value == Decimal("12345678901234567.89")
