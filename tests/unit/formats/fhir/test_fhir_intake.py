"""What the HTTP routes will call: check(), OperationOutcome, response Bundles, the format object."""

from __future__ import annotations

import json
from typing import Any

from fhir_helpers import bundle, claim, claim_response, encode, money

from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import Limits
from revbridge.formats.fhir import (
    FHIR,
    EntryOutcome,
    bundle_response,
    check,
    dedupe_key,
    http_status,
    operation_outcome,
)


def body(document: dict[str, Any]) -> bytes:
    return encode(document).encode()


def test_a_good_resource_on_its_route() -> None:
    admission = check(body(claim()), "Claim")
    assert admission.ok
    assert (admission.resource_type, admission.id, admission.problems) == ("Claim", "c1", ())


def test_resource_type_must_match_the_route() -> None:
    admission = check(body(claim()), "Patient")
    assert not admission.ok
    (problem,) = admission.problems
    assert (problem.code, problem.locator) == (ProblemCode.ENVELOPE_MISMATCH, "resourceType")
    assert http_status(admission.problems) == 400


def test_unsupported_type_and_bad_json() -> None:
    assert check(b'{"resourceType": "Observation"}', None).problems[0].code is ProblemCode.UNSUPPORTED_MESSAGE
    assert check(b"{", "Claim").problems[0].code is ProblemCode.MALFORMED_MESSAGE
    oversized = check(body(claim()), "Claim", limits=Limits(max_message_bytes=10))
    assert http_status(oversized.problems) == 413


def test_field_problems_are_located_for_an_operation_outcome() -> None:
    resource = claim(created="yesterday")
    resource["total"] = {"value": "135.50"}
    admission = check(body(resource), "Claim")
    assert [(str(p.code), p.locator) for p in admission.problems] == [
        ("INVALID_DATE", "Claim.created"),
        ("INVALID_AMOUNT", "Claim.total.value"),
    ]


def test_business_rules_are_left_to_the_work_queue() -> None:
    resource = claim_response()
    resource["payment"]["amount"] = money("100.00")  # disagrees with its benefit
    assert check(body(resource), "ClaimResponse").ok


def test_only_transaction_and_batch_bundles_are_posted() -> None:
    admission = check(body(bundle(claim(), kind="collection")), "Bundle")
    assert [(str(p.code), p.locator) for p in admission.problems] == [("ENVELOPE_MISMATCH", "Bundle.type")]
    assert check(body(bundle(claim(), kind="batch")), "Bundle").ok


def test_batch_entries_are_checked_one_by_one() -> None:
    bad = claim(id="c2", status="nonsense")
    document = bundle(claim(), {"resourceType": "Observation", "id": "o1"}, bad, kind="batch")
    document["entry"].append("not an entry")
    document["entry"][0]["request"]["url"] = "Patient"
    admission = check(body(document), "Bundle")
    assert admission.bundle_type == "batch"
    assert [(e.index, e.resource_type, e.id, e.supported, e.ok) for e in admission.entries] == [
        (0, "Claim", "c1", True, False),
        (1, "Observation", "o1", False, True),
        (2, "Claim", "c2", True, False),
        (3, "", "", False, False),
    ]
    assert [p.locator for p in admission.entries[0].problems] == ["Bundle.entry[0].request.url"]
    assert [p.locator for p in admission.entries[2].problems] == ["Bundle.entry[2].resource.status"]


def test_operation_outcome_shape() -> None:
    problem = Problem(
        code=ProblemCode.TOTAL_MISMATCH,
        message="total differs",
        where=SourceRef("m", "Bundle.entry[4].resource.total.value"),
    )
    warning = Problem(code=ProblemCode.INEXACT_AMOUNT, message="rounded", severity=Severity.WARNING)
    outcome = operation_outcome([problem, warning])
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "business-rule",
                "details": {
                    "coding": [{"system": "urn:revbridge:problem-code", "code": "TOTAL_MISMATCH"}],
                    "text": "total differs",
                },
                "diagnostics": "total differs",
                "expression": ["Bundle.entry[4].resource.total.value"],
            },
            {
                "severity": "warning",
                "code": "value",
                "details": {
                    "coding": [{"system": "urn:revbridge:problem-code", "code": "INEXACT_AMOUNT"}],
                    "text": "rounded",
                },
                "diagnostics": "rounded",
            },
        ],
    }
    json.dumps(outcome)  # plain JSON, ready to send
    assert operation_outcome([])["issue"] == [
        {"severity": "information", "code": "informational", "diagnostics": "accepted"}
    ]


