"""A real HTTP Business Central (API v2.0) for the connector's tests, with faults on command.

It serves, on 127.0.0.1, one tenant and environment:
- ``POST /{tenant}/oauth2/v2.0/token``: Entra client credentials (form or HTTP Basic), the scope
  must be ``https://api.businesscentral.dynamics.com/.default``; tokens expire after
  ``token_lifetime`` seconds; a wrong secret is 401 ``invalid_client`` (AADSTS7000215);
- under ``/v2.0/{tenant}/{environment}/api/v2.0/``: ``companies``, ``companies({id})/journals``
  (create, list with ``$filter``/``$expand=journalLines``, delete), ``.../journalLines``,
  ``.../journalLines({id})/dimensionSetLines``, ``.../Microsoft.NAV.post`` (204),
  ``companies({id})/generalLedgerEntries`` and the JSON ``$batch`` (``requests`` with id, method,
  url, headers, body; all or nothing under ``Isolation: snapshot``; more than 100 operations 400).
The rules BC enforces live in bc_erp_ledger.py. A bad or expired token is 401; ``rate_limit`` (n
requests per window seconds) answers 429 with Retry-After beyond it; ``page_size`` is BC's
server-driven page size for ``generalLedgerEntries`` (20,000 online; small to test paging).

Faults, queued with ``fail_next(kind, on=...)`` (``on``: the resource named last in the path, e.g.
``$batch``, ``Microsoft.NAV.post``, ``journals``, or ``any``): ``429``, ``500``, ``503``,
``drop_after_commit`` (done and stored, then the socket closed with no answer), ``slow`` (answers
after ``slow_seconds``), ``garbled`` (done, then a body that is not JSON). Every request is logged
(method, path, resource, status, body) so tests count calls and search bodies.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bc_erp_api import batch, route
from bc_erp_ledger import BcError, Ledger
from erp_chart import Chart, reference

SCOPE = "https://api.businesscentral.dynamics.com/.default"


@dataclass(frozen=True)
class Request:
    at: float
    method: str
    path: str
    resource: str  # companies | journals | journalLines | dimensionSetLines | Microsoft.NAV.post | ...
    status: int  # 0: no answer (dropped)
    body: bytes = b""


@dataclass
class Fault:
    kind: str
    on: str
    retry_after: str | None


def _dumps(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    erp: BcErp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> None:
        data = raw if raw is not None else (_dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; odata.metadata=minimal")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self.server.erp._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.erp._handle(self, "POST")

    def do_DELETE(self) -> None:
        self.server.erp._handle(self, "DELETE")


class BcErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        tenant: str = "contoso.onmicrosoft.com",
        environment: str = "production",
        client_id: str = "revbridge-app",
        client_secret: str = "bc-s3cret",
        token_lifetime: float = 3600,
        rate_limit: tuple[int, float] | None = None,
        slow_seconds: float = 0.5,
        page_size: int = 20000,
    ) -> None:
        self.tenant, self.environment = tenant, environment
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.slow_seconds = slow_seconds
        self.ledger = Ledger(chart or reference(), page_size=page_size)
        self.requests: list[Request] = []
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self._hits: deque[float] = deque()
        self._faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self.prefix = f"/v2.0/{tenant}/{environment}/api/v2.0/"
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.erp = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/{self.tenant}/oauth2/v2.0/token"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- control -----------------------------------------------------------------------------------

    def fail_next(
        self, kind: str, count: int = 1, *, on: str = "any", retry_after: str | None = None
    ) -> None:
        with self._lock:
            self._faults.extend(Fault(kind, on, retry_after) for _ in range(count))

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- what it holds -----------------------------------------------------------------------------

    def company_id(self, name: str) -> str:
        return next(c.id for c in self.ledger.companies.values() if c.name == name)

    def entries(self, company: str = "MHN") -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.ledger.companies[self.company_id(company)].entries]

    def balances(self, company: str = "MHN") -> dict[str, Decimal]:
        """Net (debit positive) per account over the posted G/L entries."""
        nets: dict[str, Decimal] = {}
        for e in self.entries(company):
            nets[e["accountNumber"]] = (
                nets.get(e["accountNumber"], Decimal(0)) + e["debitAmount"] - e["creditAmount"]
            )
        return {a: n for a, n in nets.items() if n != 0}

    def documents(self, company: str = "MHN") -> dict[str, int]:
        """Posted G/L entries per document number (a second posting doubles the count)."""
        counts: dict[str, int] = {}
        for e in self.entries(company):
            counts[e["documentNumber"]] = counts.get(e["documentNumber"], 0) + 1
        return counts

    def unposted(self, company: str = "MHN") -> list[dict[str, Any]]:
        with self._lock:
            batches = self.ledger.companies[self.company_id(company)].batches.values()
            return [dict(line) for b in batches for line in b.lines.values()]

    def batches(self, company: str = "MHN") -> list[str]:
        with self._lock:
            return [b.code for b in self.ledger.companies[self.company_id(company)].batches.values()]

    def calls(self, resource: str | None = None, method: str | None = None) -> list[Request]:
        """API requests (not the token endpoint), by resource and method."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.resource != "token" and resource in (None, r.resource) and method in (None, r.method)
            ]

    # -- HTTP --------------------------------------------------------------------------------------

    def _record(self, at: float, method: str, path: str, resource: str, status: int, body: bytes) -> None:
        with self._lock:
            self.requests.append(Request(at, method, path, resource, status, body))

    def _handle(self, h: _Handler, method: str) -> None:
        at = time.monotonic()
        url = urlsplit(h.path)
        path = unquote(url.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            self._token(h, raw, at)
            return
        rest = path[len(self.prefix) :] if path.startswith(self.prefix) else None
        resource = _resource(rest or path)
        if rest is None:
            self._record(at, method, path, resource, 404, raw)
            h.reply(
                404, {"error": {"code": "BadRequest_NotFound", "message": "No resource at this address."}}
            )
            return
        refused = self._gate(h, resource)
        if refused is not None:
            status, body, headers = refused
            self._record(at, method, path, resource, status, raw)
            h.reply(status, body, headers)
            return
        fault = self._fault(resource)
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        status, body = self._answer(method, rest, url.query, raw, h.headers.get("Isolation", ""))
        self._record(
            at, method, path, resource, 0 if fault and fault.kind == "drop_after_commit" else status, raw
        )
        if fault is not None and fault.kind == "drop_after_commit":
            h.drop()
        elif fault is not None and fault.kind == "garbled":
            h.reply(status if status != 204 else 200, raw=b"<html><body>Service error \x00\xff")
        else:
            h.reply(status, body)

    def _gate(self, h: _Handler, resource: str) -> tuple[int, Any, dict[str, str]] | None:
        """401 for a bad or expired token, 429 over the rate limit, injected 429/500/503."""
        auth = h.headers.get("Authorization", "")
        now = time.monotonic()
        with self._lock:
            valid = auth.startswith("Bearer ") and self._tokens.get(auth[7:], 0.0) > now
        if not valid:
            body = {
                "error": {
                    "code": "Authentication_InvalidCredentials",
                    "message": "The server has rejected the client credentials.",
                }
            }
            return 401, body, {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'}
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            with self._lock:
                while self._hits and self._hits[0] <= now - window:
                    self._hits.popleft()
                if len(self._hits) >= limit:
                    wait = math.ceil(window - (now - self._hits[0]))
                    return 429, _too_many(), {"Retry-After": str(max(1, wait))}
                self._hits.append(now)
        with self._lock:
            head = self._faults[0] if self._faults else None
            if head is None or head.kind not in ("429", "500", "503") or head.on not in ("any", resource):
                return None
            self._faults.popleft()
        headers = {"Retry-After": head.retry_after} if head.retry_after else {}
        if head.kind == "429":
            return 429, _too_many(), headers
        return (
            int(head.kind),
            {"error": {"code": "Internal_ServerError", "message": "injected failure"}},
            headers,
        )

    def _fault(self, resource: str) -> Fault | None:
        with self._lock:
            head = self._faults[0] if self._faults else None
            if (
                head is not None
                and head.kind in ("drop_after_commit", "slow", "garbled")
                and head.on in ("any", resource)
            ):
                return self._faults.popleft()
        return None

    def _token(self, h: _Handler, raw: bytes, at: float) -> None:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        client = (form.get("client_id"), form.get("client_secret"))
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            ident, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client = (ident, secret)
        path = f"/{self.tenant}/oauth2/v2.0/token"
        if form.get("grant_type") != "client_credentials" or client != (self.client_id, self.client_secret):
            self._record(at, "POST", path, "token", 401, b"")
            h.reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
            return
        if form.get("scope") != SCOPE:
            self._record(at, "POST", path, "token", 400, b"")
            h.reply(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "AADSTS1002012: The provided value "
                    "for scope is not valid. Client credential flows must have a scope value with /.default.",
                },
            )
            return
        with self._lock:
            self.tokens_issued += 1
            token = f"eyJ0eXAi.{uuid.uuid4().hex}"
            self._tokens[token] = time.monotonic() + self.token_lifetime
        self._record(at, "POST", path, "token", 200, b"")
        h.reply(200, {"token_type": "Bearer", "expires_in": int(self.token_lifetime), "access_token": token})

    # -- the API -----------------------------------------------------------------------------------

    def _answer(self, method: str, rest: str, query: str, raw: bytes, isolation: str) -> tuple[int, Any]:
        try:
            body = json.loads(raw, parse_float=Decimal) if raw.strip() else {}
        except ValueError:
            return 400, BcError(400, "BadRequest", "The request body is not valid JSON.").body()
        with self._lock:
            if rest == "$batch" and method == "POST":
                return batch(self.ledger, body, atomic=isolation.lower() == "snapshot")
            try:
                status, answer = route(self.ledger, method, rest, query, body)
            except BcError as error:
                return error.status, error.body()
        if isinstance(answer, dict) and "@odata.nextLink" in answer:  # BC's next links are absolute
            answer["@odata.nextLink"] = self.url + self.prefix + answer["@odata.nextLink"]
        return status, answer


def _resource(path: str) -> str:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last.split("(", 1)[0]


def _too_many() -> dict[str, Any]:
    return {
        "error": {
            "code": "Application_TooManyRequests",
            "message": "Too many requests reached. Actual (6001). Maximum (6000).",
        }
    }
