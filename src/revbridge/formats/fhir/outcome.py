"""Problems -> FHIR answers: an OperationOutcome, a transaction-response or batch-response Bundle.

The HTTP routes answer as a FHIR server would; these builders are pure so the routes stay thin.
Each problem becomes one ``issue`` with FHIR's severity and IssueType code, our ProblemCode in
``details.coding`` (system ``urn:revbridge:problem-code``), its PHI-free message as
``diagnostics`` and its locator as ``expression`` (our locators are FHIRPath-like:
``Bundle.entry[4].resource.total.value``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from revbridge.core.problem import Problem, ProblemCode, Severity

PROBLEM_CODE_SYSTEM = "urn:revbridge:problem-code"

_SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "information"}
# ProblemCode -> FHIR IssueType (http://hl7.org/fhir/issue-type)
ISSUE_TYPE: dict[ProblemCode, str] = {
    ProblemCode.MALFORMED_MESSAGE: "structure",
    ProblemCode.MALFORMED_SEGMENT: "structure",
    ProblemCode.UNSUPPORTED_MESSAGE: "not-supported",
    ProblemCode.UNSUPPORTED_TRANSACTION: "not-supported",
    ProblemCode.UNSUPPORTED_FORMAT: "not-supported",
    ProblemCode.ENVELOPE_MISMATCH: "invalid",
    ProblemCode.LIMIT_EXCEEDED: "too-long",
    ProblemCode.DUPLICATE_CONFLICT: "conflict",
    ProblemCode.EVENT_CONFLICT: "conflict",
    ProblemCode.MISSING_FIELD: "required",
    ProblemCode.MISSING_AMOUNT: "required",
    ProblemCode.INVALID_VALUE: "value",
    ProblemCode.INVALID_DATE: "value",
    ProblemCode.INVALID_AMOUNT: "value",
    ProblemCode.INEXACT_AMOUNT: "value",
    ProblemCode.UNSUPPORTED_CURRENCY: "code-invalid",
    ProblemCode.TOTAL_MISMATCH: "business-rule",
    ProblemCode.UNRESOLVED_REFERENCE: "not-found",
    ProblemCode.NOTHING_TO_POST: "informational",
}


def issue(problem: Problem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "severity": _SEVERITY[problem.severity],
        "code": ISSUE_TYPE.get(problem.code, "processing"),
        "details": {
            "coding": [{"system": PROBLEM_CODE_SYSTEM, "code": str(problem.code)}],
            "text": problem.message,
        },
        "diagnostics": problem.message,
    }
    if problem.locator:
        entry["expression"] = [problem.locator]
    return entry


def operation_outcome(problems: Iterable[Problem]) -> dict[str, Any]:
    issues = [issue(p) for p in problems]
    if not issues:  # OperationOutcome.issue is 1..*
        issues = [{"severity": "information", "code": "informational", "diagnostics": "accepted"}]
    return {"resourceType": "OperationOutcome", "issue": issues}


def http_status(problems: Iterable[Problem]) -> int | None:
    """The 4xx a FHIR server answers for these problems, or None when nothing blocks."""
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if not errors:
        return None
    if any(p.code is ProblemCode.LIMIT_EXCEEDED for p in errors):
        return int(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    if any(p.code in (ProblemCode.DUPLICATE_CONFLICT, ProblemCode.EVENT_CONFLICT) for p in errors):
        return int(HTTPStatus.CONFLICT)
    if all(p.code is ProblemCode.TOTAL_MISMATCH for p in errors):
        return int(HTTPStatus.UNPROCESSABLE_ENTITY)  # parsed fine, breaks a business rule
    return int(HTTPStatus.BAD_REQUEST)


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryOutcome:
    """What happened to one Bundle entry, as the route decided it."""

    status: int  # 201, 200, 400, ...
    location: str = ""  # "Claim/123/_history/1"
    etag: str = ""
    problems: tuple[Problem, ...] = ()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def bundle_response(
    kind: Literal["transaction", "batch"], outcomes: Sequence[EntryOutcome], *, bundle_id: str = ""
) -> dict[str, Any]:
    entries = []
    for outcome in outcomes:
        response: dict[str, Any] = {"status": _status_line(outcome.status)}
        if outcome.location:
            response["location"] = outcome.location
        if outcome.etag:
            response["etag"] = outcome.etag
        if outcome.problems:
            response["outcome"] = operation_outcome(outcome.problems)
        entries.append({"response": response})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": f"{kind}-response", "entry": entries}
    if bundle_id:
        bundle["id"] = bundle_id
    return bundle
