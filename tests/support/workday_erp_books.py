"""What the Workday test ERP holds and refuses: accounting journals, the import's background
processes, and Workday's validation of an ``Accounting_Journal_Data``.

Seeded from the reference chart (erp_chart.py) as a finance team would set Workday up: each legal
entity a company (``Company_Reference_ID`` = its code), the accounts as ledger accounts of the
``Standard`` account set, the dimension values as worktags (cost centers, payer classes and
service lines as custom organizations, facilities as locations), the journal source
``revbridge``, currency USD, ledger type Actuals. Refused, each with the Xpath of the element:
an unknown company, currency, ledger type, journal source, ledger account, account set, worktag
type or worktag; a closed period; an unbalanced journal; a control total that is not the
debits; a line of another company without an intercompany affiliate worktag
(``Company_Reference_ID``); and with ``Add_Only`` an ``Accounting_Journal_ID`` already held.

An import is a background process that ends after ``import_polls`` reads of it (never, once
``stall`` or ``never_next``), then validates its journal: posted (Completed) or Failed with one
ERROR message per problem, ``Line_Number`` the journal line it names.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from erp_chart import Chart
from workday_erp_answers import Error

from revbridge.connectors import xmldoc

DEFAULT_WORKTAG_TYPES = {
    "Cost_Center_Reference_ID": ("cost_center",),
    "Custom_Organization_Reference_ID": ("payer_class", "service_line"),
    "Location_ID": ("facility",),
}
_LINE = re.compile(r"Journal_Entry_Line_Replacement_Data\[(\d+)\]")


def ids(element: Any) -> dict[str, str]:
    """{id type: value} of a reference element."""
    if element is None:
        return {}
    return {
        (e.get("{urn:com.workday/bsvc}type") or ""): (e.text or "").strip()
        for e in element
        if xmldoc.local(e.tag) == "ID"
    }


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


@dataclass
class Line:
    account: str
    debit: Decimal
    credit: Decimal
    worktags: dict[str, str]
    company: str


@dataclass
class Held:
    wid: str
    journal_id: str
    number: str
    company: str
    currency: str
    accounting_date: date
    source: str
    memo: str
    lines: list[Line]


@dataclass
class Process:
    wid: str
    data: Any  # the Accounting_Journal_Data element
    root: str
    add_only: bool
    polls_left: int
    never: bool = False
    status: str = "Processing"
    messages: list[tuple[str, str, int | None, str]] = field(default_factory=list)


def invalid(value: str, id_type: str) -> str:
    return f"Invalid ID value. '{value}' is not a valid ID value for type = '{id_type}'"


class Books:
    def __init__(
        self,
        chart: Chart,
        *,
        import_polls: int = 1,
        sources: tuple[str, ...] = ("revbridge",),
        worktag_types: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.chart = chart
        self.import_polls = import_polls
        self.sources = sources
        self.worktag_types = dict(worktag_types or DEFAULT_WORKTAG_TYPES)
        self.journals: dict[str, Held] = {}  # by Accounting_Journal_ID
        self.processes: dict[str, Process] = {}
        self.stalled = False
        self._never = 0
        self._lock = threading.RLock()
        self._wids = itertools.count(1)

    def _wid(self) -> str:
        return uuid.UUID(int=next(self._wids) + (7 << 100)).hex

    # -- validation ---------------------------------------------------------------------------------

    def problems(self, data: Any, root: str, *, add_only: bool) -> list[Error]:
        at = f"/wd:{root}[1]/wd:Accounting_Journal_Data[1]"
        errors: list[Error] = []
        company = ids(xmldoc.find(data, "Company_Reference")).get("Company_Reference_ID", "")
        head = {
            ("Company_Reference", "Company_Reference_ID"): self.chart.legal_entities,
            ("Currency_Reference", "Currency_ID"): {"USD"},
            ("Ledger_Type_Reference", "Ledger_Type_ID"): {"Actuals"},
            ("Journal_Source_Reference", "Journal_Source_ID"): set(self.sources),
        }
        for (name, id_type), known in head.items():
            value = ids(xmldoc.find(data, name)).get(id_type, "")
            if value not in known:
                errors.append(
                    Error(invalid(value, id_type), f"{name} must name a {id_type}", f"{at}/wd:{name}[1]")
                )
        day = date.fromisoformat(xmldoc.text(data, "Accounting_Date")[:10])
        if company in self.chart.legal_entities and not self.chart.is_open(company, day.strftime("%Y-%m")):
            errors.append(
                Error(
                    f"The accounting date {day.isoformat()} is in a closed period for company {company}.",
                    "Journals can only be entered into an open period.",
                    f"{at}/wd:Accounting_Date[1]",
                )
            )
        lines = [e for e in data if xmldoc.local(e.tag) == "Journal_Entry_Line_Replacement_Data"]
        for n, line in enumerate(lines, start=1):
            errors += self._line_problems(line, f"{at}/wd:Journal_Entry_Line_Replacement_Data[{n}]", company)
        errors += self._total_problems(data, lines, at)
        journal_id = xmldoc.text(data, "Accounting_Journal_ID")
        with self._lock:
            if add_only and journal_id in self.journals:
                errors.append(
                    Error(
                        f"Accounting Journal with Accounting_Journal_ID '{journal_id}' already exists.",
                        "Add Only is set: an existing journal is never updated.",
                        f"{at}/wd:Accounting_Journal_ID[1]",
                    )
                )
        return errors

    def _line_problems(self, line: Any, at: str, company: str) -> list[Error]:
        errors = []
        account = ids(xmldoc.find(line, "Ledger_Account_Reference")).get("Ledger_Account_ID", "")
        account_id = next(
            (e for e in xmldoc.find(line, "Ledger_Account_Reference") or [] if xmldoc.local(e.tag) == "ID"),
            None,
        )
        account_set = account_id.get("{urn:com.workday/bsvc}parent_id", "") if account_id is not None else ""
        if account not in self.chart.accounts or account_set != "Standard":
            errors.append(
                Error(
                    invalid(account, "Ledger_Account_ID"),
                    "Ledger account in account set Standard",
                    f"{at}/wd:Ledger_Account_Reference[1]",
                )
            )
        worktags = [e for e in line if xmldoc.local(e.tag) == "Worktags_Reference"]
        affiliate = False
        for n, worktag in enumerate(worktags, start=1):
            for id_type, value in ids(worktag).items():
                if id_type == "Company_Reference_ID" and value in self.chart.legal_entities:
                    affiliate = True
                    continue
                dimensions = self.worktag_types.get(id_type, ())
                if not any(value in self.chart.dimension(d) for d in dimensions):
                    errors.append(
                        Error(
                            invalid(value, id_type), "Worktag not valid", f"{at}/wd:Worktags_Reference[{n}]"
                        )
                    )
        line_company = ids(xmldoc.find(line, "Line_Company_Reference")).get("Company_Reference_ID", company)
        if line_company != company and not affiliate:
            errors.append(
                Error(
                    f"Intercompany Affiliate worktag is required for a line of company {line_company}.",
                    "A multi-company journal needs the affiliate on each line of another company.",
                    f"{at}/wd:Line_Company_Reference[1]",
                )
            )
        return errors

    @staticmethod
    def _total_problems(data: Any, lines: list[Any], at: str) -> list[Error]:
        debits = sum((_amount(xmldoc.text(line, "Debit_Amount")) for line in lines), Decimal(0))
        credits = sum((_amount(xmldoc.text(line, "Credit_Amount")) for line in lines), Decimal(0))
        errors = []
        if debits != credits:
            errors.append(
                Error(
                    f"The journal is out of balance. Debits: {debits}; Credits: {credits}.",
                    "Total debits must equal total credits.",
                    at,
                )
            )
        control = xmldoc.text(data, "Control_Total_Amount")
        if control and _amount(control) != debits:
            errors.append(
                Error(
                    f"Control Total Amount {control} does not match the debits {debits}.",
                    "",
                    f"{at}/wd:Control_Total_Amount[1]",
                )
            )
        return errors

    # -- posting ------------------------------------------------------------------------------------

    def post(self, data: Any) -> Held:
        company = ids(xmldoc.find(data, "Company_Reference")).get("Company_Reference_ID", "")
        lines = [
            Line(
                account=ids(xmldoc.find(e, "Ledger_Account_Reference")).get("Ledger_Account_ID", ""),
                debit=_amount(xmldoc.text(e, "Debit_Amount")),
                credit=_amount(xmldoc.text(e, "Credit_Amount")),
                worktags={
                    k: v for w in e if xmldoc.local(w.tag) == "Worktags_Reference" for k, v in ids(w).items()
                },
                company=ids(xmldoc.find(e, "Line_Company_Reference")).get("Company_Reference_ID", company),
            )
            for e in data
            if xmldoc.local(e.tag) == "Journal_Entry_Line_Replacement_Data"
        ]
        journal = Held(
            wid=self._wid(),
            journal_id=xmldoc.text(data, "Accounting_Journal_ID"),
            number=xmldoc.text(data, "Journal_Number"),
            company=company,
            currency=ids(xmldoc.find(data, "Currency_Reference")).get("Currency_ID", ""),
            accounting_date=date.fromisoformat(xmldoc.text(data, "Accounting_Date")[:10]),
            source=ids(xmldoc.find(data, "Journal_Source_Reference")).get("Journal_Source_ID", ""),
            memo=xmldoc.text(data, "Journal_Entry_Memo"),
            lines=lines,
        )
        with self._lock:
            self.journals[journal.journal_id or journal.wid] = journal
        return journal

    def balances(self) -> dict[str, Decimal]:
        nets: dict[str, Decimal] = {}
        with self._lock:
            for journal in self.journals.values():
                for line in journal.lines:
                    nets[line.account] = nets.get(line.account, Decimal(0)) + line.debit - line.credit
        return nets

    def numbered(self, number: str) -> list[Held]:
        with self._lock:
            return [j for j in self.journals.values() if j.number == number]

    # -- background processes -----------------------------------------------------------------------

    def start(self, data: Any, root: str, *, add_only: bool) -> Process:
        with self._lock:
            never = self.stalled or self._never > 0
            self._never = max(0, self._never - 1)
            process = Process(self._wid(), data, root, add_only, self.import_polls, never=never)
            self.processes[process.wid] = process
            return process

    def never_next(self, count: int) -> None:
        with self._lock:
            self._never += count

    def stall(self, on: bool) -> None:
        with self._lock:
            self.stalled = on

    def read(self, wid: str) -> Process | None:
        """A status read of a process: the read that uses up its polls runs it."""
        with self._lock:
            process = self.processes.get(wid)
            if process is None or process.status != "Processing" or process.never:
                return process
            process.polls_left -= 1
            if process.polls_left <= 0:
                self._run(process)
            return process

    def run_all(self) -> None:
        """Every process still running and not stalled ends now (Workday's queue drained)."""
        with self._lock:
            for process in list(self.processes.values()):
                if process.status == "Processing" and not process.never:
                    self._run(process)

    def _run(self, process: Process) -> None:
        errors = self.problems(process.data, process.root, add_only=process.add_only)
        journal_id = xmldoc.text(process.data, "Accounting_Journal_ID")
        if errors:
            process.status = "Failed"
            for error in errors:
                found = _LINE.search(error.xpath)
                line = int(found.group(1)) if found else None
                process.messages.append(
                    ("ERROR", f"{error.message} {error.detail}".strip(), line, journal_id)
                )
            return
        self.post(process.data)
        process.status = "Completed"
