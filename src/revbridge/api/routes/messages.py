"""One message over HTTP: its metadata and lineage (``read``), and its raw bytes (``phi.read``).

The metadata view never includes the payload: what arrived, when, from which channel, where it
is now, which events it produced and which work items it opened. The raw view is the one place
revbridge hands out PHI, through ``revbridge.http.disclosure`` (shared with the workbench), which
audits the view before it returns a byte.
"""

from __future__ import annotations

from datetime import datetime

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from starlette.requests import Request

from revbridge.bootstrap import Runtime
from revbridge.http.disclosure import MEDIA_TYPES, disclose
from revbridge.http.permissions import requires
from revbridge.http.state import principal_of, runtime_of
from revbridge.security.roles import Permission
from revbridge.store import workitems
from revbridge.store.views import lineage

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

MessageId = Path(min_length=1, max_length=36, pattern=r"^[0-9A-Za-z-]+$")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _metadata(runtime: Runtime, message_id: str) -> dict[str, object] | None:
    with runtime.db.reading() as tx:
        found = lineage.produced(tx, message_id)
    if found is None:
        return None
    m = found.message
    items = workitems.list_items(runtime.db, status=None, message_id=message_id)
    return {
        "id": m.id,
        "channel": m.channel,
        "format": m.format,
        "status": m.status,
        "terminal_reason": m.terminal_reason,
        "duplicate_of": m.duplicate_of,
        "dedupe_key": m.dedupe_key,
        "locator": m.locator,
        "correlation_id": m.correlation_id,
        "content_hash": m.content_hash,
        "size": m.size,
        "attempts": m.attempts,
        "key_id": m.key_id,
        "received_at": _iso(m.received_at),
        "completed_at": _iso(m.completed_at),
        "purged_at": _iso(m.purged_at),
        "payload_available": m.payload_available,
        "events": [
            {
                "key": e.key,
                "kind": e.kind,
                "state": e.state,
                "occurred_on": e.occurred_on.isoformat(),
                "facility": e.facility,
            }
            for e in found.events
        ],
        "work_items": [i.as_json() for i in items],
    }


@router.get("/{message_id}")
@requires(Permission.READ)
async def get_message(request: Request, message_id: str = MessageId) -> dict[str, object]:
    """A message's metadata, state and lineage (events and work items); never its payload."""
    runtime = runtime_of(request)
    found = await anyio.to_thread.run_sync(_metadata, runtime, message_id)
    if found is None:
        raise HTTPException(404, f"no message {message_id}")
    return found


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
    runtime = runtime_of(request)
    principal = principal_of(request)
    data, media_type = await anyio.to_thread.run_sync(disclose, runtime, principal, message_id, reason)
    return Response(
        data,
        media_type=media_type,
        headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
    )
