"""One message over HTTP: its metadata and lineage (``read``), and its raw bytes (``phi.read``).

The metadata view never includes the payload: what arrived, when, from which channel, where it
is now, which events it produced and which work items it opened. The raw view is the one place
revbridge hands out PHI. It decrypts the payload, then writes a ``phi.view`` audit entry and
commits it, and only then returns the bytes: a view that could not be audited is not served.
A payload that fails authentication (edited or moved ciphertext) is never returned; the failure
itself is audited as ``integrity.failure``.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from sqlalchemy import select
from starlette.requests import Request

from revbridge.bootstrap import Runtime
from revbridge.core.errors import DecryptionError
from revbridge.http.auth import Principal
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.security.roles import Permission
from revbridge.store import audit, workitems
from revbridge.store.schema import events, messages

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

MessageId = Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")

MEDIA_TYPES = {
    "hl7v2": "x-application/hl7-v2+er7",
    "x12": "application/edi-x12",
    "fhir": "application/fhir+json",
    "portal": "application/json",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _metadata(rt: Runtime, message_id: str) -> dict[str, object] | None:
    with rt.db.reading() as conn:
        row = conn.execute(
            select(
                *[c for c in messages.c if c.name not in ("payload", "ack")],
                messages.c.payload.is_not(None).label("payload_available"),
            ).where(messages.c.id == message_id)
        ).first()
        if row is None:
            return None
        produced = conn.execute(
            select(events.c.key, events.c.kind, events.c.state, events.c.occurred_on, events.c.facility)
            .where(events.c.message_id == message_id)
            .order_by(events.c.id)
        ).all()
    m = row._mapping
    items = workitems.list_items(rt.db, status=None, message_id=message_id)
    return {
        "id": m["id"],
        "channel": m["channel"],
        "format": m["format"],
        "status": m["status"],
        "terminal_reason": m["terminal_reason"],
        "duplicate_of": m["duplicate_of"],
        "dedupe_key": m["dedupe_key"],
        "locator": m["locator"],
        "correlation_id": m["correlation_id"],
        "content_hash": m["content_hash"],
        "size": m["size"],
        "attempts": m["attempts"],
        "key_id": m["key_id"],
        "received_at": _iso(m["received_at"]),
        "completed_at": _iso(m["completed_at"]),
        "purged_at": _iso(m["purged_at"]),
        "payload_available": bool(m["payload_available"]),
        "events": [
            {
                "key": e.key,
                "kind": e.kind,
                "state": e.state,
                "occurred_on": e.occurred_on.isoformat(),
                "facility": e.facility,
            }
            for e in produced
        ],
        "work_items": [i.as_json() for i in items],
    }


@router.get("/{message_id}")
@requires(Permission.READ)
async def get_message(request: Request, message_id: str = MessageId) -> dict[str, object]:
    """A message's metadata, state and lineage (events and work items); never its payload."""
    rt = runtime_of(request)
    found = await anyio.to_thread.run_sync(_metadata, rt, message_id)
    if found is None:
        raise HTTPException(404, f"no message {message_id}")
    return found


def disclose(rt: Runtime, principal: Principal, message_id: str, reason: str) -> tuple[bytes, str]:
    """The raw bytes and media type of a message, audited as ``phi.view`` before they are returned.
    Raises HTTPException 404 (unknown), 410 (purged) or 500 (fails authentication; audited)."""
    with rt.db.reading() as conn:
        row = conn.execute(
            select(messages.c.format, messages.c.key_id, messages.c.payload, messages.c.purged_at).where(
                messages.c.id == message_id
            )
        ).first()
    if row is None:
        raise HTTPException(404, f"no message {message_id}")
    if row.payload is None or row.key_id is None:
        raise HTTPException(410, f"the raw payload of {message_id} was purged under the retention policy")
    anchor = rt.settings.resolved_audit_anchor
    try:
        data = rt.store.open_payload(message_id, row.key_id, bytes(row.payload))
    except DecryptionError as exc:
        with rt.db.transaction() as conn:
            audit.append(
                conn,
                at=rt.clock.now(),
                actor=principal.actor,
                action="integrity.failure",
                target=f"message/{message_id}",
                details={"what": "payload failed authentication", "key_id": row.key_id},
                anchor=anchor,
            )
        raise HTTPException(500, str(exc)) from None
    with rt.db.transaction() as conn:
        audit.append(
            conn,
            at=rt.clock.now(),
            actor=principal.actor,
            action="phi.view",
            target=f"message/{message_id}",
            details={
                "method": principal.method,
                "format": row.format,
                "bytes": str(len(data)),
                "reason": reason,
            },
            anchor=anchor,
        )
    return data, MEDIA_TYPES.get(row.format, "application/octet-stream")


@router.get(
    "/{message_id}/raw",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in sorted({*MEDIA_TYPES.values(), "application/octet-stream"})}}
    },
)
@requires(Permission.PHI_READ)
async def get_raw_message(
    request: Request,
    message_id: str = MessageId,
    reason: str = Query("", max_length=200, description="Why the raw message is viewed (audited)."),
) -> Response:
    """The decrypted raw message as received. Contains PHI: every view is audited first."""
    rt = runtime_of(request)
    principal = principal_of(request)
    data, media_type = await anyio.to_thread.run_sync(disclose, rt, principal, message_id, reason)
    return Response(
        data,
        media_type=media_type,
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )
