"""What the F&O connector reads back: the journals F&O holds under our keys (``read_back``) and
every journal F&O holds that revbridge wrote, by date (``held``), both as our accounts and legal
entities so that reconcile compares them with what revbridge sent.

revbridge's mark in F&O is where and how it writes (dynamics_finance_package.py): journals of the
configured journal name (``journal_name``) whose description is a key ``journal_key`` makes from a
revbridge journal id. F&O's OData has no "starts with" that tells that key apart (its ``$filter``
wildcard is ``*`` only), so ``held`` lists the journal name's headers and keeps the described ones,
then reads only their lines in the date range:
``GET /data/LedgerJournalHeaders?cross-company=true&$filter=JournalName eq '<name>'`` and
``GET /data/LedgerJournalLines?cross-company=true&$filter=(JournalBatchNumber eq '..' or ..) and
TransDate ge <first>T00:00:00Z and TransDate lt <day after last>T00:00:00Z``, each page after page
(``@odata.nextLink``), as https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/odata
documents (filters, ``cross-company``, server-driven paging).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from revbridge.connectors.base import ErpAmount, ErpJournal
from revbridge.connectors.dynamics_finance_odata import ODataJournals
from revbridge.connectors.dynamics_finance_package import journal_key, reference_of, split_display_value


class LedgerReader:
    def __init__(
        self,
        odata: ODataJournals,
        *,
        delimiter: str,
        accounts: Mapping[str, str],
        companies: Mapping[str, str],
    ) -> None:
        self._odata = odata
        self._delimiter = delimiter
        self._our_accounts = {erp: ours for ours, erp in accounts.items()}
        self._our_companies = {erp.lower(): ours for ours, erp in companies.items()}

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        keys = {journal_key(r): r for r in references}
        headers = {k: h for k, h in self._odata.headers(list(keys)).items() if k in keys}
        lines = self._odata.lines([str(h["JournalBatchNumber"]) for h in headers.values()])
        held: dict[str, ErpJournal] = {}
        for key, header in headers.items():
            company = str(header.get("dataAreaId", "")).lower()
            rows = lines.get((company, str(header["JournalBatchNumber"])), [])
            held[keys[key]] = self.journal(keys[key], company, header, rows)
        return held

    def held(self, date_from: date, date_to: date) -> dict[str, ErpJournal]:
        """Every journal revbridge wrote that has lines dated in [date_from, date_to], by our journal
        id (F&O keeps it whole: a 32-digit id is the description itself, and the ``RB-`` form of a
        64-digit one decodes back). Where F&O holds two journals under one id, the first it made
        is the one given, as ``read_back`` gives it."""
        if date_to < date_from:
            return {}
        ours: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for header in self._odata.named():
            reference = reference_of(str(header.get("Description", "")))
            if reference is not None:
                where = (str(header.get("dataAreaId", "")).lower(), str(header.get("JournalBatchNumber", "")))
                ours[where] = (reference, header)
        if not ours:
            return {}
        lines = self._odata.lines([batch for _, batch in ours], dated=(date_from, date_to))
        held: dict[str, ErpJournal] = {}
        for where, (reference, header) in ours.items():
            if where in lines and reference not in held:
                held[reference] = self.journal(reference, where[0], header, lines[where])
        return held

    def journal(
        self, reference: str, company: str, header: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
    ) -> ErpJournal:
        """One journal as our accounts (main account mapped back) and legal entity; its posting
        date is its first line's."""
        amounts = []
        posting_date: date | None = None
        for row in sorted(rows, key=lambda r: Decimal(str(r.get("LineNumber", 0)))):
            account, _ = split_display_value(str(row.get("AccountDisplayValue", "")), self._delimiter)
            amounts.append(
                ErpAmount(
                    account=self._our_accounts.get(account, account),
                    debit=Decimal(str(row.get("DebitAmount", 0))),
                    credit=Decimal(str(row.get("CreditAmount", 0))),
                    currency=str(row.get("CurrencyCode", "USD")),
                )
            )
            if posting_date is None and row.get("TransDate"):
                posting_date = date.fromisoformat(str(row["TransDate"])[:10])
        return ErpJournal(
            reference=reference,
            document=str(header["JournalBatchNumber"]),
            legal_entity=self._our_companies.get(company, company.upper()),
            posting_date=posting_date,
            lines=tuple(amounts),
        )
