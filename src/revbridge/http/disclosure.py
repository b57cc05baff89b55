"""The one way raw message content leaves revbridge over HTTP, for both faces: the API's
``/api/v1/messages/{id}/raw`` and the workbench's raw-message page.

It opens the sealed payload, writes a ``phi.view`` audit entry and commits it, and only then
returns the bytes: a view that could not be audited is not served. A payload that fails
authentication (edited or moved ciphertext) is never returned; the failure itself is audited as
``integrity.failure``. The caller has already checked the ``phi.read`` permission.
"""

from __future__ import annotations

from fastapi import HTTPException

from revbridge.bootstrap import Runtime
from revbridge.core.errors import DecryptionError
from revbridge.http.auth import Principal
from revbridge.store import audit
from revbridge.store.views import lineage

MEDIA_TYPES = {
    "hl7v2": "x-application/hl7-v2+er7",
    "x12": "application/edi-x12",
    "fhir": "application/fhir+json",
    "portal": "application/json",
}


def disclose(runtime: Runtime, principal: Principal, message_id: str, reason: str) -> tuple[bytes, str]:
    """The raw bytes and media type of a message, audited as ``phi.view`` before they are returned.
    Raises HTTPException 404 (unknown), 410 (purged) or 500 (fails authentication; audited)."""
    sealed = lineage.sealed_payload(runtime.db, message_id)
    if sealed is None:
        raise HTTPException(404, f"no message {message_id}")
    if sealed.payload is None or sealed.key_id is None:
        raise HTTPException(410, f"the raw payload of {message_id} was purged under the retention policy")
    try:
        data = runtime.store.open_payload(message_id, sealed.key_id, sealed.payload)
    except DecryptionError as exc:
        _audit(
            runtime,
            principal,
            "integrity.failure",
            message_id,
            {"what": "payload failed authentication", "key_id": sealed.key_id},
        )
        raise HTTPException(500, str(exc)) from None
    details = {"method": principal.method, "format": sealed.format, "bytes": str(len(data)), "reason": reason}
    _audit(runtime, principal, "phi.view", message_id, details)
    return data, MEDIA_TYPES.get(sealed.format, "application/octet-stream")


def _audit(
    runtime: Runtime, principal: Principal, action: str, message_id: str, details: dict[str, str]
) -> None:
    audit.record(
        runtime.db,
        at=runtime.clock.now(),
        actor=principal.actor,
        action=action,
        target=f"message/{message_id}",
        details=details,
        anchor=runtime.settings.resolved_audit_anchor,
    )
