"""PHI sentinels: names, birth dates, addresses, phones and identifiers in Patient, Coverage,
Claim and friends never reach an event, a problem or an ignore reason, even when the fields
around them are malformed."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir_helpers import bundle, claim, claim_response, ctx, encode, money

from revbridge.canonical.codec import dumps
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome
from revbridge.formats.fhir import check, operation_outcome, to_events

SENTINELS = (
    "Zebulon",
    "Quixote",
    "1961-07-04",
    "742 Evergreen",
    "Springfield",
    "555-0199",
    "MRN-SENTINEL-9931",
    "MEMBER-SENTINEL-4417",
    "999-88-7777",
    "zq@example.org",
)


def patient(with_id: bool = True) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "fullUrl": "urn:uuid:pat",
        "identifier": [
            {"type": {"coding": [{"code": "MR"}]}, "system": "urn:mrn", "value": "MRN-SENTINEL-9931"},
            {"type": {"coding": [{"code": "SS"}]}, "value": "999-88-7777"},
        ],
        "name": [{"family": "Zebulon", "given": ["Quixote"]}],
        "birthDate": "1961-07-04",
        "address": [{"line": ["742 Evergreen Terrace"], "city": "Springfield"}],
        "telecom": [{"system": "phone", "value": "555-0199"}, {"system": "email", "value": "zq@example.org"}],
    }
    if with_id:
        resource["id"] = "p1"
    return resource


def named(reference: str) -> dict[str, Any]:
    return {"reference": reference, "display": "Quixote Zebulon"}


def documents() -> list[dict[str, Any]]:
    coverage = {
        "resourceType": "Coverage",
        "id": "cov1",
        "status": "active",
        "subscriberId": "MEMBER-SENTINEL-4417",
        "identifier": [{"type": {"coding": [{"code": "MB"}]}, "value": "MEMBER-SENTINEL-4417"}],
        "beneficiary": named("urn:uuid:pat"),
        "subscriber": named("urn:uuid:pat"),
        "payor": [{"reference": "Organization/payer"}],
        "class": [{"type": {"coding": [{"code": "plan"}]}, "value": "PPO", "name": "Zebulon family plan"}],
    }
    account = {
        "resourceType": "Account",
        "id": "a1",
        "status": "active",
        "name": "Billing for Quixote Zebulon",
        "subject": [named("urn:uuid:pat")],
        "coverage": [{"coverage": {"reference": "Coverage/cov1"}}],
    }
    encounter = {
        "resourceType": "Encounter",
        "id": "v1",
        "status": "finished",
        "class": {"code": "AMB"},
        "subject": named("urn:uuid:pat"),
    }
    charge = {
        "resourceType": "ChargeItem",
        "id": "ch1",
        "status": "billable",
        "code": {"coding": [{"code": "99213"}]},
        "subject": named("urn:uuid:pat"),
        "priceOverride": money("10.005"),
        "note": [{"text": "Quixote Zebulon, born 1961-07-04"}],
    }
    the_claim = claim(patient=named("urn:uuid:pat"), total=money("1.00"))
    the_claim["insurance"][0]["identifier"] = {"value": "MEMBER-SENTINEL-4417"}
    response = claim_response(patient=named("urn:uuid:pat"))
    response["payment"]["amount"] = money("99.999")
    good = bundle(patient(), coverage, account, encounter, charge, the_claim, response)
    without_id = bundle(patient(with_id=False), copy.deepcopy(encounter))
    # Malformed fields that hold patient data: a problem names the field, never its content.
    broken = bundle(
        patient(),
        claim(patient=named("urn:uuid:pat"), status="Quixote Zebulon", use="1961-07-04"),
        {**coverage, "status": "MRN-SENTINEL-9931", "order": "Zebulon"},
        {**encounter, "id": "Quixote Zebulon", "class": {"code": 555}},
        {**charge, "priceOverride": {"value": "Zebulon", "currency": "Quixote"}, "quantity": {"value": "x"}},
    )
    broken["entry"].append(
        {"resource": {"resourceType": "Zebulon"}, "request": {"method": "POST", "url": "x"}}
    )
    return [good, without_id, broken, patient(), {"resourceType": "Quixote Zebulon"}]


def text_of(outcome: Outcome[CanonicalEvent]) -> str:
    parts = [dumps(e) for e in outcome.items]
    for p in outcome.problems:
        parts += [p.message, p.locator, str(p.event_key), repr(p.details)]
    parts.append(str(outcome.ignored_by))
    return "\n".join(parts)


@pytest.mark.parametrize("n", range(5))
def test_no_sentinel_reaches_events_or_problems(n: int) -> None:
    document = documents()[n]
    payload = encode(document).encode()
    outcome = to_events(payload, ctx())
    text = text_of(outcome).lower()
    for sentinel in SENTINELS:
        assert sentinel.lower() not in text, sentinel
    admission = check(payload, None)
    routed = encode(operation_outcome(admission.problems)).lower()
    for sentinel in SENTINELS:
        assert sentinel.lower() not in routed, sentinel


def test_the_documents_do_produce_events_and_problems() -> None:
    # The sentinel test only means something if the documents are read and complained about.
    good, without_id, broken, *_ = (to_events(encode(d).encode(), ctx()) for d in documents())
    assert len(good.items) == 6
    assert {str(p.code) for p in good.problems} >= {"TOTAL_MISMATCH", "INEXACT_AMOUNT"}
    assert len(without_id.items) == 1
    assert len(broken.problems) >= 6


def test_patients_become_tokens() -> None:
    good = to_events(encode(documents()[0]).encode(), ctx())
    tokens = {getattr(e, "patient", None) for e in good.items}
    assert len(tokens) == 1
    (token,) = tokens
    assert token is not None
    assert token.startswith("pt_")
    # Without a Patient id, the MR identifier is tokenised: a token, never the number.
    (event,) = to_events(encode(documents()[1]).encode(), ctx()).items
    assert event.patient is not None
    assert event.patient != token
