"""A Workday Web Services tenant for the connector's tests, over real loopback HTTP.

It speaks the protocol of ``revbridge.connectors.workday`` as Workday's WSDL-generated clients
and public integrations show it (tests/support/xsd/workday/README.md):
- ``POST /ccx/oauth2/{tenant}/token``: ``grant_type=refresh_token`` with the API client's id and
  secret as HTTP Basic; answers ``access_token`` (Bearer, ``token_lifetime`` seconds) or 400
  ``invalid_grant`` / 401 ``invalid_client``.
- ``POST /ccx/service/{tenant}/{service}/{version}``: a SOAP 1.1 envelope authenticated by a
  Bearer token or a WS-Security UsernameToken (``user@tenant``, ``#PasswordText``; anything else is
  a ``Client.authenticationError`` fault); the body's request is checked against bsvc.xsd (a
  ``Validation_Fault`` naming the Xpath when it fails) and answered by operation:
  ``Import_Accounting_Journal`` (Financial_Management) starts a background process and answers
  ``Put_Import_Process_Response``; ``Submit_Accounting_Journal`` validates and posts at once
  (workday_erp_books.Books), answering ``Accounting_Journal_Reference`` or a ``Validation_Fault``;
  ``Get_Journals`` by ``Journal_Number`` or by accounting dates and journal source, paged;
  ``Get_Import_Processes`` and ``Get_Import_Process_Messages`` (Integrations) read a process.

Faults, queued with ``fail_next(kind, on=operation or "any")``: ``429`` (Retry-After when given),
``500``, ``503``, ``drop_after_commit`` (done, then the connection closed without an answer),
``slow`` (answers after ``slow_seconds``), ``garbled`` (done, then a 200 HTML answer), ``never``
(the next import process never ends), and hostile answers ``entities`` (a billion laughs),
``external_entity`` and ``huge`` (a 50 MB body). Every request is logged (method, path,
operation, status; 0 when dropped).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import workday_erp_answers as answers
import workday_erp_ops as ops
from erp_chart import Chart, reference
from workday_erp_books import Books

from revbridge.connectors import xmldoc

TENANT = "mercy_health1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = "#PasswordText"
SERVICES = {
    "Import_Accounting_Journal_Request": "Financial_Management",
    "Submit_Accounting_Journal_Request": "Financial_Management",
    "Get_Journals_Request": "Financial_Management",
    "Get_Import_Processes_Request": "Integrations",
    "Get_Import_Process_Messages_Request": "Integrations",
}
HOSTILE = ("entities", "external_entity", "huge")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    operation: str  # the request element's name without _Request; "token" for the token endpoint
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

    def finish(self) -> None:  # the client may have hung up on a hostile answer: nothing to flush
        with contextlib.suppress(OSError):
            super().finish()

    def do_POST(self) -> None:
        self.server.erp.handle(self)

    def do_GET(self) -> None:
        self.raw(405, b"", "text/plain")

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def raw(self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def stream(self, chunks: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with contextlib.suppress(OSError):
            for chunk in chunks:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    erp: WorkdayErp


class WorkdayErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        tenant: str = TENANT,
        username: str = "ISU_revbridge",
        password: str = "Wd-pass-SECRET-5521",
        client_id: str = "NjE4ZTdhYjEtY2xpZW50",
        client_secret: str = "wd-client-SECRET-7788",
        refresh_token: str = "wd-refresh-SECRET-3141",
        token_lifetime: int = 3600,
        import_polls: int = 1,
        slow_seconds: float = 0.3,
    ) -> None:
        self.books = Books(chart or reference(), import_polls=import_polls)
        self.tenant, self.username, self.password = tenant, username, password
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.token_lifetime = token_lifetime
        self.slow_seconds = slow_seconds
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []  # every request body but the token endpoint's
        self.tokens: dict[str, float] = {}  # bearer token -> expiry (monotonic)
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
    def token_path(self) -> str:
        return f"/ccx/oauth2/{self.tenant}/token"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, kind: str, count: int = 1, *, on: str = "any", retry_after: str | None = None
    ) -> None:
        if kind == "never":
            self.books.never_next(count)
            return
        with self._lock:
            self._faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def calls(self, operation: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if operation in (None, r.operation)]

    # -- the protocol ------------------------------------------------------------------------------

    def _log(self, path: str, operation: str, status: int) -> None:
        with self._lock:
            self.requests.append(Request("POST", path, operation, status))

    def handle(self, h: _Handler) -> None:
        path = urlsplit(h.path).path
        raw = h.body()
        if path == self.token_path:
            self._token(h, raw)
            return
        with self._lock:
            self.bodies.append(raw)
        parts = path.strip("/").split("/")
        if len(parts) != 5 or parts[:2] != ["ccx", "service"] or parts[2] != self.tenant:
            self._log(path, "", 404)
            h.raw(404, b"Not Found", "text/plain")
            return
        try:
            envelope = xmldoc.parse(raw)
        except xmldoc.UnsafeXml as exc:
            self._answer(
                h, path, "", 500, answers.plain_fault("SOAP-ENV:Client", f"Unparseable request: {exc}")
            )
            return
        body = xmldoc.find(envelope, "Body")
        request = next(iter(body), None) if body is not None else None
        name = xmldoc.local(request.tag) if request is not None else ""
        operation = name.removesuffix("_Request")
        refusal = self._unauthorised(h, envelope)
        if refusal:
            fault = answers.plain_fault("SOAP-ENV:Client.authenticationError", "invalid username or password")
            self._answer(h, path, operation, 401 if refusal == "bearer" else 500, fault)
            return
        self._operate(h, path, parts[3], name, request, operation)

    def _operate(self, h: _Handler, path: str, service: str, name: str, request: Any, operation: str) -> None:
        with self._lock:
            fault = None
            if self._faults and self._faults[0].on in ("any", operation):
                fault = self._faults.popleft()
        if fault is not None and fault.kind in ("429", "500", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = "SOAP-ENV:Server" if fault.kind != "429" else "SOAP-ENV:Client"
            self._answer(h, path, operation, int(fault.kind), answers.plain_fault(code, "injected"), headers)
            return
        if fault is not None and fault.kind in HOSTILE:
            self._log(path, operation, 200)
            if fault.kind == "huge":
                h.stream(answers.huge_chunks())
            else:
                data = answers.BILLION_LAUGHS if fault.kind == "entities" else answers.EXTERNAL_ENTITY
                h.raw(200, data, "text/xml; charset=utf-8")
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        status, data = self._dispatch(service, name, request)
        if fault is not None and fault.kind == "drop_after_commit":
            self._log(path, operation, 0)
            h.drop()
        elif fault is not None and fault.kind == "garbled":
            self._log(path, operation, 200)
            h.raw(200, b"<html><body>Gateway hiccup", "text/html")
        else:
            self._answer(h, path, operation, status, data)

    def _dispatch(self, service: str, name: str, request: Any) -> tuple[int, bytes]:
        if SERVICES.get(name) != service:
            message = f"The request {name or 'body'} is not an operation of the {service} web service."
            return 500, answers.plain_fault("SOAP-ENV:Client", message)
        errors = answers.schema_errors(request, name)
        if errors:
            return 500, answers.validation_fault(errors)
        return ops.answer(self.books, name, request)

    def _answer(
        self,
        h: _Handler,
        path: str,
        operation: str,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._log(path, operation, status)
        h.raw(status, data, "text/xml; charset=utf-8", headers)

    # -- authentication ----------------------------------------------------------------------------

    def _unauthorised(self, h: _Handler, envelope: Any) -> str:
        """ "" when the request is authenticated; else what was wrong ("bearer" or "wsse")."""
        authorization = h.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            with self._lock:
                expiry = self.tokens.get(authorization[7:])
            return "" if expiry is not None and time.monotonic() < expiry else "bearer"
        token = xmldoc.find(envelope, "Header", "Security", "UsernameToken")
        if token is None:
            return "wsse"
        password = xmldoc.find(token, "Password")
        kind = password.get("Type", "") if password is not None else ""
        given = (xmldoc.text(token, "Username"), xmldoc.text(token, "Password"))
        wanted = (f"{self.username}@{self.tenant}", self.password)
        return "" if given == wanted and kind.endswith(PASSWORD_TEXT) else "wsse"

    def _token(self, h: _Handler, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        basic = h.headers.get("Authorization", "")
        client = ""
        if basic.startswith("Basic "):
            with contextlib.suppress(ValueError):
                client = base64.b64decode(basic[6:]).decode()
        if client != f"{self.client_id}:{self.client_secret}":
            status, body = 401, {"error": "invalid_client"}
        elif form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            status, body = 400, {"error": "invalid_grant"}
        else:
            token = secrets.token_urlsafe(24)
            with self._lock:
                self.tokens[token] = time.monotonic() + self.token_lifetime
            status = 200
            body = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        self._log(self.token_path, "token", status)
        h.raw(status, json.dumps(body).encode(), "application/json")
