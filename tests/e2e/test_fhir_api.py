"""The FHIR routes against a real server (``Service`` on a free port), as a FHIR client meets them:
single resources, refusals and Bundles.

Every answer is checked the way a FHIR client reads it: status, Location, content type, the
OperationOutcome's severity/code/expression, and per-entry statuses of a Bundle response. What was
accepted is checked in the store (messages, events after processing, work items), and so is what
was refused: nothing. Every corpus file, the CLI and schemathesis are in test_fhir_api_corpus.py.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir_served import (
    FHIR,
    FHIR_JSON,
    MAX_BODY,
    SYNTHEA,
    Served,
    api_key,
    claim,
    codes,
    event_kinds,
    issues,
    raw,
    serve,
)
from sqlalchemy import select

from revbridge.security.roles import Role
from revbridge.store import workitems
from revbridge.store.schema import events, messages


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


# -- single resources --------------------------------------------------------------------------------


def test_the_official_payment_reconciliation_is_created_and_its_mismatch_becomes_a_work_item(
    served: Served, corpus: Path
) -> None:
    response = served.post(
        "/api/v1/fhir/PaymentReconciliation", (corpus / FHIR.format("paymentreconciliation")).read_bytes()
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "PaymentReconciliation/ER2500/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    message_id = response.headers["x-revbridge-message-id"]
    assert [i["severity"] for i in issues(response)] == ["information"]
    assert message_id in issues(response)[0]["diagnostics"]

    served.rt.settle(close_windows=True)
    items = workitems.list_items(served.rt.db, message_id=message_id, code="TOTAL_MISMATCH")
    assert len(items) == 1
    assert items[0].locator == "PaymentReconciliation.paymentAmount.value"
    assert items[0].details == {"paymentAmount": "7000.00", "details": "6000.00"}
    assert event_kinds(served.rt, message_id)["RemittanceReceived"] == 1


def test_an_idempotency_key_replay_gets_the_same_answer_and_stores_one_message(served: Served) -> None:
    body = raw(claim(claim_id=None))
    first = served.post("/api/v1/fhir/Claim", body, Idempotency_Key="order-1")
    again = served.post("/api/v1/fhir/Claim", body, Idempotency_Key="order-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    message_id = first.headers["x-revbridge-message-id"]
    # A resource without an id is named by the message that holds it.
    assert first.headers["location"] == f"Claim/{message_id}/_history/1"
    assert again.headers["x-revbridge-status"] == "duplicate"
    status = served.rt.status()["messages"]
    assert status["duplicate"] == 1
    assert status["pending"] == 1

    other = served.post(
        "/api/v1/fhir/Claim", raw(claim(claim_id=None), net="99.00"), Idempotency_Key="order-1"
    )
    assert other.status_code == 409
    assert codes(other) == {"DUPLICATE_CONFLICT"}
    assert issues(other)[0]["code"] == "conflict"
    assert issues(other)[0]["expression"] == ["Idempotency-Key"]

    served.rt.settle(close_windows=True)
    assert event_kinds(served.rt, message_id) == Counter({"ClaimSubmitted": 1})


def test_a_replay_without_a_key_is_recognised_by_resource_id(served: Served, corpus: Path) -> None:
    body = (corpus / FHIR.format("claim")).read_bytes()
    first = served.post("/api/v1/fhir/Claim", body)
    again = served.post("/api/v1/fhir/Claim", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.content == first.content
    changed = served.post("/api/v1/fhir/Claim", body.replace(b"135.57", b"135.58"))
    assert changed.status_code == 409
    assert issues(changed)[0]["expression"] == ["Claim.id"]


def test_prefer_chooses_the_resource_an_outcome_or_nothing(served: Served) -> None:
    big = "12345678901234567.89"
    represented = served.post(
        "/api/v1/fhir/Claim", raw(claim(claim_id=None), net=big), Prefer="return=representation"
    )
    assert represented.status_code == 201
    text = represented.text
    assert f'"value":{big}' in text  # every digit, never through a float
    resource = represented.json()
    assert resource["id"] == represented.headers["x-revbridge-message-id"]
    assert resource["meta"]["versionId"] == "1"
    assert resource["resourceType"] == "Claim"

    minimal = served.post("/api/v1/fhir/Claim", raw(claim("C-min")), Prefer="return=minimal")
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["location"] == "Claim/C-min/_history/1"


def test_application_json_is_accepted_too(served: Served) -> None:
    response = served.http.post(
        "/api/v1/fhir/Claim", content=raw(claim("C-json")), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(FHIR_JSON)


# -- refusals ------------------------------------------------------------------------------------------


def test_every_refusal_is_an_operation_outcome_and_stores_nothing(served: Served, corpus: Path) -> None:
    good = served.post("/api/v1/fhir/Claim", raw(claim("C-good")))
    assert good.status_code == 201
    good_id = good.headers["x-revbridge-message-id"]

    invalid_json = served.post("/api/v1/fhir/Claim", b'{"resourceType": "Claim",')
    assert invalid_json.status_code == 400
    assert codes(invalid_json) == {"MALFORMED_MESSAGE"}
    assert issues(invalid_json)[0]["severity"] == "error"

    mismatch = served.post("/api/v1/fhir/Claim", (corpus / FHIR.format("coverage")).read_bytes())
    assert mismatch.status_code in (400, 422)
    located = [i for i in issues(mismatch) if i["details"]["coding"][0]["code"] == "ENVELOPE_MISMATCH"]
    assert located[0]["expression"] == ["resourceType"]
    assert located[0]["code"] == "invalid"

    unsupported = served.post("/api/v1/fhir/Observation", {"resourceType": "Observation", "status": "final"})
    assert unsupported.status_code == 404
    assert issues(unsupported)[0]["code"] == "not-supported"

    unreadable = served.post("/api/v1/fhir/Claim", raw(claim("C-bad", created="16/08/2014")))
    assert unreadable.status_code == 400
    assert any(i["expression"] == ["Claim.created"] for i in issues(unreadable))

    oversized = served.post(
        "/api/v1/fhir/Claim", b'{"resourceType": "Claim", "x": "' + b"a" * MAX_BODY + b'"}'
    )
    assert oversized.status_code == 413
    assert codes(oversized) == {"LIMIT_EXCEEDED"}

    wrong_media = served.post("/api/v1/fhir/Claim", raw(claim("C-xml")), Content_Type="application/fhir+xml")
    assert wrong_media.status_code == 415

    bad_key = served.post("/api/v1/fhir/Claim", raw(claim("C-key")), Idempotency_Key="x" * 300)
    assert bad_key.status_code == 400
    assert issues(bad_key)[0]["expression"] == ["Idempotency-Key"]

    collection = served.post("/api/v1/fhir", {"resourceType": "Bundle", "type": "collection", "entry": []})
    assert collection.status_code == 400
    assert issues(collection)[0]["expression"] == ["Bundle.type"]

    assert served.message_count() == 1  # only the good one
    served.rt.settle(close_windows=True)
    assert event_kinds(served.rt, good_id) == Counter({"ClaimSubmitted": 1})
    with served.rt.db.reading() as conn:
        assert (
            conn.execute(select(messages.c.status).where(messages.c.id == good_id)).scalar_one()
            == "processed"
        )


def test_credentials_are_checked_before_the_body(served: Served) -> None:
    url = f"http://127.0.0.1:{served.service.http_port}/api/v1/fhir/Claim"
    assert httpx.post(url, content=b"{not json").status_code == 401
    viewer = api_key(served.rt, Role.VIEWER)
    forbidden = httpx.post(url, content=raw(claim("C-v")), headers={"Authorization": f"Bearer {viewer}"})
    assert forbidden.status_code == 403
    assert served.message_count() == 0


def test_no_patient_data_in_answers_events_or_work_items(served: Served) -> None:
    sentinel_mrn, sentinel_name = "MRN-SENTINEL-4471", "Sentinelname Zyxwv"
    patient = {
        "resourceType": "Patient",
        "id": "p-sentinel",
        "identifier": [{"system": "urn:oid:1.2.36.146.595.217.0.1", "value": sentinel_mrn}],
        "name": [{"family": sentinel_name}],
        "birthDate": "1974-12-25",
    }
    answered = served.post("/api/v1/fhir/Patient", patient)
    assert answered.status_code == 201
    bad = claim("C-phi", created="not-a-date", patient={"reference": f"Patient/{sentinel_mrn}"})
    refused = served.post("/api/v1/fhir/Claim", raw(bad))
    assert refused.status_code == 400
    conflict = served.post("/api/v1/fhir/Patient", patient | {"gender": "female"})
    assert conflict.status_code == 409
    served.post("/api/v1/fhir/Claim", raw(claim("C-phi", patient={"reference": f"Patient/{sentinel_mrn}"})))
    served.rt.settle(close_windows=True)
    with served.rt.db.reading() as conn:
        bodies = [b for (b,) in conn.execute(select(events.c.body))]
    assert bodies  # the claim produced an event whose patient is a token
    seen = " ".join([answered.text, refused.text, conflict.text, *bodies])
    seen += json.dumps([w.as_json() for w in workitems.list_items(served.rt.db, status=None)])
    for sentinel in (sentinel_mrn, sentinel_name, "1974-12-25"):
        assert sentinel not in seen


# -- Bundles -------------------------------------------------------------------------------------------


def test_the_synthea_transaction_gets_295_entry_responses(served: Served, corpus: Path) -> None:
    response = served.post("/api/v1/fhir", (corpus / SYNTHEA).read_bytes())
    assert response.status_code == 200, response.text[:500]
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "transaction-response"
    entries = [e["response"] for e in bundle["entry"]]
    assert len(entries) == 295
    statuses = Counter(e["status"] for e in entries)
    # Patient 1, Encounter 33, Claim 39, ExplanationOfBenefit 33 are read; the rest ride along.
    assert statuses == Counter({"201 Created": 106, "200 OK": 189})
    locations = Counter(e["location"].split("/", 1)[0] for e in entries if "location" in e)
    assert locations == Counter({"Claim": 39, "ExplanationOfBenefit": 33, "Encounter": 33, "Patient": 1})
    assert all(e["location"].endswith("/_history/1") for e in entries if "location" in e)
    assert served.message_count() == 1

    served.rt.settle(close_windows=True)
    kinds = event_kinds(served.rt, response.headers["x-revbridge-message-id"])
    assert kinds["ClaimSubmitted"] == 39
    assert kinds["ClaimAdjudicated"] == 33


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"request": {"method": "POST", "url": resource["resourceType"]}, "resource": resource}


def test_a_batch_answers_each_entry_and_a_transaction_falls_whole(served: Served) -> None:
    good, bad = claim("C-b1"), claim("C-b2", created="yesterday")
    batch_body = raw({"resourceType": "Bundle", "type": "batch", "entry": [_entry(good), _entry(bad)]})
    batch = served.post("/api/v1/fhir", batch_body)
    assert batch.status_code == 200
    answer = batch.json()
    assert answer["type"] == "batch-response"
    first, second = (e["response"] for e in answer["entry"])
    assert first["status"] == "201 Created"
    assert first["location"] == "Claim/C-b1/_history/1"
    assert second["status"].startswith("400")
    assert second["outcome"]["issue"][0]["expression"] == ["Bundle.entry[1].resource.created"]
    assert served.message_count() == 1

    txn_body = raw(
        {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(claim("C-t1")), _entry(bad)]}
    )
    transaction = served.post("/api/v1/fhir", txn_body)
    assert transaction.status_code == 400
    assert ["Bundle.entry[1].resource.created"] in [i.get("expression") for i in issues(transaction)]
    all_bad = raw({"resourceType": "Bundle", "type": "batch", "entry": [_entry(bad)]})
    assert served.post("/api/v1/fhir", all_bad).status_code == 400
    assert served.message_count() == 1

    replay = served.post("/api/v1/fhir", batch_body)
    assert (replay.status_code, replay.content) == (200, batch.content)
    assert served.rt.status()["messages"]["duplicate"] == 1
