"""Raw ingest over HTTP for senders that do not speak MLLP or drop files: HL7 v2 and X12.

The response comes after the commit. HL7 v2 answers with the ACK (as an interface engine would)
unless the client asks for JSON; X12 answers with JSON per interchange. Bodies are read as a
stream and refused past the size limit before they are stored.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from revbridge.core.errors import InputError
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.pipeline.intake import Received
from revbridge.security.roles import Permission

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])

HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"


async def read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    if not bytes(body).strip():
        raise HTTPException(400, "empty body")
    return bytes(body)


def _principal_channel(request: Request, kind: str) -> str:
    principal = request.scope.get("state", {}).get("principal")
    who = getattr(principal, "subject", "anonymous")
    return f"http:{kind}:{who}"[:64]


def received_json(received: list[Received]) -> list[dict[str, object]]:
    return [
        {
            "message_id": r.accepted.message_id,
            "format": r.envelope.format,
            "status": r.accepted.status,
            "duplicate_of": r.accepted.duplicate_of,
            "locator": r.envelope.locator,
            "problems": [
                {"code": str(p.code), "severity": str(p.severity), "locator": p.locator, "message": p.message}
                for p in r.problems
            ],
        }
        for r in received
    ]


@router.post("/hl7v2", responses={200: {"content": {HL7_MEDIA_TYPE: {}}}})
@requires(Permission.INGEST)
async def ingest_hl7v2(request: Request) -> Response:
    """One or more HL7 v2 messages (a batch file is fine); the ACK comes back after the commit."""
    runtime = runtime_of(request)
    data = await read_body(request, runtime.settings.max_body_bytes)
    answers = await runtime.hl7.receive_async(
        data,
        channel=_principal_channel(request, "hl7v2"),
        correlation_id=request.headers.get("x-correlation-id", "")[:64],
    )
    rejected = answers[0].accepted is None
    if "json" in request.headers.get("accept", ""):
        body = [
            {
                "message_id": a.accepted.message_id if a.accepted else None,
                "status": a.accepted.status if a.accepted else "rejected",
                "duplicate_of": a.accepted.duplicate_of if a.accepted else None,
                "ack": a.ack.decode("utf-8", "replace"),
            }
            for a in answers
        ]
        return JSONResponse(body, status_code=400 if rejected else 200)
    return Response(
        b"\r".join(a.ack for a in answers), media_type=HL7_MEDIA_TYPE, status_code=400 if rejected else 200
    )


@router.post("/x12")
@requires(Permission.INGEST)
async def ingest_x12(request: Request) -> JSONResponse:
    """An X12 file (one or more interchanges), streamed, up to the configured size."""
    runtime = runtime_of(request)
    data = await read_body(request, runtime.settings.max_x12_bytes)
    try:
        received = await anyio.to_thread.run_sync(
            lambda: runtime.intake.receive(
                data,
                channel=_principal_channel(request, "x12"),
                format="x12",
                correlation_id=request.headers.get("x-correlation-id", "")[:64],
            )
        )
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    return JSONResponse(received_json(received), status_code=202)
