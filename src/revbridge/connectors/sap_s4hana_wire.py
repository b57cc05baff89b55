"""SAP's answers on the wire as connector outcomes, and SAP's pushed confirmations into the store.

``soap_outcome`` maps the answer to a Journal Entry - Post request (sap_s4hana.py's docstring has
the rules): every body is read through xmldoc.parse, so a hostile or garbled answer (entity
expansion, an external entity, a 50 MB body, HTML from a proxy) is ``UnsafeXml`` and becomes an
uncertain ConnectorUnavailable: SAP may have taken the request, so the outbox looks it up before
sending anything again.

``receive`` is what the confirmation endpoint (api/routes/sap.py) does with a body SAP pushed:
parse it safely, read every journal's part (sap_s4hana_soap.confirmations) and keep it, PHI-free,
in store/sap_confirmations.py; a second delivery only counts. ``SapConfirmationRefused`` names
what was wrong, never the content.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import Answer, ConnectorRejected, ConnectorUnavailable, Receipt, Rejection
from revbridge.connectors.http import failure
from revbridge.connectors.sap_s4hana_soap import Confirmation, confirmations
from revbridge.store import Database, sap_confirmations
from revbridge.store.sap_confirmations import SapConfirmation


class SapConfirmationRefused(ValueError):
    """A body on the confirmation endpoint that is no confirmation revbridge will read."""


def stored(confirmation: Confirmation) -> SapConfirmation:
    return SapConfirmation(
        message_id=confirmation.message_id,
        request_id=confirmation.request_id,
        outcome=sap_confirmations.POSTED if confirmation.posted else sap_confirmations.REJECTED,
        accounting_document=confirmation.accounting_document,
        company_code=confirmation.company_code,
        fiscal_year=confirmation.fiscal_year,
        notes=confirmation.notes,
    )


def answer_of(
    reference: str, confirmation: SapConfirmation, lines: tuple[int, ...], *, now: datetime
) -> Answer:
    """A posted receipt naming SAP's document, or a rejection in SAP's words."""
    document = f"{confirmation.company_code}/{confirmation.accounting_document}/{confirmation.fiscal_year}"
    if confirmation.outcome == sap_confirmations.POSTED:
        return Receipt(reference=reference, document=document, posted_at=now)
    words = "; ".join(confirmation.notes) or "SAP refused the journal entry without a note"
    return Rejection(
        reference=reference, message=f"SAP rejected the journal entry: {words}"[:1000], lines=lines
    )


def soap_outcome(
    response: httpx.Response, *, now: Callable[[], datetime]
) -> xmldoc.Element | ConnectorRejected | None:
    """The parsed answer of a success (None: SAP's empty asynchronous acknowledgement), or the
    rejection of the whole bulk message (a sender's SOAP fault). Raises ConnectorUnavailable."""
    status = response.status_code
    if status in (401, 403, 429, 503):
        raise failure(response, now=now)
    root: xmldoc.Element | None = None
    if response.content.strip():
        try:
            root = xmldoc.parse(response.content)
        except xmldoc.UnsafeXml as exc:
            raise ConnectorUnavailable(
                f"SAP answered {status} with XML revbridge will not read: {exc}", uncertain=True
            ) from None
    fault = xmldoc.fault(root) if root is not None else None
    if fault is not None and fault.client:
        return ConnectorRejected(
            f"SAP refused the request ({fault.code}): {fault.message} {fault.detail}".strip()[:1000]
        )
    if fault is not None:
        raise ConnectorUnavailable(
            f"SAP answered {status} with a fault ({fault.code}): {fault.message}", uncertain=True
        )
    if status in (200, 202):
        return root
    raise failure(response, now=now)


def _too_long(c: Confirmation) -> bool:
    sizes = ((c.message_id, 35), (c.request_id, 35), (c.accounting_document, 10), (c.company_code, 4))
    return any(len(value) > most for value, most in ((c.fiscal_year, 4), *sizes))


def receive(db: Database, body: bytes, *, now: datetime) -> tuple[int, int]:
    """Keep the confirmations of a pushed ``JournalEntryBulkCreateConfirmation``; returns (how
    many it held, how many were new). Nothing is kept from a body that is refused."""
    try:
        root = xmldoc.parse(body)
    except xmldoc.UnsafeXml as exc:
        raise SapConfirmationRefused(str(exc)) from None
    try:
        found = confirmations(root)
    except ValueError as exc:
        raise SapConfirmationRefused(str(exc)) from None
    if not found:
        raise SapConfirmationRefused("the confirmation holds no JournalEntryCreateConfirmation")
    if any(_too_long(c) for c in found):
        raise SapConfirmationRefused("a field is longer than SAP's own length for it")
    new = sap_confirmations.record(db, [stored(c) for c in found], now=now)
    return len(found), len(new)
