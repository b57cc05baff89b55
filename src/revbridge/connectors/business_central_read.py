"""What the Business Central connector reads from BC, and the journal batches it deletes.

Companies are read once (``GET companies``) and mapped to our legal entities by name. Posted
journals are found by their document number in ``generalLedgerEntries`` (25 references per
``$filter``, pages followed by ``@odata.nextLink``); unposted leftovers of a cut-off call by the
external document number on the lines of our journal batches (``journals`` whose code starts with
the batch prefix, ``$expand=journalLines``). A read BC refuses is a setup problem (unavailable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.business_central_payload import document_number, external_number, or_filter
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