def test_http_status_per_problem() -> None:
    def p(code: ProblemCode, severity: Severity = Severity.ERROR) -> Problem:
        return Problem(code=code, message="x", severity=severity)

    assert http_status([p(ProblemCode.INEXACT_AMOUNT, Severity.WARNING)]) is None
    assert http_status([p(ProblemCode.TOTAL_MISMATCH)]) == 422
    assert http_status([p(ProblemCode.TOTAL_MISMATCH), p(ProblemCode.MISSING_FIELD)]) == 400
    assert http_status([p(ProblemCode.DUPLICATE_CONFLICT)]) == 409


def test_transaction_response_bundle() -> None:
    bad = Problem(code=ProblemCode.MISSING_FIELD, message="status is required", where=SourceRef("", "x"))
    response = bundle_response(
        "transaction",
        [
            EntryOutcome(status=201, location="Claim/c1/_history/1", etag='W/"1"'),
            EntryOutcome(status=400, problems=(bad,)),
        ],
        bundle_id="resp-1",
    )
    assert response["resourceType"] == "Bundle"
    assert (response["type"], response["id"]) == ("transaction-response", "resp-1")
    first, second = response["entry"]
    assert first == {
        "response": {"status": "201 Created", "location": "Claim/c1/_history/1", "etag": 'W/"1"'}
    }
    assert second["response"]["status"] == "400 Bad Request"
    assert second["response"]["outcome"]["issue"][0]["expression"] == ["x"]
    assert bundle_response("batch", [])["type"] == "batch-response"


# ---- the format object ------------------------------------------------------------------------


def test_detect() -> None:
    assert FHIR.name == "fhir"
    assert FHIR.detect(b'\xef\xbb\xbf  {"resourceType": "Claim"')
    assert not FHIR.detect(b'{"type": "payment", "id": "1"}')
    assert not FHIR.detect(b"ISA*00*          *00*")
    assert not FHIR.detect(b"MSH|^~\\&|")


def test_dedupe_keys() -> None:
    assert (
        dedupe_key({"resourceType": "Bundle", "id": "b1", "meta": {"versionId": "3"}}) == "fhir:Bundle/b1/3"
    )
    assert dedupe_key({"resourceType": "Claim", "id": "c1"}) == "fhir:Claim/c1"
    assert dedupe_key({"resourceType": "Claim", "id": "a b"}) == ""
    assert dedupe_key({"resourceType": "Bundle"}) == ""
    assert dedupe_key([1]) == ""


def test_split_one_document_is_one_envelope() -> None:
    payload = body(bundle(claim(), kind="batch") | {"id": "b1"})
    (envelope,) = FHIR.split(payload)
    assert (envelope.format, envelope.payload, envelope.dedupe_key, envelope.problems) == (
        "fhir",
        payload,
        "fhir:Bundle/b1",
        (),
    )


def test_split_ndjson_and_garbage() -> None:
    lines = [body(claim()), b"{broken", body(claim(id="c2", meta={"versionId": "2"}))]
    envelopes = list(FHIR.split(b"\n".join(lines) + b"\n"))
    assert [(e.locator, e.dedupe_key, [p.code for p in e.problems]) for e in envelopes] == [
        ("line[1]", "fhir:Claim/c1", []),
        ("line[2]", "", [ProblemCode.MALFORMED_MESSAGE]),
        ("line[3]", "fhir:Claim/c2/2", []),
    ]
    assert envelopes[1].payload == b"{broken"
    (garbage,) = FHIR.split(b"\x00\x01 not json")
    assert garbage.payload == b"\x00\x01 not json"
    assert [p.code for p in garbage.problems] == [ProblemCode.MALFORMED_MESSAGE]
