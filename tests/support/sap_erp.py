"""An SAP S/4HANA system for the connector's tests, over real loopback HTTP.

It speaks Journal Entry - Post as SAP documents it (revbridge.connectors.sap_s4hana):
- HTTP basic authentication with the communication user, or a bearer token from
  ``POST /sap/bc/sec/oauth2/token`` (client credentials grant, the client's id and secret as basic
  authentication: SAP's OAuth 2.0 server on ABAP); anything else is 401 with
  ``WWW-Authenticate: Basic realm="SAP NetWeaver Application Server"``.
- ``POST`` of a SOAP 1.1 envelope to ``JournalEntryBulkCreationRequest_In`` (asynchronous): the
  body is validated against the schema (tests/support/xsd/sap); a violation, a wrong SOAPAction
  or no envelope is a ``soap-env:Client`` fault (500). Otherwise every entry is judged and posted
  at once (sap_erp_books.Books: posted in the 0L ledger, readable) and the answer is 202 with an
  empty body; the ``JournalEntryBulkCreateConfirmation`` is POSTed LATER, by a thread, to the
  URL ``deliver_to`` names, with basic authentication (sap_erp_confirm.Deliveries).
- ``POST`` to ``JournalEntryCreateRequestConfirmation_In`` (synchronous): the same judgement,
  answered with the confirmation at once.
- ``GET .../API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic``: the OData read
  (sap_erp_odata.py).

Faults, queued with ``fail_next(kind, count, on=method)``: ``429`` and ``503`` (Retry-After when
given), ``500`` (a ``soap-env:Server`` fault), ``drop_after_commit`` (posted, then the connection
closed), ``garbled`` (posted, then a 200 HTML page), ``slow``, the hostile answers ``entities``
(billion laughs), ``external`` (an external entity) and ``huge`` (50 MB); and for confirmations
``never`` (the next ones are never delivered) and ``twice`` (delivered two times). ``stall(True)``
withholds every confirmation until ``stall(False)``; withheld ones are never delivered.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import xmlschema
from erp_chart import Chart, reference
from sap_erp_books import Books, Outcome
from sap_erp_confirm import Deliveries, confirmation
from sap_erp_odata import ODataError, query

from revbridge.connectors import xmldoc
from revbridge.connectors.sap_s4hana_soap import ACTION, NS, SYNC_ACTION

XSD = Path(__file__).resolve().parent / "xsd" / "sap" / "JournalEntryBulkCreate.xsd"
ASYNC_PATH = "/sap/bc/srt/scs_ext/sap/journalentrybulkcreationrequest_in"
SYNC_PATH = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
READ_PATH = "/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV/A_JournalEntryItemBasic"
TOKEN_PATH = "/sap/bc/sec/oauth2/token"
HOSTILE = {
    "entities": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
    b'&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>',
    "external": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    "huge": b"<r>" + b"x" * (50 * 1024 * 1024) + b"</r>",
}
_SCHEMA: list[xmlschema.XMLSchema] = []


def schema() -> xmlschema.XMLSchema:
    """The Journal Entry - Post schema (loaded once)."""
    if not _SCHEMA:
        _SCHEMA.append(xmlschema.XMLSchema(str(XSD)))
    return _SCHEMA[0]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int  # 0: no answer (dropped)


@dataclass
class Fault:
    kind: str
    on: str
    retry_after: str | None = None


def soap_fault(code: str, words: str) -> bytes:
    fault = xmldoc.element(f"{{{xmldoc.SOAP11}}}Fault")
    xmldoc.subs(fault, "", [("faultcode", f"soap-env:{code}"), ("faultstring", words)])
    return xmldoc.envelope(fault)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.erp.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.erp.handle(self, "POST")

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def raw(self, status: int, data: bytes, kind: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    erp: SapErp


class SapErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        company_codes: Mapping[str, str] | None = None,
        segments: frozenset[str] = frozenset(),
        check_duplicates: bool = True,
        username: str = "CC_REVBRIDGE",
        password: str = "Sap-Comm-Pass-4471",
        client_id: str = "REVBRIDGE_OAUTH",
        client_secret: str = "Sap-Client-Secret-9120",
        delay: float = 0.02,
        slow_seconds: float = 0.3,
        page_size: int = 100,
    ) -> None:
        chart = chart or reference()
        codes = company_codes or {e: f"{1010 + 10 * n}" for n, e in enumerate(sorted(chart.legal_entities))}
        self.books = Books(chart, company_codes=codes, segments=segments, check_duplicates=check_duplicates)
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens: set[str] = set()
        self.deliveries = Deliveries(delay=delay)
        self.slow_seconds, self.page_size = slow_seconds, page_size
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.erp = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self.deliveries.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, kind: str, count: int = 1, *, on: str = "POST", retry_after: str | None = None
    ) -> None:
        if kind in ("never", "twice"):
            self.deliveries.fault_next(kind, count)
            return
        with self._lock:
            self._faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    def stall(self, on: bool) -> None:
        self.deliveries.stall(on)

    def deliver_to(self, url: str, username: str, password: str) -> None:
        self.deliveries.target(url, username, password)

    def run_jobs(self) -> None:
        """Deliver the confirmations waiting now, without the delay."""
        self.deliveries.flush()

    def documents(self, reference_id: str, header_text: str) -> int:
        return self.books.documents_for(reference_id, header_text)

    # -- the protocol ------------------------------------------------------------------------------

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append(Request(method, path, status))

    def handle(self, h: _Handler, method: str) -> None:
        url = urlsplit(h.path)
        path = unquote(url.path)
        raw = h.body()
        with self._lock:
            self.bodies.append(raw)
        if method == "POST" and path == TOKEN_PATH:
            status, data = self._token(h, raw)
            self._log(method, path, status)
            h.raw(status, data, "application/json")
            return
        if not self._authorised(h):
            self._log(method, path, 401)
            h.raw(
                401,
                b"Logon failed",
                "text/html",
                {"WWW-Authenticate": 'Basic realm="SAP NetWeaver Application Server"'},
            )
            return
        with self._lock:
            fault = self._faults.popleft() if self._faults and self._faults[0].on == method else None
        if fault is not None and fault.kind in ("429", "503"):
            self._log(method, path, int(fault.kind))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            h.raw(int(fault.kind), b"Service unavailable", "text/html", headers)
            return
        if fault is not None and fault.kind == "500":
            self._log(method, path, 500)
            h.raw(
                500, soap_fault("Server", "Web service processing error"), xmldoc.CONTENT_TYPES[xmldoc.SOAP11]
            )
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        status, data, kind = self._answer(h, method, path, url.query, raw)
        self._finish(h, method, path, fault, (status, data, kind))

    def _finish(
        self, h: _Handler, method: str, path: str, fault: Fault | None, answer: tuple[int, bytes, str]
    ) -> None:
        status, data, kind = answer
        if fault is not None and fault.kind == "drop_after_commit":
            self._log(method, path, 0)
            h.drop()
        elif fault is not None and fault.kind == "garbled":
            self._log(method, path, 200)
            h.raw(200, b"<html><body>Gateway hiccup", "text/html")
        elif fault is not None and fault.kind in HOSTILE:
            self._log(method, path, 200)
            h.raw(200, HOSTILE[fault.kind], "text/xml")
        else:
            self._log(method, path, status)
            h.raw(status, data, kind)

    def _credentials(self, h: _Handler) -> tuple[str, str]:
        header = h.headers.get("Authorization", "")
        if header.startswith("Basic "):
            with contextlib.suppress(ValueError):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user, password
        return "", ""

    def _token(self, h: _Handler, raw: bytes) -> tuple[int, bytes]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, json.dumps({"error": "unsupported_grant_type"}).encode()
        if self._credentials(h) != (self.client_id, self.client_secret):
            return 401, json.dumps({"error": "invalid_client"}).encode()
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()
        with self._lock:
            self.tokens.add(token)
        return 200, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode()

    def _authorised(self, h: _Handler) -> bool:
        header = h.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            with self._lock:
                return header[7:] in self.tokens
        if not header.startswith("Basic "):
            return False
        with contextlib.suppress(ValueError):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user == self.username and password == self.password
        return False

    def _answer(
        self, h: _Handler, method: str, path: str, query_text: str, raw: bytes
    ) -> tuple[int, bytes, str]:
        soap = xmldoc.CONTENT_TYPES[xmldoc.SOAP11]
        if method == "POST" and path in (ASYNC_PATH, SYNC_PATH):
            synchronous = path == SYNC_PATH
            action = h.headers.get("SOAPAction", "").strip('"')
            if action != (SYNC_ACTION if synchronous else ACTION):
                return (
                    500,
                    soap_fault("Client", f"SOAPAction {action!r} is not an operation of this service"),
                    soap,
                )
            problem, request = self._validated(raw)
            if request is None:
                return 500, soap_fault("Client", problem), soap
            document = confirmation(self._post(request), xmldoc.text(request, "MessageHeader", "ID"))
            if synchronous:
                return 200, document, soap
            self.deliveries.queue(document)
            return 202, b"", "text/plain"
        if method == "GET" and path == READ_PATH:
            params = {k: v[0] for k, v in parse_qs(query_text).items()}
            try:
                answer = query(self.books.rows(), params, self.url + READ_PATH, self.page_size)
            except ODataError as exc:
                body = {
                    "error": {"code": "/IWBEP/CM_MGW_RT/020", "message": {"lang": "en", "value": str(exc)}}
                }
                return 400, json.dumps(body).encode(), "application/json"
            return 200, json.dumps({"d": answer}).encode(), "application/json"
        return 404, b"Service cannot be reached", "text/html"

    def _validated(self, raw: bytes) -> tuple[str, xmldoc.Element | None]:
        try:
            root = xmldoc.parse(raw)
        except xmldoc.UnsafeXml as exc:
            return f"XML parser error: {exc}", None
        request = xmldoc.find(root, "Body", "JournalEntryBulkCreateRequest")
        if xmldoc.local(root.tag) != "Envelope" or request is None or not request.tag.startswith(f"{{{NS}}}"):
            return "No JournalEntryBulkCreateRequest in a SOAP envelope", None
        errors = list(schema().iter_errors(request))
        if errors:
            return f"Schema validation failed: {errors[0].reason}", None
        return "", request

    def _post(self, request: xmldoc.Element) -> list[Outcome]:
        outcomes = []
        for each in (e for e in request if xmldoc.local(e.tag) == "JournalEntryCreateRequest"):
            entry = xmldoc.find(each, "JournalEntry")
            assert entry is not None
            outcomes.append(self.books.post(xmldoc.text(each, "MessageHeader", "ID"), entry))
        return outcomes
