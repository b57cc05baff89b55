"""What the Business Central connector reads from BC, and the journal batches it deletes.

Companies are read once (``GET companies``) and mapped to our legal entities by name. Posted
journals are found by their document number in ``generalLedgerEntries`` (25 references per
``$filter``, pages followed by ``@odata.nextLink``); unposted leftovers of a cut-off call by the
external document number on the lines of our journal batches (``journals`` whose code starts with
the batch prefix, ``$expand=journalLines``). What BC holds from revbridge over a date range
(``held``) is the G/L entries whose document number starts with ``RB``, filtered on postingDate by BC
(https://learn.microsoft.com/dynamics365/business-central/dev-itpro/webservices/use-filter-expressions-in-odata-uris),
read page by page (server-driven paging, ``@odata.nextLink``:
https://learn.microsoft.com/dynamics365/business-central/dev-itpro/webservices/server-driven-paging-in-odata-web-services).
A read BC refuses is a setup problem (unavailable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from revbridge.connectors.base import ConnectorUnavailable, ErpAmount, ErpJournal
from revbridge.connectors.business_central_payload import (
    PREFIX,
    document_number,
    external_number,
    is_our_document,
    or_filter,
)
from revbridge.connectors.http import read_json

if TYPE_CHECKING:
    from revbridge.connectors.business_central import BusinessCentralSettings

FILTER_CHUNK = 25  # references per $filter: keeps the URL well under BC's limits


class BcReads:
    def __init__(
        self,
        settings: BusinessCentralSettings,
        send: Callable[..., httpx.Response],
        unavailable: Callable[[httpx.Response, str], ConnectorUnavailable],
    ) -> None:
        self.settings = settings
        self._send = send
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._company_ids: dict[str, str] | None = None

    def delete_batch(self, company: str, journal: str) -> bool:
        try:
            response = self._send("DELETE", f"companies({company})/journals({journal})")
        except ConnectorUnavailable:
            return False
        return response.status_code in (200, 204, 404)

    def entries(self, company: str, references: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The posted G/L entries per reference, found by document number."""
        by_number = {document_number(r): r for r in references}
        found: dict[str, list[dict[str, Any]]] = {}
        numbers = list(by_number)
        for start in range(0, len(numbers), FILTER_CHUNK):
            chunk = numbers[start : start + FILTER_CHUNK]
            params = {"$filter": or_filter("documentNumber", chunk)}
            for entry in self.read(f"companies({company})/generalLedgerEntries", params):
                reference = by_number.get(str(entry.get("documentNumber", "")))
                if reference is not None:
                    found.setdefault(reference, []).append(entry)
        return found

    def held_entries(self, company: str, date_from: date, date_to: date) -> dict[str, list[dict[str, Any]]]:
        """The posted G/L entries of revbridge's documents dated in [date_from, date_to], by document
        number. BC filters on the dates and the ``RB`` prefix; the full shape is checked here."""
        where = (
            f"postingDate ge {date_from.isoformat()} and postingDate le {date_to.isoformat()}"
            f" and startswith(documentNumber,'{PREFIX}')"
        )
        found: dict[str, list[dict[str, Any]]] = {}
        for entry in self.read(f"companies({company})/generalLedgerEntries", {"$filter": where}):
            number = str(entry.get("documentNumber", ""))
            if is_our_document(number):
                found.setdefault(number, []).append(entry)
        return found

    def clear_leftovers(self, company: str, references: Sequence[str]) -> None:
        if not references:
            return
        wanted = {external_number(r) for r in references}
        prefix = self.settings.batch_prefix.upper()
        for journal in self.journals(company, f"startswith(code,'{prefix}')", expand=True):
            lines = journal.get("journalLines") or []
            ours = any(str(line.get("externalDocumentNumber", "")) in wanted for line in lines)
            if ours and not self.delete_batch(company, str(journal["id"])):
                raise ConnectorUnavailable("an unposted leftover batch could not be deleted")

    def journals(self, company: str, where: str, *, expand: bool) -> list[dict[str, Any]]:
        params = {"$filter": where} | ({"$expand": "journalLines"} if expand else {})
        return self.read(f"companies({company})/journals", params)

    def read(self, path: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """A collection, following @odata.nextLink pages; a refused read is a setup problem."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        while url is not None:
            response = self._send("GET", url, params=params if url == path else None)
            if response.status_code != 200:
                raise self._unavailable(response, "reading")
            body = read_json(response)
            if not isinstance(body, dict):
                raise ConnectorUnavailable(f"Business Central answered {path} without a collection")
            items.extend(v for v in body.get("value", []) if isinstance(v, dict))
            link = body.get("@odata.nextLink")
            url = str(link) if link else None
        return items

    def companies(self) -> dict[str, str]:
        with self._lock:
            if self._company_ids is not None:
                return self._company_ids
        ids = {str(c.get("name")): str(c.get("id")) for c in self.read("companies")}
        with self._lock:
            self._company_ids = ids
        return ids

    def company_id(self, entity: str) -> str | None:
        return self.companies().get(self.settings.companies.get(entity, entity))

    def entities(self) -> dict[str, str]:
        """Our legal entity -> company id, for the companies the settings name (all, if none)."""
        names = {name: entity for entity, name in self.settings.companies.items()}
        return {
            names.get(name, name): cid for name, cid in self.companies().items() if not names or name in names
        }

    def lookup_companies(self) -> list[str]:
        return list(self.entities().values())


def erp_journal(
    reference: str, entity: str, entries: Sequence[dict[str, Any]], ours: Mapping[str, str]
) -> ErpJournal:
    """One document's G/L entries as we compare them: BC accounts mapped back to ours (``ours``:
    BC account -> our account). One mapping for read_back and held, so the two agree; an entry
    BC answered without a readable amount or date is unavailable, not a crash."""
    try:
        lines = tuple(
            ErpAmount(
                account=ours.get(str(e["accountNumber"]), str(e["accountNumber"])),
                debit=Decimal(str(e.get("debitAmount", 0))),
                credit=Decimal(str(e.get("creditAmount", 0))),
            )
            for e in entries
        )
        posting = entries[0].get("postingDate")
        posted = date.fromisoformat(posting) if isinstance(posting, str) else None
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise ConnectorUnavailable(f"Business Central answered an unreadable G/L entry ({exc!r})") from None
    return ErpJournal(
        reference=reference,
        document=str(entries[0].get("documentNumber", "")),
        legal_entity=entity,
        posting_date=posted,
        lines=lines,
    )
