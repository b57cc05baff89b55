"""What SAP S/4HANA holds, read through the Journal Entry Item read API (OData V2).

``API_JOURNALENTRYITEMBASIC_SRV`` (SAP Business Accelerator Hub, "Journal Entry Item - Read",
communication scenario SAP_COM_0002's read access) serves ``A_JournalEntryItemBasic``: one row
per line item with ``CompanyCode``, ``FiscalYear``, ``AccountingDocument``,
``AccountingDocumentItem``, ``Ledger``, ``DocumentReferenceID``, ``AccountingDocumentHeaderText``,
``GLAccount``, ``AmountInTransactionCurrency`` (signed), ``TransactionCurrency``,
``DebitCreditCode`` and ``PostingDate`` (OData V2 ``/Date(ms)/``). Queries use ``$filter``,
``$select`` and ``$format=json``; the answer is ``{"d": {"results": [...], "__next": url}}``, paged
by SAP through ``__next``.

A journal is found by its ``DocumentReferenceID`` (the first half of our journal key) in the
leading ledger, and is ours only when the ``AccountingDocumentHeaderText`` carries the second
half (sap_s4hana_soap.references): an unrelated document with the same XBLNR is never taken for
ours. ``lookup_many`` (a journal SAP posted but whose confirmation never came is found, not sent
twice), ``read_back`` (reconciliation) and ``held`` (everything with our mark in a date range)
all read through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from revbridge.connectors.base import ConnectorUnavailable, ErpAmount, ErpJournal
from revbridge.connectors.http import failure, read_json, send
from revbridge.connectors.sap_s4hana_soap import journal_key, key_of, references

ENTITY = "A_JournalEntryItemBasic"
FIELDS = (
    "CompanyCode,FiscalYear,AccountingDocument,AccountingDocumentItem,Ledger,DocumentReferenceID,"
    "AccountingDocumentHeaderText,GLAccount,AmountInTransactionCurrency,TransactionCurrency,"
    "DebitCreditCode,PostingDate"
)
PER_QUERY = 20  # references per $filter, so the URL stays short
_MS = re.compile(r"/Date\((-?\d+)(?:[+-]\d+)?\)/")


@dataclass(frozen=True, slots=True)
class Document:
    """One accounting document SAP holds with our mark, its line items in SAP's order."""

    key: str  # our journal key
    company_code: str
    fiscal_year: str
    accounting_document: str
    posting_date: date | None
    items: tuple[dict[str, Any], ...]

    @property
    def name(self) -> str:
        return f"{self.company_code}/{self.accounting_document}/{self.fiscal_year}"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    found = _MS.fullmatch(value.strip())
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


class Reader:
    def __init__(self, client: httpx.Client, path: str, ledger: str, prefix: str) -> None:
        self._client = client
        self._path = path.rstrip("/") + "/" + ENTITY
        self._ledger = ledger
        self._prefix = prefix

    def _rows(self, condition: str) -> Iterator[dict[str, Any]]:
        params: dict[str, str] | None = {
            "$filter": f"Ledger eq {_literal(self._ledger)} and ({condition})",
            "$select": FIELDS,
            "$format": "json",
        }
        url = self._path
        while url:
            response = send(self._client, "GET", url, params=params)
            if response.status_code != 200:
                raise ConnectorUnavailable(f"SAP refused a read of {ENTITY}: {failure(response)}")
            body = read_json(response)
            d = body.get("d") if isinstance(body, dict) else None
            if not isinstance(d, dict) or not isinstance(d.get("results"), list):
                raise ConnectorUnavailable(
                    f"SAP answered a read of {ENTITY} without d.results", uncertain=True
                )
            yield from (row for row in d["results"] if isinstance(row, dict))
            url, params = str(d.get("__next") or ""), None

    def _documents(self, condition: str) -> dict[str, Document]:
        """Our documents among the rows matching ``condition``, by journal key."""
        grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in self._rows(condition):
            name = (
                str(row.get("CompanyCode", "")),
                str(row.get("AccountingDocument", "")),
                str(row.get("FiscalYear", "")),
            )
            grouped.setdefault(name, []).append(row)
        found: dict[str, Document] = {}
        for (company, number, year), items in sorted(grouped.items()):
            first = items[0]
            key = key_of(
                str(first.get("DocumentReferenceID", "")),
                str(first.get("AccountingDocumentHeaderText", "")),
                self._prefix,
            )
            if key is None or key in found:  # not ours, or a second document: the first stands
                continue
            items.sort(key=lambda r: str(r.get("AccountingDocumentItem", "")))
            found[key] = Document(key, company, year, number, _day(first.get("PostingDate")), tuple(items))
        return found

    def find(self, journal_ids: Sequence[str]) -> dict[str, Document]:
        """The documents SAP holds for these journals, by journal id."""
        by_key = {journal_key(j): j for j in journal_ids}
        found: dict[str, Document] = {}
        wanted = sorted({references(j, self._prefix)[0] for j in journal_ids})
        for first in range(0, len(wanted), PER_QUERY):
            part = wanted[first : first + PER_QUERY]
            condition = " or ".join(f"DocumentReferenceID eq {_literal(r)}" for r in part)
            for key, document in self._documents(condition).items():
                if key in by_key:
                    found[by_key[key]] = document
        return found

    def held(self, date_from: date, date_to: date) -> dict[str, Document]:
        """Every document with our mark posted in [date_from, date_to], by journal key."""
        condition = (
            f"PostingDate ge datetime'{date_from.isoformat()}T00:00:00' and "
            f"PostingDate le datetime'{date_to.isoformat()}T00:00:00' and "
            f"startswith(AccountingDocumentHeaderText,{_literal(self._prefix + ' ')}) eq true"
        )
        return self._documents(condition)


def erp_journal(
    reference: str, document: Document, accounts: Mapping[str, str], entities: Mapping[str, str]
) -> ErpJournal:
    """A document in our terms: accounts and company code mapped back, S/H as debit/credit."""
    ours = {sap: mine for mine, sap in accounts.items()}
    lines = []
    for item in document.items:
        value = abs(_decimal(item.get("AmountInTransactionCurrency")))
        debit = str(item.get("DebitCreditCode", "")) == "S"
        account = str(item.get("GLAccount", ""))
        lines.append(
            ErpAmount(
                account=ours.get(account, account),
                debit=value if debit else Decimal(0),
                credit=Decimal(0) if debit else value,
                currency=str(item.get("TransactionCurrency") or "USD"),
            )
        )
    legal_entity = {code: entity for entity, code in entities.items()}.get(
        document.company_code, document.company_code
    )
    return ErpJournal(
        reference=reference,
        document=document.name,
        legal_entity=legal_entity,
        posting_date=document.posting_date,
        lines=tuple(lines),
    )
