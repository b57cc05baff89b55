"""A NetSuite REST web services ERP for the connector's tests, over real loopback HTTP.

It speaks the protocol of ``revbridge.connectors.netsuite`` as NetSuite documents it:
- ``POST /services/rest/auth/oauth2/v1/token``: client credentials with a JWT client assertion
  (netsuite_erp_auth.M2mIssuer); then ``Authorization: Bearer``. Or token-based authentication:
  every request signed OAuth 1.0a HMAC-SHA256 with the account id as realm (TbaVerifier). Anything
  else is 401 ``INVALID_LOGIN``.
- ``PUT /services/rest/record/v1/journalentry/eid:{externalId}``: upsert, 204 with ``Location``;
  refused per netsuite_erp_books.Books with 400 and NetSuite's error document.
- With ``Prefer: respond-async``: 202 and ``Location: /services/rest/async/v1/job/{id}``; a repeated
  ``X-NetSuite-Idempotency-Key`` is 400 ``IDEMPOTENCY_ERROR`` with the earlier job's Location. A job
  completes after ``job_polls`` reads of it (never, after ``fail_next("never")``); then its task
  and the task's result (204 + record Location, or 400 with the error document) can be read.
- ``GET .../journalentry/eid:{externalId}`` or ``.../journalentry/{internal id}``
  (``expandSubResources=true`` for lines): 200 or 404.
- ``POST /services/rest/query/v1/suiteql``: the query ``held`` sends, paged (netsuite_erp_query).
- More than ``concurrency_limit`` requests in flight: 429 ``CONCURRENCY_LIMIT_EXCEEDED``.

Faults, queued with ``fail_next(kind, on=method)``: ``429`` (Retry-After when given), ``500``,
``503``, ``drop_after_commit`` (stored, then the connection closed without an answer), ``slow``
(answers after ``slow_seconds``), ``garbled`` (done, then a 200 HTML answer), ``never`` (the next
async job never completes). Every request is logged (method, path, status; 0 when dropped).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from erp_chart import Chart, reference
from netsuite_erp_auth import M2mIssuer, TbaVerifier
from netsuite_erp_books import Books, detail, error_document
from netsuite_erp_jobs import Jobs
from netsuite_erp_query import SUITEQL, suiteql

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
RECORD = "/services/rest/record/v1/journalentry/"
JOBS = "/services/rest/async/v1/job/"
INVALID_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


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

    def do_PUT(self) -> None:
        self.server.erp.handle(self, "PUT")

    def do_POST(self) -> None:
        self.server.erp.handle(self, "POST")

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body, default=str).encode() if body is not None else b""
        self.raw(status, data, "application/json", headers)

    def raw(self, status: int, data: bytes, kind: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    erp: NetsuiteErp


class NetsuiteErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        tba: TbaVerifier | None = None,
        m2m: M2mIssuer | None = None,
        account_ids: Mapping[str, str] | None = None,
        job_polls: int = 1,
        concurrency_limit: int = 5,
        slow_seconds: float = 0.3,
    ) -> None:
        self.books = Books(chart or reference(), account_ids=account_ids)
        self.jobs = Jobs(self.books, job_polls=job_polls)
        self.tba = tba
        self.m2m = m2m
        self.concurrency_limit = concurrency_limit
        self.slow_seconds = slow_seconds
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []  # every request body, to look for what must never be sent
        self.auth_refusals: list[str] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.erp = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def fail_next(
        self, kind: str, count: int = 1, *, on: str = "PUT", retry_after: str | None = None
    ) -> None:
        if kind == "never":
            self.jobs.never_next(count)
            return
        with self._lock:
            self._faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    # -- what happened -----------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def calls(self, method: str | None = None, prefix: str = "/services/rest/") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix) and method in (None, r.method)]

    def record_calls(self) -> list[Request]:
        """Requests to the record and async services: what NetSuite counts against its limits."""
        return [r for r in self.calls() if r.path != TOKEN_PATH]

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
            self._in_flight += 1
            busy = self._in_flight > self.concurrency_limit
        try:
            if busy:
                self._log(method, path, 429)
                detail_ = detail(
                    "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked."
                )
                h.reply(429, error_document(429, "Too Many Requests", [detail_]))
                return
            self._route(h, method, path, parse_qs(url.query), raw)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _route(self, h: _Handler, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        if method == "POST" and path == TOKEN_PATH:
            self._token(h, raw)
            return
        refusal = self._unauthorised(h, method)
        if refusal:
            with self._lock:
                self.auth_refusals.append(refusal)
            self._log(method, path, 401)
            h.reply(401, error_document(401, "Unauthorized", [detail("INVALID_LOGIN", INVALID_LOGIN)]))
            return
        with self._lock:
            fault = self._faults.popleft() if self._faults and self._faults[0].on == method else None
        if fault is not None and fault.kind in ("429", "500", "503"):
            self._log(method, path, int(fault.kind))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            h.reply(int(fault.kind), error_document(int(fault.kind), "injected", []), headers)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        status, body, headers = self._answer(h, method, path, query, raw)
        if fault is not None and fault.kind == "drop_after_commit":
            self._log(method, path, 0)
            h.drop()
        elif fault is not None and fault.kind == "garbled":
            self._log(method, path, 200)
            h.raw(200, b"<html><body>Gateway hiccup", "text/html")
        else:
            self._log(method, path, status)
            h.reply(status, body, headers)

    def _answer(
        self, h: _Handler, method: str, path: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path.startswith(RECORD + "eid:") and method == "PUT":
            return self._upsert(h, path[len(RECORD) + 4 :], raw)
        if path.startswith(RECORD + "eid:") and method == "GET":
            record = self.books.find(path[len(RECORD) + 4 :])
            if record is None:
                detail_ = detail("NONEXISTENT_ID", "The record instance does not exist.")
                return 404, error_document(404, "Record not found", [detail_]), {}
            expand = query.get("expandSubResources", [""])[0] == "true"
            return 200, self.books.as_json(record, self.url, expand=expand), {}
        if path.startswith(RECORD) and path[len(RECORD) :].isdigit() and method == "GET":
            record = self.books.by_id(path[len(RECORD) :])
            if record is None:
                detail_ = detail("NONEXISTENT_ID", "The record instance does not exist.")
                return 404, error_document(404, "Record not found", [detail_]), {}
            expand = query.get("expandSubResources", [""])[0] == "true"
            return 200, self.books.as_json(record, self.url, expand=expand), {}
        if path == SUITEQL and method == "POST":
            status, body = suiteql(self.books, self.url, h.headers.get("Prefer", ""), raw, query)
            return status, body, {}
        if path.startswith(JOBS) and method == "GET":
            return self.jobs.read(path[len(JOBS) :], self.url)
        return 404, error_document(404, "Not Found", [detail("INVALID_URL", f"No resource at {path}")]), {}

    def _upsert(self, h: _Handler, external_id: str, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            return 400, error_document(400, "Bad Request", [detail("INVALID_CONTENT", "Invalid JSON.")]), {}
        if "respond-async" in h.headers.get("Prefer", ""):
            key = h.headers.get("X-NetSuite-Idempotency-Key", "")
            job, repeated = self.jobs.submit(external_id, body, key)
            location = {
                "Location": f"/services/rest/async/v1/job/{job.id}",
                "Preference-Applied": "respond-async",
            }
            if repeated:
                text = (
                    "A request with the same idempotency key is already submitted. See the Location header."
                )
                return 400, error_document(400, "Conflict", [detail("IDEMPOTENCY_ERROR", text)]), location
            return 202, None, location
        problems = self.books.problems(external_id, body)
        if problems:
            return 400, error_document(400, "Bad Request", problems), {}
        record = self.books.upsert(external_id, body)
        return 204, None, {"Location": f"{self.url}/services/rest/record/v1/journalentry/{record.id}"}

    # -- authentication ----------------------------------------------------------------------------

    def _token(self, h: _Handler, raw: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if self.m2m is None:
            status, body = 400, {"error": "unauthorized_client"}
        else:
            status, body = self.m2m.issue(form, self.url + TOKEN_PATH)
        self._log("POST", TOKEN_PATH, status)
        h.reply(status, body)

    def _unauthorised(self, h: _Handler, method: str) -> str:
        authorization = h.headers.get("Authorization", "")
        if authorization.startswith("Bearer ") and self.m2m is not None:
            return "" if self.m2m.valid(authorization[7:]) else "unknown or expired bearer token"
        if authorization.startswith("OAuth ") and self.tba is not None:
            return self.tba.refusal(method, self.url + h.path, authorization)
        return "no usable Authorization header"
