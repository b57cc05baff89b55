"""What the SAP S/4HANA test system holds and how it judges a journal entry, as S/4HANA does.

Seeded from erp_chart.Chart: each legal entity is a company code (``company_codes``), the chart's
accounts are G/L accounts of chart of accounts YCOA, facilities are profit centers, cost centers
are cost centers, and ``segments`` the segments. One ``JournalEntry`` is judged on its own (a bulk
message's entries succeed or fail one by one, as S/4HANA posts each in its own LUW), with SAP's
message texts: an unknown company code, G/L account, profit center, cost center or segment, a
posting period that is not open, a debit/credit code that disagrees with the amount's sign, and a
balance that is not zero. With ``check_duplicates``, a ``DocumentReferenceID`` already posted in
the company code is refused too: SAP's own duplicate check is the duplicate invoice check, per
vendor, which a G/L document never meets; a customer gets the same for G/L documents with an FI
validation rule on BKPF-XBLNR (transaction OB28, call-up point 1 "document header"), which is
what this models.

A posted entry gets the next document number of its company code (1000000000 on), fiscal year =
calendar year (variant K4), and one ``A_JournalEntryItemBasic`` row per item in the leading ledger
0L, which ``query`` serves with the OData subset the connector uses (sap_erp_odata.py).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from erp_chart import Chart

from revbridge.connectors import xmldoc

CHART_OF_ACCOUNTS = "YCOA"


@dataclass
class Outcome:
    """SAP's answer for one JournalEntryCreateRequest."""

    message_id: str
    company_code: str = ""
    document: str = ""  # empty: refused
    fiscal_year: str = "0000"
    notes: list[tuple[str, str]] = field(default_factory=list)  # (TypeID, Note)


class Books:
    def __init__(
        self,
        chart: Chart,
        *,
        company_codes: Mapping[str, str],
        segments: frozenset[str] = frozenset(),
        check_duplicates: bool = True,
    ) -> None:
        self.chart = chart
        self.company_codes = dict(company_codes)  # legal entity -> company code
        self.segments = segments
        self.check_duplicates = check_duplicates
        self.items: list[dict[str, Any]] = []  # A_JournalEntryItemBasic rows
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()

    def _entity(self, company_code: str) -> str | None:
        return next((e for e, c in self.company_codes.items() if c == company_code), None)

    def post(self, message_id: str, entry: xmldoc.Element) -> Outcome:
        """Judge and, when nothing is wrong, post one JournalEntry."""
        company = xmldoc.text(entry, "CompanyCode")
        outcome = Outcome(message_id, company_code=company)
        with self._lock:
            outcome.notes = self._problems(entry, company)
            if outcome.notes:
                return outcome
            day = xmldoc.text(entry, "PostingDate")
            number = self._numbers.get(company, 1000000000)
            self._numbers[company] = number + 1
            outcome.document, outcome.fiscal_year = str(number), day[:4]
            self._book(entry, outcome, day)
        outcome.notes = [
            ("RW(614)", f"Document posted successfully: BKPFF {outcome.document}{company}{day[:4]}")
        ]
        return outcome

    def _book(self, entry: xmldoc.Element, outcome: Outcome, day: str) -> None:
        for n, item in enumerate(xmldoc.every(entry, "Item"), start=1):
            amount = xmldoc.find(item, "AmountInTransactionCurrency")
            assert amount is not None
            self.items.append(
                {
                    "CompanyCode": outcome.company_code,
                    "FiscalYear": outcome.fiscal_year,
                    "AccountingDocument": outcome.document,
                    "AccountingDocumentItem": f"{n:03d}",
                    "Ledger": "0L",
                    "DocumentReferenceID": xmldoc.text(entry, "DocumentReferenceID"),
                    "AccountingDocumentHeaderText": xmldoc.text(entry, "DocumentHeaderText"),
                    "GLAccount": xmldoc.text(item, "GLAccount"),
                    "AmountInTransactionCurrency": (amount.text or "").strip(),
                    "TransactionCurrency": amount.get("currencyCode", ""),
                    "DebitCreditCode": xmldoc.text(item, "DebitCreditCode"),
                    "PostingDate": day,
                    "ProfitCenter": xmldoc.text(item, "ProfitCenter"),
                    "CostCenter": xmldoc.text(item, "CostCenter"),
                    "Segment": xmldoc.text(item, "Segment"),
                }
            )

    def _problems(self, entry: xmldoc.Element, company: str) -> list[tuple[str, str]]:
        entity = self._entity(company)
        if entity is None:
            return [("F5(165)", f"Company code {company} does not exist")]
        problems: list[tuple[str, str]] = []
        day = xmldoc.text(entry, "PostingDate")
        if not self.chart.is_open(entity, day[:7]):
            problems.append(("F5(201)", f"Posting period {int(day[5:7]):03d} {day[:4]} is not open"))
        reference = xmldoc.text(entry, "DocumentReferenceID")
        if self.check_duplicates and reference and self._holds(company, reference):
            problems.append(
                ("ZFI(001)", f"Reference {reference} has already been posted in company code {company}")
            )
        balance = Decimal(0)
        for item in xmldoc.every(entry, "Item"):
            problems += self._item_problems(item, company)
            balance += Decimal(xmldoc.text(item, "AmountInTransactionCurrency") or "0")
        if balance != 0:
            problems.append(("F5(702)", f"Balance in transaction currency: {balance}"))
        if problems:
            problems.insert(0, ("RW(609)", "Error in document: BKPFF $ " + company))
        return problems

    def _item_problems(self, item: xmldoc.Element, company: str) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        account = xmldoc.text(item, "GLAccount")
        if account not in self.chart.accounts:
            problems.append(
                ("FH(004)", f"Account {account} does not exist in chart of accounts {CHART_OF_ACCOUNTS}")
            )
        amount = Decimal(xmldoc.text(item, "AmountInTransactionCurrency") or "0")
        code = xmldoc.text(item, "DebitCreditCode")
        if (code == "S") != (amount > 0):
            problems.append(("F5(740)", f"Debit/credit code {code} does not agree with amount {amount}"))
        checks = (
            (
                "ProfitCenter",
                self.chart.facilities,
                "Profit center {value} does not exist in company code " + company,
            ),
            ("CostCenter", self.chart.cost_centers, "Cost center {value} does not exist"),
            ("Segment", self.segments, "Segment {value} does not exist"),
        )
        for name, known, words in checks:
            value = xmldoc.text(item, name)
            if value and value not in known:
                problems.append(("KI(248)", words.format(value=value)))
        return problems

    def _holds(self, company: str, reference: str) -> bool:
        return any(r["CompanyCode"] == company and r["DocumentReferenceID"] == reference for r in self.items)

    # -- what the tests read -----------------------------------------------------------------------

    def documents_for(self, reference: str, header_text: str) -> int:
        with self._lock:
            return len(
                {
                    (r["CompanyCode"], r["AccountingDocument"])
                    for r in self.items
                    if r["DocumentReferenceID"] == reference
                    and r["AccountingDocumentHeaderText"] == header_text
                }
            )

    def balances(self) -> dict[str, Decimal]:
        nets: dict[str, Decimal] = {}
        with self._lock:
            for r in self.items:
                nets[r["GLAccount"]] = nets.get(r["GLAccount"], Decimal(0)) + Decimal(
                    r["AmountInTransactionCurrency"]
                )
        return nets

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.items]
