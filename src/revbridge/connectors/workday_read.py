"""Workday's answers read into revbridge's terms: the import's background process, its messages,
and journals as ``Get_Journals`` gives them.

Names as in clients generated from Workday's WSDL (matteofabbri/Grimoire ``Workday.WebServices``;
ianlopshire/go-workday): ``Put_Import_Process_Response/Import_Process_Reference`` (the ticket);
``Get_Import_Processes_Response/Response_Data/Import_Process/Import_Process_Data`` with
``Status_Reference`` (a ``Background_Process_Instance_Status_ID``: Processing, Completed, Failed...)
and ``Has_Messages``; ``Get_Import_Process_Messages_Response/Response_Data/Import_Process_Message/
Import_Process_Message_Data`` with ``Severity``, ``Message_Summary``, ``Line_Number`` and
``Line_Identifier``; ``Get_Journals_Response/Response_Data/Journal_Entry/Journal_Entry_Data`` with
``Journal_Number``, ``Company_Reference``, ``Currency_Reference``, ``Accounting_Date`` and
``Journal_Entry_Line_Data`` (``Ledger_Account_Reference``, ``Debit_Amount``, ``Credit_Amount``);
``Response_Results/Total_Pages`` for paging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ConnectorUnavailable, ErpAmount, ErpJournal
from revbridge.connectors.workday_documents import BSVC

if TYPE_CHECKING:
    from revbridge.connectors.workday import WorkdaySettings

# Background_Process_Instance_Status_ID values that mean the process has ended
ENDED = frozenset({"completed", "completedwithwarnings", "completedwitherrors", "failed", "cancelled"})


def id_of(element: xmldoc.Element | None, id_type: str) -> str:
    """The ``ID`` of this type under a reference element, or ""."""
    if element is None:
        return ""
    for child in element:
        if xmldoc.local(child.tag) == "ID" and (child.get(f"{{{BSVC}}}type") or child.get("type")) == id_type:
            return (child.text or "").strip()
    return ""


def process_reference(answer: xmldoc.Element) -> str:
    """The import's background process (WID) from a ``Put_Import_Process_Response``."""
    process = id_of(xmldoc.find(answer, "Import_Process_Reference"), "WID")
    if xmldoc.local(answer.tag) != "Put_Import_Process_Response" or not process:
        raise ConnectorUnavailable("Workday took the import without naming its process", uncertain=True)
    return process


@dataclass(frozen=True, slots=True)
class ProcessState:
    status: str  # Workday's Background_Process_Instance_Status_ID
    has_messages: bool

    @property
    def ended(self) -> bool:
        return self.status.replace(" ", "").replace("_", "").lower() in ENDED

    @property
    def failed(self) -> bool:
        return self.status.replace(" ", "").replace("_", "").lower() in ("failed", "cancelled")


def process_state(answer: xmldoc.Element, process: str) -> ProcessState:
    data = xmldoc.find(answer, "Import_Process", "Import_Process_Data")
    if data is None:
        raise ConnectorUnavailable(f"Workday did not describe import process {process}")
    status = id_of(xmldoc.find(data, "Status_Reference"), "Background_Process_Instance_Status_ID")
    return ProcessState(status or "unknown", xmldoc.text(data, "Has_Messages").lower() in ("true", "1"))


@dataclass(frozen=True, slots=True)
class Message:
    severity: str
    summary: str
    line: int | None

    @property
    def error(self) -> bool:
        return self.severity.upper() in ("ERROR", "CRITICAL", "FATAL")


def _int(text: str) -> int | None:
    try:
        return int(Decimal(text)) if text else None
    except InvalidOperation:
        return None


def messages(answer: xmldoc.Element) -> tuple[list[Message], int]:
    """An import process's messages on this page, and the number of pages."""
    found = [
        Message(
            severity=xmldoc.text(data, "Severity"),
            summary=" ".join(xmldoc.text(data, "Message_Summary").split()),
            line=_int(xmldoc.text(data, "Line_Number")),
        )
        for data in xmldoc.every(answer, "Import_Process_Message_Data")
    ]
    return found, pages(answer)


def pages(answer: xmldoc.Element) -> int:
    return _int(xmldoc.text(answer, "Response_Results", "Total_Pages")) or 1


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _inverse(mapping: Mapping[str, str]) -> dict[str, str]:
    return {erp: ours for ours, erp in mapping.items()}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def journals(answer: xmldoc.Element, settings: WorkdaySettings) -> list[ErpJournal]:
    """Every journal on a ``Get_Journals`` page in our terms, keyed (``reference``) by its
    ``Journal_Number`` (our journal id), else ``wid:<WID>`` (Workday's own name for it, never one
    of our ids); its ``document`` the journal's ``Accounting_Journal_ID`` (the reference id we
    gave it, the same document a receipt names), else its WID."""
    accounts = _inverse(settings.accounts)
    companies = _inverse(settings.companies)
    found = []
    for entry in xmldoc.every(answer, "Journal_Entry"):
        data = xmldoc.find(entry, "Journal_Entry_Data")
        if data is None:
            continue
        wid = id_of(xmldoc.find(entry, "Journal_Entry_Reference"), "WID")
        currency = id_of(xmldoc.find(data, "Currency_Reference"), "Currency_ID")
        lines = tuple(
            ErpAmount(
                account=accounts.get(account, account),
                debit=_amount(xmldoc.text(line, "Debit_Amount")),
                credit=_amount(xmldoc.text(line, "Credit_Amount")),
                currency=id_of(xmldoc.find(line, "Currency_Reference"), "Currency_ID") or currency,
            )
            for line in xmldoc.every(data, "Journal_Entry_Line_Data")
            for account in [id_of(xmldoc.find(line, "Ledger_Account_Reference"), "Ledger_Account_ID")]
        )
        company = id_of(xmldoc.find(data, "Company_Reference"), "Company_Reference_ID")
        found.append(
            ErpJournal(
                reference=xmldoc.text(data, "Journal_Number") or f"wid:{wid}",
                document=id_of(xmldoc.find(entry, "Journal_Entry_Reference"), "Accounting_Journal_ID") or wid,
                legal_entity=companies.get(company, company),
                posting_date=_day(xmldoc.text(data, "Accounting_Date")),
                lines=lines,
            )
        )
    return found
