"""SAP S/4HANA's Journal Entry - Post documents: the request revbridge sends, the confirmation SAP
answers or pushes back, and the keys that tie the two to our journal.

The request (erp-apis.md A.2; SAP's "Guidelines for API Journal Entry Post" on
community.sap.com; the schema under tests/support/xsd/sap/) is a ``JournalEntryBulkCreateRequest``
in namespace ``http://sap.com/xi/SAPSCORE/SFIN``: a bulk ``MessageHeader`` and one
``JournalEntryCreateRequest`` per journal, each with its own ``MessageHeader/ID`` and a
``JournalEntry``: ``OriginalReferenceDocumentType`` BKPFF, ``BusinessTransactionType`` RFBU,
``AccountingDocumentType``, ``DocumentReferenceID`` (BKPF-XBLNR, 16 characters),
``DocumentHeaderText`` (BKPF-BKTXT, 25), ``CreatedByUser``, ``CompanyCode``, the dates, and one
``Item`` per line: ``GLAccount``, ``AmountInTransactionCurrency`` signed (debit positive) with
``DebitCreditCode`` S (debit) or H (credit), and the ``AccountAssignment`` (cost center, profit
center, segment) mapped from our dimensions.

The keys, all pure functions of the journal id, so nothing needs remembering across a restart:
- ``message_id``: the ``JournalEntryCreateRequest``'s ``MessageHeader/ID`` (SAP's
  BusinessDocumentMessageID, at most 35 characters) is our journal id itself (32 hex digits);
  SAP's confirmation names it as ``MessageHeader/ReferenceID``, so a confirmation is matched to
  its journal by it. An id that does not fit is replaced by its digest.
- ``references``: the journal key split in two halves: the first as ``DocumentReferenceID``, the
  second after ``header_prefix`` in ``DocumentHeaderText``. The Journal Entry Item read API
  filters by the first and checks the second, so a journal SAP posted is found even when its
  confirmation never came, and what SAP holds with our mark can be keyed back to our journal.

A confirmation (``JournalEntryBulkCreateConfirmation``) holds per journal its ``MessageHeader``
(``ReferenceID``), ``JournalEntryCreateConfirmation`` (``AccountingDocument``, ``CompanyCode``,
``FiscalYear``; a refused journal has ``AccountingDocument`` 0000000000 or blank) and a ``Log``
(``MaximumLogItemSeverityCode``, ``Item``s with ``Note``). ``confirmations`` reads them from a
document that went through xmldoc.parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from revbridge.connectors import xmldoc
from revbridge.connectors.exports import ExportLine, exact_lines
from revbridge.core.ids import digest
from revbridge.ledger.journal import Journal

NS = "http://sap.com/xi/SAPSCORE/SFIN"
ACTION = f"{NS}/JournalEntryBulkCreateRequest"  # JournalEntryBulkCreationRequest_In (asynchronous)
SYNC_ACTION = f"{NS}/JournalEntryCreateRequestConfirmation_In/JournalEntryCreateRequestConfirmation_InRequest"
NO_DOCUMENT = "0000000000"
ERROR_SEVERITY = 3  # SAP's severity codes: 1 information, 2 warning, 3 error, 4 abort
_FITS = re.compile(r"[0-9A-Za-z]{1,35}")
_KEY = re.compile(r"[0-9a-f]{32}")
ASSIGNMENTS = ("CostCenter", "ProfitCenter", "Segment")  # the schema's order
DIMENSIONS = ("facility", "cost_center", "payer_class", "service_line")


class Mapped(Protocol):
    """What the document needs of the connector's settings (sap_s4hana.SapSettings)."""

    @property
    def accounts(self) -> Mapping[str, str]: ...
    @property
    def assignments(self) -> Mapping[str, str]: ...
    @property
    def document_type(self) -> str: ...
    @property
    def created_by(self) -> str: ...
    @property
    def header_prefix(self) -> str: ...

    def company_code(self, legal_entity: str) -> str: ...
    def dimension_values(self, dimension: str) -> Mapping[str, str]: ...


def journal_key(journal_id: str) -> str:
    """32 lower-case hex digits: the journal id itself (revbridge's ids are such digests)."""
    return journal_id if _KEY.fullmatch(journal_id) else digest("sap", journal_id)


