"""The request documents revbridge sends to Workday, built with lxml (xmldoc) and checked in tests
against tests/support/xsd/workday/bsvc.xsd.

Element names, order and cardinality are those of clients generated from Workday's WSDL
(matteofabbri/Grimoire ``Workday.WebServices``: ``Import_Accounting_Journal_RequestType``,
``Accounting_Journal__HV__DataType``, ``Journal_Entry_Line__HV__DataType``,
``Submit_Accounting_Journal_RequestType``, ``Get_Journals_RequestType``,
``Journal_Entry_Request_CriteriaType``, and in the Integrations service
``Get_Import_Processes_RequestType`` and ``Get_Import_Process_Messages_RequestType``); a public
EIB template that builds ``Import_Accounting_Journal_Request`` shows the values (``Add_Only`` and
``Create_Journal_with_Errors`` as qualified attributes, ``Ledger_Type_ID`` ``Actuals``,
``Ledger_Account_ID`` with ``parent_type="Account_Set_ID"``).

A journal becomes one ``Accounting_Journal_Data``: ``Accounting_Journal_ID`` and
``Journal_Number`` are our journal id (Workday's reference id of the journal, and the number
``Get_Journals`` finds it by), ``External_Reference_ID`` too; the company, currency, ledger type
``Actuals``, accounting date, journal source and a memo of our lane and id (never PHI); one
``Journal_Entry_Line_Replacement_Data`` per line, ``Line_Order`` our line number, debit or credit
as exact decimals, and a ``Worktags_Reference`` per mapped dimension.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from revbridge.connectors import xmldoc
from revbridge.connectors.exports import ExportLine, exact_lines
from revbridge.ledger.journal import Journal

if TYPE_CHECKING:
    from revbridge.connectors.workday import WorkdaySettings

BSVC = "urn:com.workday/bsvc"
NSMAP: dict[str | None, str] = {"wd": BSVC}


def tag(name: str) -> str:
    return f"{{{BSVC}}}{name}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def reference(parent: Any, name: str, id_type: str, value: str, **attrs: str) -> Any:
    """``<wd:{name}><wd:ID wd:type="{id_type}">value</wd:ID></wd:{name}>``."""
    made = xmldoc.sub(parent, tag(name))
    qualified = {tag(k): v for k, v in {"type": id_type, **attrs}.items()}
    id_element = xmldoc.sub(made, tag("ID"), value)
    for key, val in qualified.items():
        id_element.set(key, val)
    return made


def _request(name: str, version: str, **attrs: str) -> Any:
    root = xmldoc.element(tag(name), nsmap=NSMAP)
    for key, value in attrs.items():
        root.set(tag(key), value)
    root.set(tag("version"), version)
    return root


def _line(parent: Any, line: ExportLine, settings: WorkdaySettings, company: str) -> None:
    data = xmldoc.sub(parent, tag("Journal_Entry_Line_Replacement_Data"))
    xmldoc.sub(data, tag("Line_Order"), line.line_no)
    reference(data, "Line_Company_Reference", "Company_Reference_ID", company)
    account = settings.accounts.get(line.account, line.account)
    reference(
        data,
        "Ledger_Account_Reference",
        "Ledger_Account_ID",
        account,
        parent_id=settings.account_set,
        parent_type="Account_Set_ID",
    )
    if line.debit:
        xmldoc.sub(data, tag("Debit_Amount"), format(line.debit, "f"))
    if line.credit:
        xmldoc.sub(data, tag("Credit_Amount"), format(line.credit, "f"))
    xmldoc.sub(data, tag("Memo"), line.role.value)
    for dimension, id_type in settings.worktag_types.items():
        value = getattr(line, dimension)
        if value:  # blank: no worktag of that type on the line
            reference(
                data, "Worktags_Reference", id_type, settings.dimension_values(dimension).get(value, value)
            )


def journal_data(parent: Any, journal: Journal, settings: WorkdaySettings, *, high_volume: bool) -> Any:
    """``Accounting_Journal_Data`` of an import (``high_volume``) or a submit."""
    lines = exact_lines(journal)
    company = settings.companies.get(journal.legal_entity, journal.legal_entity)
    data = xmldoc.sub(parent, tag("Accounting_Journal_Data"))
    xmldoc.sub(data, tag("Accounting_Journal_ID"), journal.id)
    xmldoc.sub(data, tag("Submit"), _flag(settings.submit))
    if high_volume:
        xmldoc.sub(data, tag("Round_Ledger_Amounts"), "false")
    xmldoc.sub(data, tag("Journal_Number"), journal.id)
    reference(data, "Company_Reference", "Company_Reference_ID", company)
    reference(data, "Currency_Reference", "Currency_ID", journal.currencies[0])
    reference(data, "Ledger_Type_Reference", "Ledger_Type_ID", settings.ledger_type)
    xmldoc.sub(data, tag("Accounting_Date"), journal.posting_date.isoformat())
    reference(data, "Journal_Source_Reference", "Journal_Source_ID", settings.journal_source)
    memo = f"{settings.memo_prefix} {journal.lane.value} {journal.id[:12]}".strip()
    xmldoc.sub(data, tag("Journal_Entry_Memo"), memo)
    xmldoc.sub(data, tag("External_Reference_ID"), journal.id)
    xmldoc.sub(data, tag("Control_Total_Amount"), format(sum(line.debit for line in lines), "f"))
    for line in lines:
        _line(data, line, settings, company)
    return data


def _parameters(parent: Any, settings: WorkdaySettings) -> None:
    parameters = xmldoc.sub(parent, tag("Business_Process_Parameters"))
    xmldoc.sub(parameters, tag("Auto_Complete"), _flag(settings.auto_complete))


def import_request(journal: Journal, settings: WorkdaySettings) -> Any:
    """``Import_Accounting_Journal_Request``: Add_Only, never a journal created with errors."""
    root = _request(
        "Import_Accounting_Journal_Request",
        settings.version,
        Add_Only="true",
        Create_Journal_with_Errors="false",
    )
    _parameters(root, settings)
    journal_data(root, journal, settings, high_volume=True)
    return root


def submit_request(journal: Journal, settings: WorkdaySettings) -> Any:
    """``Submit_Accounting_Journal_Request`` with ``Add_Only``: a second one for the same
    ``Accounting_Journal_ID`` is refused, never a second journal."""
    root = _request("Submit_Accounting_Journal_Request", settings.version, Add_Only="true")
    _parameters(root, settings)
    journal_data(root, journal, settings, high_volume=False)
    return root


def _filter(parent: Any, page: int, count: int) -> None:
    response_filter = xmldoc.sub(parent, tag("Response_Filter"))
    xmldoc.sub(response_filter, tag("Page"), page)
    xmldoc.sub(response_filter, tag("Count"), count)


def journals_numbered(number: str, settings: WorkdaySettings) -> Any:
    """``Get_Journals_Request`` for the journal of our source with this ``Journal_Number``: an
    empty answer when Workday holds none (a reference lookup would be a fault instead)."""
    root = _request("Get_Journals_Request", settings.version)
    criteria = xmldoc.sub(root, tag("Request_Criteria"))
    reference(criteria, "Journal_Source_Reference", "Journal_Source_ID", settings.journal_source)
    xmldoc.sub(criteria, tag("Journal_Number"), number)
    _filter(root, 1, 10)
    return root


def journals_dated(date_from: date, date_to: date, page: int, settings: WorkdaySettings) -> Any:
    """``Get_Journals_Request`` for every journal of our source dated in [date_from, date_to]."""
    root = _request("Get_Journals_Request", settings.version)
    criteria = xmldoc.sub(root, tag("Request_Criteria"))
    xmldoc.sub(criteria, tag("Accounting_From_Date"), date_from.isoformat())
    xmldoc.sub(criteria, tag("Accounting_To_Date"), date_to.isoformat())
    reference(criteria, "Journal_Source_Reference", "Journal_Source_ID", settings.journal_source)
    _filter(root, page, settings.page_size)
    return root


def import_process(process: str, version: str) -> Any:
    """``Get_Import_Processes_Request`` for one import process (Integrations service)."""
    root = _request("Get_Import_Processes_Request", version)
    references = xmldoc.sub(root, tag("Request_References"))
    reference(references, "Import_Process_Reference", "WID", process)
    return root


def import_messages(process: str, page: int, version: str) -> Any:
    """``Get_Import_Process_Messages_Request``: the messages an import process left."""
    root = _request("Get_Import_Process_Messages_Request", version)
    criteria = xmldoc.sub(root, tag("Request_Criteria"))
    reference(criteria, "Import_Process_Reference", "WID", process)
    _filter(root, page, 999)
    return root
