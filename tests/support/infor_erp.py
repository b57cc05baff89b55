"""An Infor ION API gateway with CloudSuite Financials behind it, for the ``infor_ion`` connector's
tests, over real loopback HTTP.

It speaks the protocol of ``revbridge.connectors.infor_ion`` as Infor documents it:
- ``POST /{ti}/as/token.oauth2`` (the ``.ionapi`` file's ``pu`` + ``ot``): the resource-owner
  password grant; ``client_id``/``client_secret`` must be the backend service's (else 401
  ``invalid_client``), ``username``/``password`` the service account's keys (else 400
  ``invalid_grant``). Then ``Authorization: Bearer``; an unknown or expired token is a 401.
- ``POST /{ti}/IONSERVICES/api/ion/messaging/service/v2/multipartMessage``: ``ParameterRequest``
  and ``MessagePayload`` parts; a ``fromLogicalId`` not the client's is 403, a document the
  connection point does not take 412, a payload that fails the XSD (tests/support/xsd/infor) or
  parameters that are not ION's 400; else 201 and the BOD is stored (infor_erp_oneview).
- ``GET /{ti}/IONSERVICES/oneviewapi/data`` and ``.../data/documentPayload?messageId=``: OneView.
  CloudSuite answers each BOD with an acknowledgement (infor_erp_books) some searches later.

Faults, queued with ``fail_next(kind, on=route)`` (route: ``message``, ``search``, ``payload``,
``token`` or ``any``): ``401`` (as for an expired token), ``429`` (Retry-After when given),
``500``, ``503``, ``drop_after_commit`` (done, then the connection closed unanswered), ``garbled``
(done, then a 200 HTML page), ``slow``, and hostile payloads: ``entity_expansion``,
``external_entity``, ``huge`` (50 MB). ``twice``, ``never`` and ``confirm`` make the next BODs'
answer come twice, never, or as ION's ConfirmBOD. Every request is logged (method, path, status;
0 when dropped).
"""

from __future__ import annotations

import contextlib
import email.parser
import functools
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import xmlschema
from erp_chart import Chart, reference
from infor_erp_books import Books, confirm_failure
from infor_erp_oneview import OneView

XSD = Path(__file__).parent / "xsd" / "infor"
HOSTILE = {
    "entity_expansion": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;&c;&c;&c;</r>',
    "external_entity": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
}


@functools.cache
def schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD / f"{name}.xsd"))


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    route: str
    status: int  # 0: no answer (dropped)