def message_id(journal_id: str) -> str:
    return journal_id if _FITS.fullmatch(journal_id) else journal_key(journal_id)


def references(journal_id: str, prefix: str) -> tuple[str, str]:
    """(DocumentReferenceID, DocumentHeaderText) of a journal."""
    key = journal_key(journal_id).upper()
    return key[:16], f"{prefix} {key[16:]}".strip()


def key_of(reference_id: str, header_text: str, prefix: str) -> str | None:
    """The journal key a document read back from SAP carries, or None when it carries no mark."""
    words = header_text.split()
    if len(words) != 2 or words[0] != prefix:
        return None
    key = (reference_id.strip() + words[1]).lower()
    return key if _KEY.fullmatch(key) else None


def bulk_id(journals: Sequence[Journal], now: datetime) -> str:
    """The bulk message's id, one per submission (a digest of the journal ids it carries and the
    time): SAP's confirmation names it, so the answer to an earlier submission of a journal (a
    rejection before a mapping was fixed) is never taken for the answer to this one."""
    return digest("sap-bulk", now.isoformat(), *sorted(j.id for j in journals))


def _header(parent: object, ident: str, now: datetime) -> None:
    header = xmldoc.sub(parent, "MessageHeader")
    xmldoc.subs(header, "", [("ID", ident), ("CreationDateTime", now.strftime("%Y-%m-%dT%H:%M:%SZ"))])


def _assignment(line: ExportLine, settings: Mapped) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for field in ASSIGNMENTS:
        dimension = settings.assignments.get(field)
        value = getattr(line, dimension) if dimension else ""
        if value:
            pairs.append((field, settings.dimension_values(dimension or "").get(value, value)))
    return pairs


def _item(parent: object, line: ExportLine, settings: Mapped) -> None:
    item = xmldoc.sub(parent, "Item")
    xmldoc.sub(item, "ReferenceDocumentItem", line.line_no)
    xmldoc.sub(item, "GLAccount", settings.accounts.get(line.account, line.account))
    amount = format(line.net, "f")
    xmldoc.sub(item, "AmountInTransactionCurrency", amount, currencyCode=line.currency)
    xmldoc.sub(item, "DebitCreditCode", "S" if line.net > 0 else "H")
    xmldoc.sub(item, "DocumentItemText", line.role.value[:50])
    pairs = _assignment(line, settings)
    if pairs:
        xmldoc.subs(xmldoc.sub(item, "AccountAssignment"), "", pairs)


def add_journal(bulk: object, journal: Journal, settings: Mapped, now: datetime) -> None:
    """One ``JournalEntryCreateRequest``; raises ConnectorRejected (exact_lines) when the lines no
    longer balance in minor units, before anything is added."""
    lines = exact_lines(journal)
    request = xmldoc.element("JournalEntryCreateRequest")
    _header(request, message_id(journal.id), now)
    entry = xmldoc.sub(request, "JournalEntry")
    reference_id, header_text = references(journal.id, settings.header_prefix)
    day = journal.posting_date.isoformat()
    xmldoc.subs(
        entry,
        "",
        [
            ("OriginalReferenceDocumentType", "BKPFF"),
            ("BusinessTransactionType", "RFBU"),
            ("AccountingDocumentType", settings.document_type),
            ("DocumentReferenceID", reference_id),
            ("DocumentHeaderText", header_text),
            ("CreatedByUser", settings.created_by),
            ("CompanyCode", settings.company_code(journal.legal_entity)),
            ("DocumentDate", day),
            ("PostingDate", day),
        ],
    )
    for line in lines:
        _item(entry, line, settings)
    bulk.append(request)  # type: ignore[attr-defined]


def bulk_request(journals: Sequence[Journal], settings: Mapped, now: datetime) -> object:
    """The ``JournalEntryBulkCreateRequest`` element (add journals with ``add_journal``)."""
    bulk = xmldoc.element(f"{{{NS}}}JournalEntryBulkCreateRequest", nsmap={"sfin": NS})
    _header(bulk, bulk_id(journals, now), now)
    return bulk


