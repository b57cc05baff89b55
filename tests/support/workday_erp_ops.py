"""The Workday test ERP's operations: each request (already checked against bsvc.xsd) answered as
Workday answers it, from workday_erp_books.Books."""

from __future__ import annotations

from typing import Any

from workday_erp_answers import Error, document, envelope, ref, results, tag, validation_fault
from workday_erp_books import Books, Held, ids, invalid

from revbridge.connectors import xmldoc


def answer(books: Books, name: str, request: Any) -> tuple[int, bytes]:
    return {
        "Import_Accounting_Journal_Request": _import,
        "Submit_Accounting_Journal_Request": _submit,
        "Get_Journals_Request": _journals,
        "Get_Import_Processes_Request": _processes,
        "Get_Import_Process_Messages_Request": _messages,
    }[name](books, request)


def _flag(request: Any, name: str) -> bool:
    return (request.get(f"{{urn:com.workday/bsvc}}{name}") or "").lower() in ("true", "1")


def _import(books: Books, request: Any) -> tuple[int, bytes]:
    data = xmldoc.find(request, "Accounting_Journal_Data")
    process = books.start(data, "Import_Accounting_Journal_Request", add_only=_flag(request, "Add_Only"))
    body = document("Put_Import_Process_Response")
    ref(body, "Import_Process_Reference", [("WID", process.wid)])
    ref(body, "Header_Instance_Reference", [("WID", process.wid[::-1])])
    return 200, envelope(body)


def _submit(books: Books, request: Any) -> tuple[int, bytes]:
    data = xmldoc.find(request, "Accounting_Journal_Data")
    name = "Submit_Accounting_Journal_Request"
    errors = books.problems(data, name, add_only=_flag(request, "Add_Only"))
    if errors:
        return 500, validation_fault(errors)
    held = books.post(data)
    body = document("Submit_Accounting_Journal_Response")
    ref(body, "Accounting_Journal_Reference", [("WID", held.wid), ("Accounting_Journal_ID", held.journal_id)])
    return 200, envelope(body)


def _page(request: Any) -> tuple[int, int]:
    page = int(xmldoc.text(request, "Response_Filter", "Page") or 1)
    count = int(xmldoc.text(request, "Response_Filter", "Count") or 100)
    return page, count


def _journals(books: Books, request: Any) -> tuple[int, bytes]:
    criteria = xmldoc.find(request, "Request_Criteria")
    if criteria is None:
        return 500, validation_fault(
            [Error("Request_Criteria is required by this test tenant.", "", "/wd:Get_Journals_Request[1]")]
        )
    sources = {
        ids(e).get("Journal_Source_ID", "")
        for e in criteria
        if xmldoc.local(e.tag) == "Journal_Source_Reference"
    }
    unknown = sorted(sources - set(books.sources))
    if unknown:  # Workday checks every reference id it is given, in criteria too
        at = "/wd:Get_Journals_Request[1]/wd:Request_Criteria[1]/wd:Journal_Source_Reference[1]"
        return 500, validation_fault([Error(invalid(unknown[0], "Journal_Source_ID"), "", at)])
    number = xmldoc.text(criteria, "Journal_Number")
    start, end = xmldoc.text(criteria, "Accounting_From_Date"), xmldoc.text(criteria, "Accounting_To_Date")
    with books._lock:
        found = [
            j
            for j in books.journals.values()
            if (not sources or j.source in sources)
            and (not number or j.number == number)
            and (not start or j.accounting_date.isoformat() >= start)
            and (not end or j.accounting_date.isoformat() <= end)
        ]
    found.sort(key=lambda j: j.wid)
    page, count = _page(request)
    body = document("Get_Journals_Response")
    results(body, len(found), page, count)
    data = xmldoc.sub(body, tag("Response_Data"))
    for journal in found[(page - 1) * count : page * count]:
        _entry(data, journal)
    return 200, envelope(body)


