"""The F&O connector's OData side: the Ledger journal header and line entities.

MS Learn ("Import general journals", dynamics365-guidance) documents two ways in: the General
journal entity for DMF, and the *Ledger journal header* (``LedgerJournalHeaders``) and *Ledger
journal line* (``LedgerJournalLines``) entities, which support OData. This module uses the latter
for a few journals at a time (synchronous, one $batch request a journal), to find journals by their key
(the header's ``Description``), to read whether F&O has posted them (``IsPosted``) and to read
their lines back. Reads pass ``cross-company=true``: F&O's OData otherwise answers only for the
integration user's default company. Every read follows ``@odata.nextLink`` (server-driven paging,
https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/odata).

A journal made over OData is a header and its lines, sent as one OData ``$batch`` changeset
(dynamics_finance_batch.py): the header POST (Content-ID 1) and one ``POST $1/JournalLines`` per
line, the lines naming the new header by its Content-ID. MS Learn ("Open Data Protocol (OData)",
*Run multiple requests in a single transaction*,
https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/odata): F&O runs
a changeset's requests as one atomic unit, all or none. So F&O's Journal post job, which posts any
journal whose vouchers balance whenever it runs, never sees a half-made journal (it used to post
one whose first lines happened to balance), a lookup by the key never finds one, and a line F&O
refuses leaves nothing behind: the journal is rejected naming that line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from revbridge.connectors.base import ACCEPTED, POSTED, ConnectorRejected, ConnectorUnavailable, Receipt
from revbridge.connectors.dynamics_finance_batch import BATCH, Operation, answers, changeset
from revbridge.connectors.dynamics_finance_package import amount_text, journal_key
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.http import read_json, send
from revbridge.ledger.journal import Journal

ROOT = "/data/"
HEADERS = "/data/LedgerJournalHeaders"
LINES = "/data/LedgerJournalLines"
HEADER_LINES = "JournalLines"  # the header's navigation property to its lines
Failure = Callable[[httpx.Response], ConnectorUnavailable | ConnectorRejected]


def _json(fields: Mapping[str, str | int | Decimal]) -> bytes:
    """A JSON object whose decimals keep their exact text (Edm.Decimal as a JSON number)."""
    parts = [
        f"{json.dumps(k)}:{v if isinstance(v, Decimal | int) else json.dumps(v)}" for k, v in fields.items()
    ]
    return ("{" + ",".join(parts) + "}").encode()


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def receipt_for(reference: str, header: Mapping[str, Any]) -> Receipt:
    """Posted only when F&O says the journal is posted; otherwise accepted (it awaits posting)."""
    posted = str(header.get("IsPosted", "")) == "Yes"
    return Receipt(
        reference=reference, document=str(header["JournalBatchNumber"]), status=POSTED if posted else ACCEPTED
    )


class ODataJournals:
    def __init__(self, client: httpx.Client, *, journal_name: str, chunk: int, failure: Failure) -> None:
        self._client = client
        self._journal_name = journal_name
        self._chunk = max(1, chunk)
        self._failure = failure

    # -- reads -------------------------------------------------------------------------------------

    def _query(self, path: str, field: str, values: Sequence[str], also: str = "") -> list[dict[str, Any]]:
        """Every row whose ``field`` is one of ``values`` (and that ``also`` selects), in chunks (a
        URL has a length limit)."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(values), self._chunk):
            terms = " or ".join(f"{field} eq {_quoted(v)}" for v in values[start : start + self._chunk])
            rows.extend(self.rows(path, f"({terms}) and {also}" if also else terms))
        return rows

    def rows(self, path: str, selected: str) -> list[dict[str, Any]]:
        """Every row of every company that the ``$filter`` ``selected`` selects, page after page:
        F&O answers at most 10,000 rows at a time and names the next page in ``@odata.nextLink``."""
        rows: list[dict[str, Any]] = []
        url = path
        params: dict[str, str] | None = {"cross-company": "true", "$filter": selected}
        seen: set[str] = set()
        while True:
            response = send(self._client, "GET", url, params=params)
            if response.status_code != 200:
                raise self._read_failure(response)
            body = read_json(response)
            found = body.get("value") if isinstance(body, dict) else None
            if not isinstance(found, list):
                raise ConnectorUnavailable("F&O answered a query without a value list", uncertain=True)
            rows.extend(row for row in found if isinstance(row, dict))
            link = body.get("@odata.nextLink")
            if link is None:
                return rows
            if not isinstance(link, str) or link in seen or not link.startswith(str(self._client.base_url)):
                # our bearer token goes only to F&O, and a page named twice would never end
                raise ConnectorUnavailable("F&O named a next page that is not a new page of F&O")
            seen.add(link)
            url, params = link, None  # the link carries the query

    def _read_failure(self, response: httpx.Response) -> ConnectorUnavailable:
        refused = self._failure(response)
        if isinstance(refused, ConnectorRejected):  # a read F&O refuses is a setup problem
            return ConnectorUnavailable(f"F&O refused a read: {refused}")
        return refused

    def headers(self, descriptions: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Journal headers by description (our key); the first F&O made wins."""
        found: dict[str, dict[str, Any]] = {}
        for row in self._query(HEADERS, "Description", list(descriptions)):
            found.setdefault(str(row.get("Description", "")), row)
        return found

    def lines(
        self, batches: Sequence[str], dated: tuple[date, date] | None = None
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Journal lines by (company, journal batch number); with ``dated``, only the lines whose
        date is in that range (first and last day included)."""
        also = ""
        if dated is not None:
            first, after = dated[0], dated[1] + timedelta(days=1)
            also = f"TransDate ge {first}T00:00:00Z and TransDate lt {after}T00:00:00Z"
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in self._query(LINES, "JournalBatchNumber", sorted(set(batches)), also):
            where = (str(row.get("dataAreaId", "")).lower(), str(row.get("JournalBatchNumber", "")))
            grouped.setdefault(where, []).append(row)
        return grouped

    def named(self) -> list[dict[str, Any]]:
        """Every journal header of the journal name revbridge makes its journals in, in the order
        F&O answers them."""
        return self.rows(HEADERS, f"JournalName eq {_quoted(self._journal_name)}")

    # -- writes ------------------------------------------------------------------------------------

    def submit(self, journal: Journal, company: str, displays: Mapping[int, str]) -> Receipt:
        """The header and every line in one changeset (see the module's docstring). Looks the key
        up first, so sending a journal F&O already holds makes no second one."""
        key = journal_key(journal.id)
        found = self.headers([key])
        if key in found:
            return receipt_for(journal.id, found[key])
        header: dict[str, str | int | Decimal] = {
            "dataAreaId": company,
            "JournalName": self._journal_name,
            "Description": key,
        }
        operations = [Operation("1", "POST", HEADERS.removeprefix(ROOT), _json(header))]
        numbers: dict[str, int] = {}
        for content_id, line in enumerate(exact_lines(journal), start=2):
            debit, credit = amount_text(line)
            body: dict[str, str | int | Decimal] = {
                "dataAreaId": company,
                "LineNumber": line.line_no,
                "AccountType": "Ledger",
                "AccountDisplayValue": displays[line.line_no],
                "TransDate": f"{journal.posting_date.isoformat()}T12:00:00Z",
                "CurrencyCode": line.currency,
                "DebitAmount": Decimal(debit),
                "CreditAmount": Decimal(credit),
            }
            operations.append(Operation(str(content_id), "POST", f"$1/{HEADER_LINES}", _json(body)))
            numbers[str(content_id)] = line.line_no
        return Receipt(reference=journal.id, document=self._send(operations, numbers), status=ACCEPTED)

    def _send(self, operations: Sequence[Operation], numbers: Mapping[str, int]) -> str:
        """One ``$batch`` request; the journal batch number F&O gave the header. A refused
        operation rejects the journal (naming the line when it was a line): the changeset made
        nothing, so there is nothing to clean up."""
        content_type, body = changeset(operations)
        response = send(self._client, "POST", BATCH, content=body, headers={"Content-Type": content_type})
        if response.status_code != 200:
            raise self._failure(response)
        answered = answers(response)
        for answer in answered:
            if answer.response.status_code >= 300:
                refused = self._failure(answer.response)
                line = numbers.get(answer.content_id)
                if isinstance(refused, ConnectorRejected) and line is not None:
                    raise ConnectorRejected(f"F&O refused line {line}: {refused}", lines=(line,))
                raise refused
        created = next((a for a in answered if a.content_id == "1"), None)
        if created is None or len(answered) != len(operations):
            raise ConnectorUnavailable("F&O answered a changeset without every operation", uncertain=True)
        made = read_json(created.response)
        batch = made.get("JournalBatchNumber") if isinstance(made, dict) else None
        if not isinstance(batch, str) or not batch:
            raise ConnectorUnavailable("F&O made a journal header without a batch number", uncertain=True)
        return batch
