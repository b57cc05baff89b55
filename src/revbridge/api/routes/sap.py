"""Where SAP S/4HANA pushes its journal entry confirmations: ``POST /api/v1/erp/sap/confirmations``.

SAP's outbound service "Journal Entry - Create (Asynchronous) Confirmation" (communication
scenario SAP_COM_0002, outbound to the communication system that sent the request) POSTs a SOAP
envelope holding a ``JournalEntryBulkCreateConfirmation`` to the URL configured on the
communication arrangement, authenticated as that system's outbound user: HTTP basic with an API
key of the ``system`` role as the password (http/auth.py), or the key as a bearer token.

The body is read as a stream up to the configured size, parsed safely (xmldoc.parse: no DTD, no
entities, no external references) and kept per journal (connectors/sap_s4hana_wire.receive),
PHI-free. A body over 8 MB (xmldoc's cap) is refused unread. SAP's asynchronous SOAP is one-way:
it expects 202 with an empty body, and retries a delivery that failed (a 500 SOAP fault: the
store was unavailable). A body that is not a confirmation revbridge will read is answered 400
with a SOAP ``Client`` fault and nothing is kept; a repeated delivery is answered 202 and changes
nothing.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from starlette.requests import Request

from revbridge.api.routes.ingest import read_body
from revbridge.connectors import xmldoc
from revbridge.connectors.sap_s4hana_wire import SapConfirmationRefused, receive
from revbridge.core.errors import StoreError
from revbridge.http.permissions import requires
from revbridge.http.state import runtime_of
from revbridge.observability.logging import get_logger
from revbridge.security.roles import Permission

router = APIRouter(prefix="/api/v1/erp/sap", tags=["erp"])
log = get_logger("revbridge.sap")


def _fault(status: int, code: str, words: str) -> Response:
    fault = xmldoc.element(f"{{{xmldoc.SOAP11}}}Fault")
    xmldoc.subs(fault, "", [("faultcode", f"soapenv:{code}"), ("faultstring", words)])
    return Response(
        xmldoc.envelope(fault), status_code=status, media_type=xmldoc.CONTENT_TYPES[xmldoc.SOAP11]
    )


@router.post("/confirmations", status_code=202)
@requires(Permission.INGEST)
async def sap_confirmations(request: Request) -> Response:
    """A JournalEntryBulkCreateConfirmation from SAP: 202 once kept (or kept before)."""
    runtime = runtime_of(request)
    try:  # over the size revbridge reads an ERP's XML at, or empty: refused like a hostile body
        body = await read_body(request, min(runtime.settings.max_body_bytes, xmldoc.MAX_BYTES))
    except HTTPException as exc:
        log.warning("sap.confirmation_refused", reason=str(exc.detail)[:200])
        return _fault(400, "Client", f"not a confirmation revbridge reads: {exc.detail}"[:300])
    try:
        held, new = await anyio.to_thread.run_sync(lambda: receive(runtime.db, body, now=runtime.clock.now()))
    except SapConfirmationRefused as exc:
        log.warning("sap.confirmation_refused", reason=str(exc)[:200])
        return _fault(400, "Client", f"not a confirmation revbridge reads: {exc}"[:300])
    except StoreError as exc:
        log.error("sap.confirmation_unstored", error=type(exc).__name__)
        return _fault(500, "Server", "revbridge could not keep the confirmation now; deliver it again")
    log.info("sap.confirmation", journals=held, new=new)
    return Response(status_code=202)