def _entry(parent: Any, journal: Held) -> None:
    entry = xmldoc.sub(parent, tag("Journal_Entry"))
    ref(
        entry,
        "Journal_Entry_Reference",
        [("WID", journal.wid), ("Accounting_Journal_ID", journal.journal_id)],
    )
    data = xmldoc.sub(entry, tag("Journal_Entry_Data"))
    xmldoc.sub(data, tag("Journal_Number"), journal.number or None)
    ref(data, "Journal_Status_Reference", [("Journal_Entry_Status_ID", "Posted")])
    ref(data, "Company_Reference", [("Company_Reference_ID", journal.company)])
    ref(data, "Currency_Reference", [("Currency_ID", journal.currency)])
    xmldoc.sub(data, tag("Accounting_Date"), journal.accounting_date.isoformat())
    ref(data, "Journal_Source_Reference", [("Journal_Source_ID", journal.source)])
    xmldoc.sub(data, tag("Memo"), journal.memo or None)
    for n, line in enumerate(journal.lines, start=1):
        item = xmldoc.sub(data, tag("Journal_Entry_Line_Data"))
        xmldoc.sub(item, tag("Line_Order"), n)
        ref(item, "Line_Company_Reference", [("Company_Reference_ID", line.company)])
        ref(item, "Ledger_Account_Reference", [("Ledger_Account_ID", line.account)])
        xmldoc.sub(item, tag("Debit_Amount"), format(line.debit, "f"))
        xmldoc.sub(item, tag("Credit_Amount"), format(line.credit, "f"))
        ref(item, "Currency_Reference", [("Currency_ID", journal.currency)])
        for id_type, value in line.worktags.items():
            ref(item, "Worktags_Reference", [(id_type, value)])


def _process_id(books: Books, request: Any, at: str) -> tuple[str, bytes | None]:
    wid = ids(xmldoc.find(request, "Import_Process_Reference")).get("WID", "")
    if wid not in books.processes:
        error = Error(
            invalid(wid, "WID"), "No import process has this WID.", f"{at}/wd:Import_Process_Reference[1]"
        )
        return wid, validation_fault([error])
    return wid, None


def _processes(books: Books, request: Any) -> tuple[int, bytes]:
    wid, refused = _process_id(books, request, "/wd:Get_Import_Processes_Request[1]/wd:Request_References[1]")
    if refused is not None:
        return 500, refused
    process = books.read(wid)
    assert process is not None
    body = document("Get_Import_Processes_Response")
    results(body, 1, 1, 1)
    item = xmldoc.sub(xmldoc.sub(body, tag("Response_Data")), tag("Import_Process"))
    ref(item, "Import_Process_Reference", [("WID", wid)])
    data = xmldoc.sub(item, tag("Import_Process_Data"))
    xmldoc.sub(data, tag("Process_Description"), "Import Accounting Journal")
    xmldoc.sub(data, tag("Percent_Complete"), "0" if process.status == "Processing" else "100")
    ref(data, "Status_Reference", [("Background_Process_Instance_Status_ID", process.status)])
    xmldoc.sub(data, tag("Has_Messages"), "true" if process.messages else "false")
    return 200, envelope(body)


def _messages(books: Books, request: Any) -> tuple[int, bytes]:
    wid, refused = _process_id(
        books, request, "/wd:Get_Import_Process_Messages_Request[1]/wd:Request_Criteria[1]"
    )
    if refused is not None:
        return 500, refused
    found = books.processes[wid].messages
    page, count = _page(request)
    body = document("Get_Import_Process_Messages_Response")
    results(body, len(found), page, count)
    data = xmldoc.sub(body, tag("Response_Data"))
    for n, (severity, summary, line, identifier) in enumerate(
        found[(page - 1) * count : page * count], start=1
    ):
        message = xmldoc.sub(data, tag("Import_Process_Message"))
        ref(message, "Import_Process_Message_Reference", [("WID", f"{wid[:24]}{n:08x}")])
        item = xmldoc.sub(message, tag("Import_Process_Message_Data"))
        xmldoc.sub(item, tag("Severity"), severity)
        xmldoc.sub(item, tag("Message_Summary"), summary)
        xmldoc.sub(item, tag("Line_Number"), line)
        xmldoc.sub(item, tag("Line_Identifier"), identifier)
    return 200, envelope(body)
