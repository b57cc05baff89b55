"""FHIR R4 intake over HTTP: ``POST /api/v1/fhir/{type}`` and ``POST /api/v1/fhir`` (Bundles).

The routes answer as a FHIR server would, but what they keep is a message, not a resource: the
posted document (a whole Bundle is one message) is committed to the message store before any 2xx,
and the worker maps it later. Before storing, ``formats.fhir.check`` decides whether the body is
acceptable at all (JSON, a resourceType that matches the route, every entry readable); a refused
body is answered with an OperationOutcome and stores nothing, so a bad request can never disturb
what was accepted before it. Business checks (a total against its parts) are not made here: they
become work items after processing, because the sender cannot fix a payer's arithmetic.

Idempotency: the dedupe key is the ``Idempotency-Key`` header (scoped to the sender) when given,
else ``formats.fhir.dedupe_key`` (resourceType/id/versionId), else the content hash. A replay
reaches the stored message and gets the same body with 200; the same key with other content is a
409. Every answer is built from the posted bytes and the stored message id only, which is what
makes a replay's body identical to the first answer's.

By default a created resource is answered with an OperationOutcome rather than the resource: the
sender has the resource, and echoing it would send patient data back over the wire for nothing.
``Prefer: return=representation`` gets the resource, ``return=minimal`` an empty body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Header
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.requests import Request

from revbridge import __version__
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import Limits
from revbridge.formats.fhir import (
    HANDLERS,
    Admission,
    EntryCheck,
    EntryOutcome,
    bundle_response,
    check,
    http_status,
    operation_outcome,
)
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.pipeline.intake import Received
from revbridge.security.roles import Permission
from revbridge.store.messages import DUPLICATE

router = APIRouter(prefix="/api/v1/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"
# application/json+fhir is the DSTU2 name some clients still send.
ACCEPTED_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
RESOURCE_TYPES = tuple(sorted(HANDLERS))
MAX_IDEMPOTENCY_KEY = 255
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")
_ENTRY = re.compile(r"Bundle\.entry\[\d+\]")

_RESOURCE_BODY = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string", "enum": list(RESOURCE_TYPES)},
        "id": {"type": "string"},
    },
    "additionalProperties": True,
}
_BUNDLE_BODY = {
    "type": "object",
    "required": ["resourceType", "type"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "type": {"type": "string", "enum": ["transaction", "batch"]},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "fullUrl": {"type": "string"},
                    "request": {
                        "type": "object",
                        "properties": {"method": {"type": "string"}, "url": {"type": "string"}},
                    },
                    "resource": _RESOURCE_BODY,
                },
            },
        },
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    content = {media: {"schema": schema} for media in (FHIR_JSON, "application/json")}
    return {"requestBody": {"required": True, "content": content}}


def problem(code: ProblemCode, message: str, locator: str = "") -> Problem:
    return Problem(code=code, message=message, where=SourceRef("", locator))


def fhir_response(
    body: dict[str, Any] | None, status: int, headers: dict[str, str] | None = None
) -> Response:
    content = b"" if body is None else dumps(body).encode()
    return Response(content, status_code=status, media_type=FHIR_JSON, headers=headers)


def refuse(problems: Sequence[Problem], status: int | None = None) -> Response:
    return fhir_response(operation_outcome(problems), status or http_status(problems) or 400)


def dumps(value: object) -> str:
    """JSON with Decimals written as the digits they hold (json.dumps has no hook for that)."""
    match value:
        case dict():
            return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
        case list():
            return "[" + ",".join(dumps(v) for v in value) + "]"
        case Decimal():
            return str(value)
        case _:
            return json.dumps(value)


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it grows past ``limit`` (the rest is not read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def media_type_ok(request: Request, accepted: frozenset[str]) -> bool:
    declared = request.headers.get("content-type")
    return declared is None or declared.split(";", 1)[0].strip().lower() in accepted


def idempotency_problem(key: str | None) -> Problem | None:
    if key is None or _IDEMPOTENCY_KEY.fullmatch(key):
        return None
    return problem(
        ProblemCode.INVALID_VALUE,
        f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters",
        "Idempotency-Key",
    )


def sender(request: Request) -> str:
    principal = request.scope.get("state", {}).get("principal")
    return str(getattr(principal, "subject", "anonymous"))[:64]


def scoped_key(kind: str, request: Request, key: str | None) -> str | None:
    # Scoped to the route kind and the sender: two sources that both count from 1 never collide.
    return f"idempotency:{kind}:{sender(request)}:{key}" if key else None


async def store(request: Request, data: bytes, *, kind: str, idempotency_key: str | None) -> Received:
    """Commit the posted body as one message; returns after the commit."""
    runtime = runtime_of(request)

    def run() -> Received:
        envelopes = runtime.intake.split(data, format=kind)
        received = runtime.intake.store_envelopes(
            envelopes,
            channel=f"http:{kind}:{sender(request)}"[:64],
            correlation_id=request.headers.get("x-correlation-id", "")[:64],
            dedupe_key=scoped_key(kind, request, idempotency_key),
        )
        if len(received) != 1:
            raise RuntimeError(f"a checked {kind} body split into {len(received)} messages")
        return received[0]

    return await anyio.to_thread.run_sync(run)


def conflict(received: Received, idempotency_key: str | None, locator: str) -> Problem:
    what = "Idempotency-Key" if idempotency_key else "resource id and version"
    return Problem(
        code=ProblemCode.DUPLICATE_CONFLICT,
        message=f"this {what} was already used for other content (message {received.accepted.duplicate_of})",
        where=SourceRef("", "Idempotency-Key" if idempotency_key else locator),
    )


def answered_headers(received: Received) -> dict[str, str]:
    return {
        "X-Revbridge-Message-Id": received.accepted.message_id,
        "X-Revbridge-Status": "duplicate" if received.accepted.status == DUPLICATE else "accepted",
    }


# -- routes ---------------------------------------------------------------------------------------


@router.get("/metadata")
@requires(Permission.INGEST)  # not public: the public routes are a short, deliberate list
async def capability_statement(request: Request) -> Response:
    """What this endpoint takes: create for the financial resources, transaction and batch."""
    runtime = runtime_of(request)
    body = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": runtime.clock.now().date().isoformat(),
        "kind": "instance",
        "software": {"name": "revbridge", "version": __version__},
        "implementation": {"description": "revbridge FHIR intake (write only)"},
        "fhirVersion": "4.0.1",
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "resource": [{"type": t, "interaction": [{"code": "create"}]} for t in RESOURCE_TYPES],
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
            }
        ],
    }
    return fhir_response(body, 200)


@router.post("", openapi_extra=_body_doc(_BUNDLE_BODY), response_class=Response)
@requires(Permission.INGEST)
async def post_bundle(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """A ``transaction`` or ``batch`` Bundle: stored as one message, answered entry by entry."""
    return await _post(request, "Bundle", idempotency_key, prefer=None)


@router.post("/{resource_type}", openapi_extra=_body_doc(_RESOURCE_BODY), response_class=Response)
@requires(Permission.INGEST)
async def post_resource(
    request: Request,
    resource_type: Annotated[str, PathParam(json_schema_extra={"enum": list(RESOURCE_TYPES)})],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    prefer: Annotated[str | None, Header(alias="Prefer")] = None,
) -> Response:
    """Create one resource of a type revbridge reads (the route's type must match the body's)."""
    if resource_type not in HANDLERS:
        message = f"this endpoint takes {', '.join(RESOURCE_TYPES)}; Bundles go to the base URL"
        return refuse([problem(ProblemCode.UNSUPPORTED_MESSAGE, message)], 404)
    return await _post(request, resource_type, idempotency_key, prefer=prefer)


async def _post(
    request: Request, expected: str, idempotency_key: str | None, *, prefer: str | None
) -> Response:
    runtime = runtime_of(request)
    if not media_type_ok(request, ACCEPTED_MEDIA_TYPES):
        message = f"send {FHIR_JSON} or application/json"
        return refuse([problem(ProblemCode.UNSUPPORTED_FORMAT, message, "Content-Type")], 415)
    bad_key = idempotency_problem(idempotency_key)
    if bad_key is not None:
        return refuse([bad_key], 400)
    limit = runtime.settings.max_body_bytes
    data = await read_limited(request, limit)
    if data is None:
        return refuse([problem(ProblemCode.LIMIT_EXCEEDED, f"body larger than {limit} bytes")], 413)
    limits = Limits(max_message_bytes=limit)
    admission = await anyio.to_thread.run_sync(lambda: check(data, expected, limits=limits))
    if expected == "Bundle":
        refusal = _bundle_refusal(admission)
        if refusal is not None:
            return refusal
    elif not admission.ok:
        return refuse(admission.problems)
    received = await store(request, data, kind="fhir", idempotency_key=idempotency_key)
    if received.accepted.conflict:
        return refuse([conflict(received, idempotency_key, f"{admission.resource_type}.id")], 409)
    if expected == "Bundle":
        return _bundle_answer(admission, received)
    return _resource_answer(data, admission, received, prefer)


def _bundle_refusal(admission: Admission) -> Response | None:
    """A transaction stands or falls whole; a batch only when the Bundle itself or every entry fails."""
    if admission.ok:
        return None
    bundle_level = [p for p in admission.problems if not _ENTRY.match(p.locator)]
    if admission.bundle_type != "batch" or any(p.severity is Severity.ERROR for p in bundle_level):
        return refuse(admission.problems)
    if admission.entries and not any(e.ok for e in admission.entries):
        return refuse(admission.problems)
    return None


def _resource_id(candidate: str, fallback: str) -> str:
    return candidate if _FHIR_ID.fullmatch(candidate) else fallback


def _entry_outcome(entry: EntryCheck, message_id: str) -> EntryOutcome:
    if not entry.ok:
        return EntryOutcome(status=http_status(entry.problems) or 400, problems=entry.problems)
    if not entry.supported:
        note = problem(
            ProblemCode.UNSUPPORTED_MESSAGE,
            "stored with the Bundle; revbridge reads no ledger facts from this resource type",
            f"Bundle.entry[{entry.index}].resource",
        )
        info = Problem(code=note.code, message=note.message, where=note.where, severity=Severity.INFO)
        return EntryOutcome(status=200, problems=(*entry.problems, info))
    rid = _resource_id(entry.id, f"{message_id}.{entry.index}")
    return EntryOutcome(
        status=201, location=f"{entry.resource_type}/{rid}/_history/1", etag='W/"1"', problems=entry.problems
    )


def _bundle_answer(admission: Admission, received: Received) -> Response:
    message_id = received.accepted.message_id
    kind: Literal["transaction", "batch"] = "batch" if admission.bundle_type == "batch" else "transaction"
    outcomes = [_entry_outcome(entry, message_id) for entry in admission.entries]
    body = bundle_response(kind, outcomes, bundle_id=message_id)
    return fhir_response(body, 200, answered_headers(received))


def _return_preference(prefer: str | None) -> str:
    for part in re.split(r"[,;]", prefer or ""):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return":
            return value.strip().strip('"')
    return "OperationOutcome"


def _resource_answer(data: bytes, admission: Admission, received: Received, prefer: str | None) -> Response:
    message_id = received.accepted.message_id
    rid = _resource_id(admission.id, message_id)
    headers = answered_headers(received) | {
        "Location": f"{admission.resource_type}/{rid}/_history/1",
        "ETag": 'W/"1"',
    }
    status = 200 if received.accepted.status == DUPLICATE else 201
    match _return_preference(prefer):
        case "minimal":
            return fhir_response(None, status, headers)
        case "representation":
            resource = json.loads(data.removeprefix(b"\xef\xbb\xbf"), parse_float=Decimal)
            meta = resource.get("meta")
            resource["id"] = rid
            resource["meta"] = (meta if isinstance(meta, dict) else {}) | {"versionId": "1"}
            return fhir_response(resource, status, headers)
        case _:
            outcome = operation_outcome(admission.problems)
            stored = {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"stored as message {message_id}; mapped to ledger events after the commit",
            }
            outcome["issue"] = [*(outcome["issue"] if admission.problems else []), stored]
            return fhir_response(outcome, status, headers)
