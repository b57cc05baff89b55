"""Portal payments over HTTP: ``POST /api/v1/ingest/portal/payments`` (docs/portal-payments.md).

Patient-engagement platforms post self-pay payments, refunds and payment plans as one item, an
array or a batch. ``formats.portal.check`` reads the body first: if any item has an error the
whole body is refused (400 when it is not JSON or not an item/array/batch, 422 when items are
unreadable, 413 when too large) with every problem located by its JSONPath, and nothing is
stored, so the platform fixes and re-sends one unit. An acceptable body is committed as one
message and answered 202 with a result per item; the worker posts it later.

Idempotency as on the FHIR routes: the ``Idempotency-Key`` header (scoped to the sender), else
the batch id or the single item's facility/type/id, else the content hash. A replay gets 200 and
the same body; the same key with other content gets 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from starlette.requests import Request

from revbridge.api.routes.fhir import (
    answered_headers,
    idempotency_problem,
    media_type_ok,
    problem,
    read_limited,
    store,
)
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import Limits
from revbridge.formats.portal import check
from revbridge.formats.portal.format import items_of, load
from revbridge.formats.portal.payments import TYPES
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.security.roles import Permission
from revbridge.store.messages import DUPLICATE

router = APIRouter(prefix="/api/v1/ingest/portal", tags=["ingest"])

_ITEM_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-")
_IDENT = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"}
_CODE = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"}
_AMOUNT = {
    "oneOf": [
        {"type": "string", "pattern": "^[0-9]{1,15}([.][0-9]{1,2})?$"},
        {"type": "number", "exclusiveMinimum": 0},
    ]
}
# docs/portal-payments.md is the reference; this is its shape for OpenAPI clients and fuzzers.
_ITEM = {
    "type": "object",
    "required": ["type", "id", "facility"],
    "properties": {
        "type": {"type": "string", "enum": list(TYPES)},
        "id": _IDENT,
        "facility": _IDENT,
        "encounter": _IDENT,
        "patient": {"type": "object", "properties": {"id": {"type": "string"}, "kind": _CODE}},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "date": {"type": "string", "format": "date"},
        "received_at": {"type": "string", "format": "date-time"},
        "issued_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "amount": _AMOUNT,
        "total": _AMOUNT,
        "method": _CODE,
        "installments": {"type": "integer", "minimum": 0, "maximum": 10_000},
        "status": {"type": "string", "enum": ["active", "completed", "cancelled", "defaulted"]},
        "recipient": {"type": "string", "enum": ["patient", "payer"]},
        "payer_id": _IDENT,
        "original_payment_id": _IDENT,
    },
}
_BODY = {
    "oneOf": [
        _ITEM,
        {"type": "array", "items": _ITEM},
        {
            "type": "object",
            "required": ["items"],
            "properties": {
                "batch_id": _IDENT,
                "items": {"type": "array", "items": _ITEM, "maxItems": 10_000},
            },
        },
    ]
}
_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": _BODY}}}}


def _problem_json(p: Problem) -> dict[str, str]:
    return {"code": str(p.code), "severity": str(p.severity), "locator": p.locator, "message": p.message}


def _within(locator: str, path: str) -> bool:
    return locator == path or locator.startswith((f"{path}.", f"{path}["))


def _item_json(path: str, item: object, problems: Iterable[Problem], accepted: bool) -> dict[str, Any]:
    mine = [p for p in problems if _within(p.locator, path)]
    fields = item if isinstance(item, dict) else {}
    kind, item_id = fields.get("type"), fields.get("id")
    failed = any(p.severity is Severity.ERROR for p in mine)
    return {
        "path": path,
        "type": kind if kind in TYPES else None,
        # Only an id of the documented shape is echoed: anything else could be patient data.
        "id": item_id
        if isinstance(item_id, str) and 0 < len(item_id) <= 64 and set(item_id) <= _ITEM_ID_CHARS
        else None,
        "status": "accepted" if accepted else ("invalid" if failed else "valid"),
        "problems": [_problem_json(p) for p in mine],
    }


def _items(data: bytes, limits: Limits) -> list[tuple[str, object]]:
    document, problems = load(data, "", limits)
    if problems:
        return []
    return items_of(document, "")[0]


def _status(problems: Iterable[Problem]) -> int:
    codes = {p.code for p in problems if p.severity is Severity.ERROR}
    if ProblemCode.LIMIT_EXCEEDED in codes:
        return 413
    if ProblemCode.MALFORMED_MESSAGE in codes:
        return 400
    return 422


def _refused(problems: list[Problem], status: int, items: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "detail": "the body was not stored",
        "problems": [_problem_json(p) for p in problems],
    }
    if items is not None:
        body["items"] = items
    return JSONResponse(body, status_code=status)


@router.post("/payments", openapi_extra=_BODY_DOC, response_class=JSONResponse, status_code=202)
@requires(Permission.INGEST)
async def post_payments(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Self-pay payments, refunds and payment plans; 202 with one result per item after the commit."""
    runtime = runtime_of(request)
    if not media_type_ok(request, frozenset({"application/json"})):
        return _refused(
            [problem(ProblemCode.UNSUPPORTED_FORMAT, "send application/json", "Content-Type")], 415
        )
    bad_key = idempotency_problem(idempotency_key)
    if bad_key is not None:
        return _refused([bad_key], 400)
    limit = runtime.settings.max_body_bytes
    data = await read_limited(request, limit)
    if data is None:
        return _refused([problem(ProblemCode.LIMIT_EXCEEDED, f"body larger than {limit} bytes", "$")], 413)
    limits = Limits(max_message_bytes=limit)

    def read() -> tuple[tuple[Problem, ...], list[tuple[str, object]]]:
        return check(data, limits=limits), _items(data, limits)

    problems, items = await anyio.to_thread.run_sync(read)
    if any(p.severity is Severity.ERROR for p in problems):
        return _refused(list(problems), _status(problems), [_item_json(*i, problems, False) for i in items])
    received = await store(request, data, kind="portal", idempotency_key=idempotency_key)
    if received.accepted.conflict:
        what = "Idempotency-Key" if idempotency_key else "batch id or item id"
        message = f"this {what} was already used for other content (message {received.accepted.duplicate_of})"
        return _refused(
            [problem(ProblemCode.DUPLICATE_CONFLICT, message, "Idempotency-Key" if idempotency_key else "$")],
            409,
        )
    item_paths = [path for path, _ in items]
    body = {
        "message_id": received.accepted.message_id,
        "format": "portal",
        "items": [_item_json(*i, problems, True) for i in items],
        "problems": [
            _problem_json(p) for p in problems if not any(_within(p.locator, x) for x in item_paths)
        ],
    }
    status = 200 if received.accepted.status == DUPLICATE else 202
    return JSONResponse(body, status_code=status, headers=answered_headers(received))
