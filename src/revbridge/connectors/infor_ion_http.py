"""ION's two services as the connector uses them: the messaging service takes a BOD, OneView
finds the messages ION holds and gives their payloads.

- Send (ION API Messaging Service, IMS v2): ``POST {iu}/{ti}/IONSERVICES/api/ion/messaging/
  service/v2/multipartMessage``, ``multipart/form-data`` with a ``ParameterRequest`` part (JSON:
  ``documentName``, ``fromLogicalId``, ``toLogicalId``, ``documentId``, ``accountingEntity``,
  ``encoding NONE``, ``characterSet UTF-8``) and a ``MessagePayload`` part (the BOD); ION answers
  201 when it has taken the message. Sources: Infor's "Infor Application Connector (IMS)" guide
  (https://docs.infor.com/inforos/latest/en-us/useradminlib_cloud/ioncedg_cloud_osm/
  mhn1519993806956.html and its "Application sends a message to ION" page: 401 bad credentials,
  403 a ``fromLogicalId`` not the client's, 412 an inactive connection point or a document it does
  not accept) and the public ``inforion`` client's ``post_messaging_v2_multipart_message``. One
  BOD per message: ION has no bulk path.
- Find (ION OneView API): ``GET {iu}/{ti}/IONSERVICES/oneviewapi/data?filter=...&store=Message&
  page=&records=&sort=`` answers ``{"numFound": n, "fields": [{message_id, document_name,
  document_id, ...}]}``; ``GET .../oneviewapi/data/documentPayload?messageId=`` answers the BOD
  (as a public OneView BOD downloader uses them; its filter grammar: ``(field eq 'value')`` joined
  by ``and``/``or``). ``document_id`` is the ``documentId`` the message was sent with (our journal
  id: the acknowledgement CloudSuite routes back carries the same), ``document_sent_to`` the
  logical id a message was routed to; these two field names are our reading of OneView's index.

Answers are read with a size cap before parsing (a hostile 50 MB payload is refused unread) and
every payload through xmldoc.parse; an unsafe or unreadable payload is uncertain, as a garbled
answer is. Payloads are immutable once ION holds them, so each is fetched once per connector.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable
from revbridge.connectors.http import detail, failure, read_json, send
from revbridge.connectors.infor_ion_bod import ACKNOWLEDGE, CONFIRM, PROCESS, Acknowledgement, acknowledgement
from revbridge.core.clock import Clock

MESSAGE = "/IONSERVICES/api/ion/messaging/service/v2/multipartMessage"
DATA = "/IONSERVICES/oneviewapi/data"
PAYLOAD = "/IONSERVICES/oneviewapi/data/documentPayload"
ANSWERS = (ACKNOWLEDGE, CONFIRM)
CHUNK = 20  # references per OneView query (a filter is a query parameter: keep URLs short)
CACHED = 5_000  # acknowledgements remembered per connector (each holds its parsed BOD)


def _any(field: str, values: Sequence[str]) -> str:
    clauses = [f"({field} eq '{value}')" for value in values]
    return clauses[0] if len(clauses) == 1 else "(" + " or ".join(clauses) + ")"


def _quiet(value: str) -> str:
    if "'" in value:
        raise ValueError("a OneView filter value cannot hold a quote")
    return value


class IonHttp:
    def __init__(self, client: httpx.Client, tenant: str, clock: Clock, *, page_size: int) -> None:
        self._client = client
        self._prefix = f"/{tenant}"
        self._clock = clock
        self._page_size = page_size
        self._lock = threading.Lock()
        self._acks: dict[str, Acknowledgement | None] = {}

    def close(self) -> None:
        self._client.close()

    # -- the messaging service ---------------------------------------------------------------------

    def send_bod(self, bod: bytes, parameters: Mapping[str, str]) -> None:
        """Hand ION one BOD; returns when ION answered 201, raises the connector outcomes else."""
        files = {
            "ParameterRequest": (
                "ParameterRequest",
                json.dumps(dict(parameters)).encode(),
                "application/json",
            ),
            "MessagePayload": ("MessagePayload", bod, "application/octet-stream"),
        }
        response = send(self._client, "POST", self._prefix + MESSAGE, files=files)
        if response.status_code == 201:
            return
        words = detail(response)
        status = response.status_code
        if 200 <= status < 300:  # a success without ION's 201: a proxy's page, say; ION may have it
            raise ConnectorUnavailable(f"ION answered {status}, not 201: {words[:80]}", uncertain=True)
        if status in (401, 403):
            raise ConnectorUnavailable(f"ION refused our credentials or logical id ({status}): {words}")
        if status == 412:
            raise ConnectorUnavailable(f"ION's connection point does not take the BOD (412): {words}")
        refused = failure(response, now=self._clock.now)
        if isinstance(refused, ConnectorRejected):
            raise ConnectorRejected(f"ION refused the BOD ({status}): {words}")
        raise refused

    # -- OneView -----------------------------------------------------------------------------------

    def search(self, query: str) -> Iterator[dict[str, Any]]:
        """Every message OneView lists for a filter, page by page."""
        page = 1
        seen = 0
        while True:
            params = {
                "filter": query,
                "store": "Message",
                "page": str(page),
                "records": str(self._page_size),
                "sort": "message_date:asc",
            }
            response = send(self._client, "GET", self._prefix + DATA, params=params)
            if response.status_code != 200:
                raise _unavailable("OneView search", response, self._clock)
            response.read()
            body = read_json(response)
            rows = body.get("fields") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise ConnectorUnavailable("OneView answered a search without its fields", uncertain=True)
            yield from (row for row in rows if isinstance(row, dict))
            seen += len(rows)
            if not rows or seen >= int(body.get("numFound") or 0):
                return
            page += 1

    def payload(self, message_id: str) -> xmldoc.Element:
        """A message's BOD, read with a size cap and parsed safely."""
        try:
            with self._client.stream(
                "GET",
                self._prefix + PAYLOAD,
                params={"messageId": message_id},
                headers={"Accept": "text/xml"},
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise _unavailable("OneView payload", response, self._clock)
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > xmldoc.MAX_BYTES:
                    raise xmldoc.UnsafeXml(f"the XML document is {declared} bytes, over the limit")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > xmldoc.MAX_BYTES:
                        raise xmldoc.UnsafeXml("the XML document is over the size limit")
            return xmldoc.parse(bytes(body))
        except xmldoc.UnsafeXml as exc:
            raise ConnectorUnavailable(
                f"ION's message {message_id} was not read: {exc}", uncertain=True
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectorUnavailable(f"ION unreachable: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(f"ION's answer lost: {type(exc).__name__}", uncertain=True) from None

    def acknowledgement(self, message_id: str) -> Acknowledgement | None:
        with self._lock:
            if message_id in self._acks:
                return self._acks[message_id]
        found = acknowledgement(self.payload(message_id))
        with self._lock:
            if len(self._acks) >= CACHED:
                self._acks.clear()
            self._acks[message_id] = found
        return found

    # -- what ION holds for our references ---------------------------------------------------------

    def answers(self, references: Sequence[str]) -> dict[str, list[Acknowledgement]]:
        """The acknowledgements (and ConfirmBODs) ION holds per reference, in message order."""
        found: dict[str, list[Acknowledgement]] = {}
        for start in range(0, len(references), CHUNK):
            chunk = [_quiet(r) for r in references[start : start + CHUNK]]
            query = f"{_any('document_name', ANSWERS)} and {_any('document_id', chunk)}"
            for row in self.search(query):
                reference = str(row.get("document_id", ""))
                ack = self.acknowledgement(str(row.get("message_id", "")))
                if ack is not None and reference in chunk:
                    found.setdefault(reference, []).append(ack)
        return found

    def sent(self, references: Sequence[str]) -> dict[str, tuple[str, int]]:
        """The references whose Process BOD ION holds (taken, maybe not yet answered), each with
        the accounting entity it was sent for and how many times ION took it."""
        held: dict[str, tuple[str, int]] = {}
        for start in range(0, len(references), CHUNK):
            chunk = [_quiet(r) for r in references[start : start + CHUNK]]
            query = f"(document_name eq '{PROCESS}') and {_any('document_id', chunk)}"
            for row in self.search(query):
                reference = str(row.get("document_id", ""))
                times = held.get(reference, ("", 0))[1]
                held[reference] = (str(row.get("accounting_entity", "")), times + 1)
        return held

    def routed_to(self, logical_id: str) -> Iterator[tuple[str, Acknowledgement]]:
        """Every acknowledgement ION routed to our logical id, with the document id it carries."""
        query = f"(document_name eq '{ACKNOWLEDGE}') and (document_sent_to eq '{_quiet(logical_id)}')"
        for row in self.search(query):
            ack = self.acknowledgement(str(row.get("message_id", "")))
            if ack is not None:
                yield str(row.get("document_id", "")), ack


def _unavailable(what: str, response: httpx.Response, clock: Clock) -> ConnectorUnavailable:
    """A read ION refuses is never the journal's fault: unavailable (with ION's words)."""
    refused = failure(response, now=clock.now)
    if isinstance(refused, ConnectorUnavailable):
        return refused
    return ConnectorUnavailable(f"ION refused the {what} ({response.status_code}): {detail(response)}")