@dataclass(frozen=True, slots=True, kw_only=True)
class Confirmation:
    """SAP's answer for one journal, PHI-free: SAP only ever saw accounts and amounts."""

    message_id: str  # the journal's request's MessageHeader/ID (= ReferenceID here)
    request_id: str  # the bulk request's MessageHeader/ID (the bulk confirmation's ReferenceID)
    accounting_document: str
    company_code: str
    fiscal_year: str
    severity: int
    notes: tuple[str, ...]

    @property
    def posted(self) -> bool:
        document = self.accounting_document.strip()
        return bool(document) and document != NO_DOCUMENT and self.severity < ERROR_SEVERITY

    @property
    def document(self) -> str:
        return f"{self.company_code}/{self.accounting_document}/{self.fiscal_year}"


def _severity(log: xmldoc.Element | None) -> int:
    if log is None:
        return 0
    codes = [xmldoc.text(log, "MaximumLogItemSeverityCode")]
    codes += [(e.text or "").strip() for e in xmldoc.every(log, "SeverityCode")]
    return max((int(c) for c in codes if c.isdigit()), default=0)


def confirmations(root: xmldoc.Element) -> list[Confirmation]:
    """Every per-journal confirmation in a parsed envelope (or a bare confirmation document).
    Raises ValueError when the document is no JournalEntryBulkCreateConfirmation."""
    bulk = root if xmldoc.local(root.tag) == "JournalEntryBulkCreateConfirmation" else None
    bulk = bulk if bulk is not None else xmldoc.find(root, "JournalEntryBulkCreateConfirmation")
    if bulk is None:
        raise ValueError("no JournalEntryBulkCreateConfirmation in the document")
    top = next((e for e in bulk if xmldoc.local(e.tag) == "MessageHeader"), None)
    request_id = xmldoc.text(top, "ReferenceID") if top is not None else ""
    if not request_id:
        raise ValueError("a JournalEntryBulkCreateConfirmation without the request's ReferenceID")
    found = []
    for each in (e for e in bulk if xmldoc.local(e.tag) == "JournalEntryCreateConfirmation"):
        header = next((e for e in each if xmldoc.local(e.tag) == "MessageHeader"), None)
        result = next((e for e in each if xmldoc.local(e.tag) == "JournalEntryCreateConfirmation"), None)
        log = next((e for e in each if xmldoc.local(e.tag) == "Log"), None)
        reference_id = xmldoc.text(header, "ReferenceID") if header is not None else ""
        if not reference_id or result is None:
            raise ValueError("a JournalEntryCreateConfirmation without ReferenceID or result")
        notes = tuple(
            " ".join((n.text or "").split())[:300]
            for n in (xmldoc.every(log, "Note") if log is not None else [])
        )
        found.append(
            Confirmation(
                message_id=reference_id,
                request_id=request_id,
                accounting_document=xmldoc.text(result, "AccountingDocument"),
                company_code=xmldoc.text(result, "CompanyCode"),
                fiscal_year=xmldoc.text(result, "FiscalYear"),
                severity=_severity(log),
                notes=tuple(n for n in notes if n),
            )
        )
    return found


def named_lines(notes: Iterable[str], journal: Journal, settings: Mapped) -> tuple[int, ...]:
    """Our line numbers whose account or assignment values SAP's notes name (SAP's log names the
    value it refused, e.g. "G/L account 9999 is not defined in chart of accounts YCOA", not the
    item)."""
    lines: set[int] = set()
    for note in notes:
        lowered = note.lower()
        tokens = set(re.findall(r"[A-Za-z0-9_\-]+", note))
        for line in exact_lines(journal):
            values = _values(line, settings, lowered)
            if values & tokens:
                lines.add(line.line_no)
    return tuple(sorted(lines))


def _values(line: ExportLine, settings: Mapped, note: str) -> set[str]:
    values: set[str] = set()
    if "account" in note:
        values.add(settings.accounts.get(line.account, line.account))
    for field, dimension in settings.assignments.items():
        words = re.sub(r"(?<!^)([A-Z])", r" \1", field).lower()
        value = getattr(line, dimension, "")
        if value and words in note:
            values.add(settings.dimension_values(dimension).get(value, value))
    return values