@dataclass
class Fault:
    kind: str
    on: str
    retry_after: str | None = None


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

    def reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.raw(status, data, "application/json", headers)

    def raw(self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
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
    erp: InforErp


class InforErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        tenant: str,
        client_id: str,
        client_secret: str,
        access_key: str,
        secret_key: str,
        logical_id: str,
        entities: dict[str, str],
        token_lifetime: int = 7200,
        ack_polls: int = 1,
        slow_seconds: float = 0.3,
    ) -> None:
        self.tenant = tenant
        self._client = (client_id, client_secret)
        self._account = (access_key, secret_key)
        self.logical_id = logical_id
        self.token_lifetime = token_lifetime
        self.slow_seconds = slow_seconds
        self.books = Books(chart or reference(), {e: le for le, e in entities.items()})
        self.oneview = OneView(self.books.process, confirm_failure, ack_polls=ack_polls)
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []  # every request body but the token endpoint's
        self.tokens: dict[str, float] = {}  # bearer token -> monotonic expiry
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.erp = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def sso_url(self) -> str:  # the .ionapi file's pu
        return f"{self.url}/{self.tenant}/as/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, kind: str, count: int = 1, *, on: str = "message", retry_after: str | None = None
    ) -> None:
        if kind in ("twice", "never", "confirm"):
            self.oneview.next_acks(kind, count)
            return
        with self._lock:
            self._faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def calls(self, route: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if route in (None, r.route)]

    # -- the protocol ------------------------------------------------------------------------------

    def _route(self, method: str, path: str) -> str:
        gateway = f"/{self.tenant}/IONSERVICES"
        routes = {
            ("POST", f"/{self.tenant}/as/token.oauth2"): "token",
            ("POST", gateway + "/api/ion/messaging/service/v2/multipartMessage"): "message",
            ("GET", gateway + "/oneviewapi/data"): "search",
            ("GET", gateway + "/oneviewapi/data/documentPayload"): "payload",
        }
        return routes.get((method, path), "unknown")

    def _log(self, method: str, path: str, route: str, status: int) -> None:
        with self._lock:
            self.requests.append(Request(method, path, route, status))

    def handle(self, h: _Handler, method: str) -> None:
        url = urlsplit(h.path)
        route = self._route(method, url.path)
        raw = h.body()
        if route == "token":
            status, body = self._token(raw)
            self._log(method, url.path, route, status)
            h.reply(status, body)
            return
        with self._lock:
            self.bodies.append(raw)
        if not self._authorised(h):
            self._log(method, url.path, route, 401)
            h.reply(
                401, {"error": "invalid_token", "error_description": "Access token is invalid or expired"}
            )
            return
        with self._lock:
            fault = self._faults.popleft() if self._faults and self._faults[0].on in (route, "any") else None
        if fault is not None and fault.kind in ("401", "429", "500", "503"):
            self._log(method, url.path, route, int(fault.kind))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            h.reply(int(fault.kind), {"message": f"injected {fault.kind}"}, headers)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        status, data, kind = self._answer(route, h, raw, query)
        if fault is not None and fault.kind in HOSTILE and route == "payload":
            data, kind = HOSTILE[fault.kind], "text/xml"
        elif fault is not None and fault.kind == "huge" and route == "payload":
            data, kind = b"<r>" + b"a" * (50 * 1024 * 1024) + b"</r>", "text/xml"
        if fault is not None and fault.kind == "drop_after_commit":
            self._log(method, url.path, route, 0)
            h.drop()
        elif fault is not None and fault.kind == "garbled":
            self._log(method, url.path, route, 200)
            h.raw(200, b"<html><body>Gateway hiccup", "text/html")
        else:
            self._log(method, url.path, route, status)
            h.raw(status, data, kind)

    def _answer(self, route: str, h: _Handler, raw: bytes, query: dict[str, str]) -> tuple[int, bytes, str]:
        if route == "message":
            status, body = self._message(h.headers.get("Content-Type", ""), raw)
            return status, json.dumps(body).encode() if body is not None else b"", "application/json"
        if route == "search":
            status, found = self.oneview.search(query)
            return status, json.dumps(found).encode(), "application/json"
        if route == "payload":
            payload = self.oneview.payload(query.get("messageId", ""))
            if payload is None:
                return 404, b'{"message": "Message not found"}', "application/json"
            return 200, payload, "text/xml"
        return 404, b'{"message": "No API found for this path"}', "application/json"

    def _message(self, content_type: str, raw: bytes) -> tuple[int, Any]:
        parts = _multipart(content_type, raw)
        try:
            parameters = json.loads(parts.get("ParameterRequest", b""))
        except ValueError:
            return 400, {"message": "ParameterRequest is not JSON"}
        payload = parts.get("MessagePayload")
        if not isinstance(parameters, dict) or payload is None:
            return 400, {"message": "ParameterRequest and MessagePayload are required"}
        if parameters.get("fromLogicalId") != self.logical_id:
            return 403, {"message": "fromLogicalId does not belong to this client"}
        if parameters.get("documentName") != "ProcessSourceSystemJournalEntry":
            return 412, {"message": f"Document {parameters.get('documentName')} is not accepted"}
        if parameters.get("encoding") != "NONE" or parameters.get("characterSet") != "UTF-8":
            return 400, {"message": "encoding NONE and characterSet UTF-8 expected"}
        errors = list(schema("ProcessSourceSystemJournalEntry").iter_errors(payload))
        if errors:
            return 400, {"message": f"The BOD does not match its schema: {errors[0].reason}"}
        self.oneview.add(
            document_name="ProcessSourceSystemJournalEntry",
            document_id=str(parameters.get("documentId", "")),
            accounting_entity=str(parameters.get("accountingEntity", "")),
            document_sent_from=self.logical_id,
            document_sent_to=str(parameters.get("toLogicalId", "")),
            payload=payload,
        )
        return 201, None

    # -- authentication ----------------------------------------------------------------------------

    def _token(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != self._client:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        if form.get("grant_type") != "password":
            return 400, {"error": "unsupported_grant_type"}
        if (form.get("username"), form.get("password")) != self._account:
            return 400, {"error": "invalid_grant", "error_description": "Invalid service account credentials"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_lifetime
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def _authorised(self, h: _Handler) -> bool:
        value = h.headers.get("Authorization", "")
        with self._lock:
            expiry = self.tokens.get(value[7:]) if value.startswith("Bearer ") else None
        return expiry is not None and time.monotonic() < expiry


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The named parts of a multipart/form-data body (empty when it is not one)."""
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    parts: dict[str, bytes] = {}
    for part in message.walk() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            body = part.get_payload(decode=True)
            parts[name] = body if isinstance(body, bytes) else b""
    return parts
