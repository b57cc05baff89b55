"""A real HTTP ERP for the REST connector's tests, with faults on command.

It speaks the protocol of ``revbridge.connectors.rest`` with its default settings:
- ``POST /oauth/token`` (client credentials, HTTP Basic or form) -> ``{access_token, expires_in}``;
- ``POST /journals`` with a Bearer token, an ``Idempotency-Key`` and the default payload ->
  ``201 {"id", "externalId"}``; the body must balance per currency or it is refused with 422;
- ``GET /journals?externalId=...`` -> ``200 {"id", "externalId"}`` or 404.

Faults, queued with ``fail_next``: ``429`` (with Retry-After), ``500``, ``503``, ``reject`` (422),
``drop_after_commit`` (the document is stored, then the connection is closed with no answer).
``go_down()``/``come_up()`` close and reopen the listening socket on the same port (clients get
connection refused) and cut open keep-alive connections. With ``enforce_idempotency=False`` a
second POST of the same key creates a second document, as most ERPs do, so a test can count
duplicates. With ``asynchronous=True`` the ERP answers 202 (accepted, working) and lookups show the
document's ``status`` (``working`` until ``finish`` makes it ``posted`` or ``rejected`` with a
message). Every request is recorded with its arrival time (``time.monotonic``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    at: float
    method: str
    path: str
    status: int  # 0: no answer (dropped or down)
    key: str = ""


@dataclass
class Fault:
    kind: str  # 429 | 500 | 503 | reject | drop_after_commit
    retry_after: str | None = None
    on: str = "POST"  # the method it applies to


@dataclass
class Document:
    id: str
    external_id: str
    body: dict[str, Any] = field(repr=False)
    status: str = "posted"  # working | posted | rejected (asynchronous mode)
    message: str = ""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads, so no socket outlives it
    block_on_close = True
    allow_reuse_address = True
    erp: FaultyErp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.erp._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.erp._untrack(self.connection)

    def _reply(self, status: int, body: object | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, default=str).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        self.server.erp._handle(self, "POST")

    def do_GET(self) -> None:
        self.server.erp._handle(self, "GET")


class FaultyErp:
    def __init__(
        self,
        *,
        client_id: str = "revbridge",
        client_secret: str = "s3cret",
        token_lifetime: int = 3600,
        enforce_idempotency: bool = True,
        asynchronous: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self.asynchronous = asynchronous
        self.host = host
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.enforce_idempotency = enforce_idempotency
        self._lock = threading.Lock()
        self.documents: list[Document] = []
        self._by_key: dict[str, Document] = {}
        self.requests: list[Request] = []
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._faults: deque[Fault] = deque()
        self._connections: set[socket.socket] = set()
        self.down = False
        self.port = _free_port(host)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.come_up()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- control -----------------------------------------------------------------------------------

    def fail_next(
        self, kind: str, count: int = 1, *, retry_after: str | None = None, on: str = "POST"
    ) -> None:
        with self._lock:
            self._faults.extend(Fault(kind, retry_after, on) for _ in range(count))

    def finish(self, external_id: str, status: str = "posted", message: str = "") -> None:
        """End an asynchronous document's work: ``posted`` or ``rejected`` with the ERP's message."""
        with self._lock:
            document = self._by_key[external_id]
            document.status, document.message = status, message

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def go_down(self) -> None:
        with self._lock:
            self.down = True
            server, self._server = self._server, None
            connections = list(self._connections)
        if server is not None:
            server.shutdown()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if server is not None:
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def come_up(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.erp = self
        with self._lock:
            self.down = False
            self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down_for(self, seconds: float) -> threading.Thread:
        self.go_down()
        timer = threading.Timer(seconds, self.come_up)
        timer.start()
        return timer

    def close(self) -> None:
        self.go_down()

    # -- what happened -----------------------------------------------------------------------------

    def journal_requests(self, method: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r for r in self.requests if r.path == "/journals" and (method is None or r.method == method)
            ]

    def posts_per_key(self) -> Counter[str]:
        return Counter(r.key for r in self.journal_requests("POST"))

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(d.external_id for d in self.documents)
        return {key: n for key, n in counts.items() if n > 1}

    # -- the protocol ------------------------------------------------------------------------------

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _record(self, at: float, method: str, path: str, status: int, key: str = "") -> None:
        with self._lock:
            self.requests.append(Request(at, method, path, status, key))

    def _handle(self, h: _Handler, method: str) -> None:
        at = time.monotonic()
        url = urlsplit(h.path)
        body = h._body()
        if self.down:
            self._record(at, method, url.path, 0)
            h._drop()
            return
        if method == "POST" and url.path == "/oauth/token":
            self._token(h, body, at)
            return
        if url.path != "/journals":
            self._record(at, method, url.path, 404)
            h._reply(404, {"error": "not found"})
            return
        if not self._authorised(h):
            self._record(at, method, url.path, 401)
            h._reply(401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"})
            return
        key = h.headers.get("Idempotency-Key", "")
        with self._lock:
            fault = self._faults.popleft() if self._faults and self._faults[0].on == method else None
        if fault is not None and fault.kind in ("429", "500", "503"):
            self._record(at, method, url.path, int(fault.kind), key)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            h._reply(int(fault.kind), {"error": f"injected {fault.kind}"}, headers)
            return
        if method == "GET":
            self._lookup(h, url.query, at)
            return
        if fault is not None and fault.kind == "reject":
            self._record(at, method, url.path, 422, key)
            h._reply(422, {"error": "account 9999 does not exist"})
            return
        self._create(h, body, key, at, drop=fault is not None and fault.kind == "drop_after_commit")

    def _token(self, h: _Handler, body: bytes, at: float) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client = (form.get("client_id"), form.get("client_secret"))
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            ident, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client = (ident, secret)
        if form.get("grant_type") != "client_credentials" or client != (self.client_id, self.client_secret):
            self._record(at, "POST", "/oauth/token", 401)
            h._reply(401, {"error": "invalid_client"})
            return
        with self._lock:
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self._tokens.add(token)
        self._record(at, "POST", "/oauth/token", 200)
        h._reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime})

    def _authorised(self, h: _Handler) -> bool:
        auth = h.headers.get("Authorization", "")
        with self._lock:
            return auth.startswith("Bearer ") and auth[7:] in self._tokens

    def _lookup(self, h: _Handler, query: str, at: float) -> None:
        external = parse_qs(query).get("externalId", [""])[0]
        with self._lock:
            found = [d for d in self.documents if d.external_id == external]
        self._record(at, "GET", "/journals", 200 if found else 404, external)
        if not found:
            h._reply(404, {"error": "no such document"})
            return
        doc = found[0]
        h._reply(200, {"id": doc.id, "externalId": external, "status": doc.status, "message": doc.message})

    def _create(self, h: _Handler, raw: bytes, key: str, at: float, *, drop: bool) -> None:
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            self._record(at, "POST", "/journals", 400, key)
            h._reply(400, {"error": "body is not JSON"})
            return
        problem = _invalid(body, key)
        if problem:
            self._record(at, "POST", "/journals", 422, key)
            h._reply(422, {"error": problem})
            return
        with self._lock:
            existing = self._by_key.get(key) if self.enforce_idempotency else None
            if existing is None:
                existing = Document(id=f"DOC-{len(self.documents) + 1:06d}", external_id=key, body=body)
                if self.asynchronous:
                    existing.status = "working"
                self.documents.append(existing)
                self._by_key.setdefault(key, existing)
                status = 202 if self.asynchronous else 201
            else:
                status = 200
        self._record(at, "POST", "/journals", 0 if drop else status, key)
        if drop:
            h._drop()
            return
        h._reply(status, {"id": existing.id, "externalId": key})


def _invalid(body: Any, key: str) -> str:
    if not isinstance(body, dict) or body.get("externalId") != key or not key:
        return "externalId must equal the Idempotency-Key"
    totals: dict[str, Decimal] = {}
    for line in body.get("lines") or []:
        debit, credit = line.get("debit"), line.get("credit")
        if not isinstance(debit, Decimal | int) or not isinstance(credit, Decimal | int):
            return "line amounts must be JSON numbers"
        totals[line["currency"]] = totals.get(line["currency"], Decimal(0)) + debit - credit
    if not totals:
        return "a journal needs lines"
    if any(total != 0 for total in totals.values()):
        return "debits and credits differ"
    return ""


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
