"""A fake Microsoft Dynamics 365 Finance (F&O) over real loopback HTTP, for the F&O connector.

It seeds itself from ``erp_chart.reference()`` (or a Chart given) and speaks:
- ``POST /<tenant>/oauth2/v2.0/token``: Entra client credentials (id and secret in the form, scope
  ``<url>/.default``) -> ``{access_token, expires_in}``; bad credentials 401 ``invalid_client``;
- ``POST /data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.<action>``: the DMF
  package API (fo_erp_dmf.py), bearer token required (401 otherwise);
- ``PUT``/``GET /blob/<name>?sig=..``: the SAS blob store the packages and error files live in
  (no bearer token; ``x-ms-blob-type: BlockBlob`` required on PUT);
- ``GET``/``POST /data/LedgerJournalHeaders``, ``/data/LedgerJournalLines``, ``PATCH``/``DELETE
  /data/LedgerJournalHeaders(dataAreaId='..',JournalBatchNumber='..')`` and ``POST`` of a line to
  that header's ``/JournalLines``: OData (fo_erp_ledger.py), reads paged ``page_size`` rows at a
  time with ``@odata.nextLink``;
- ``POST /data/$batch``: OData v4 multipart/mixed batches (fo_erp_batch.py); a changeset runs all
  or nothing (the ledger is put back when one operation fails, and the answer is that operation's),
  a request in it may name an entity made earlier in it as ``$<Content-ID>``; a malformed batch is
  refused whole with 400.

Faults, queued with ``fail_next(kind, path=...)`` for the next request whose path starts with
``path``: ``429`` (with Retry-After), ``500``, ``503``, ``drop_after_commit`` (the request is done,
then the connection closes with no answer), ``slow`` (answers after ``seconds``) and ``garbled``
(the request is done, the answer is not JSON). ``stall()`` keeps every execution Executing. Every
request is logged (method, path, status; 0 when no answer went out).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import fo_erp_batch as batch
from erp_chart import Chart, reference
from fo_erp_dmf import Dmf
from fo_erp_ledger import Ledger

DMF = "/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities."
HEADERS = "/data/LedgerJournalHeaders"
LINES = "/data/LedgerJournalLines"
BATCH = "/data/$batch"
NAVIGATION = batch.NAVIGATION
_DECIMAL = re.compile(r'"__decimal__([-0-9.E+]+)"')


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int  # 0: no answer (dropped)
    body: bytes = b""


@dataclass
class Fault:
    kind: str  # 429 | 500 | 503 | drop_after_commit | slow | garbled
    path: str
    retry_after: str
    seconds: float


def dumps(value: Any) -> bytes:
    """JSON with decimals as exact numbers (Edm.Decimal)."""

    def default(item: Any) -> str:
        if isinstance(item, Decimal):
            return f"__decimal__{item}"
        raise TypeError(type(item).__name__)

    return _DECIMAL.sub(r"\1", json.dumps(value, default=default)).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client that keeps its connection open must not hold up close()
    block_on_close = False
    allow_reuse_address = True
    erp: FoErp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header(
            "Content-Type", headers.pop("Content-Type", "application/json; odata.metadata=minimal")
        )
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.erp._handle(self, self.command, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class FoErp:
    def __init__(
        self,
        chart: Chart | None = None,
        *,
        client_id: str = "revbridge-app",
        client_secret: str = "fo-s3cret",
        tenant: str = "contoso",
        token_lifetime: int = 3600,
        polls_to_finish: int = 1,
        import_seconds: float = 0.0,
        keys_file_delay: int = 0,
        dimension_format: Sequence[str] = ("cost_center", "payer_class", "facility", "service_line"),
        delimiter: str = "|",
        journal_names: Sequence[str] = ("GenJrn",),
        page_size: int = 10_000,
    ) -> None:
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.token_lifetime = token_lifetime
        self.ledger = Ledger(
            chart or reference(),
            dimension_format=dimension_format,
            delimiter=delimiter,
            journal_names=journal_names,
            page_size=page_size,
        )
        self.dmf = Dmf(
            self.ledger,
            polls_to_finish=polls_to_finish,
            import_seconds=import_seconds,
            keys_file_delay=keys_file_delay,
        )
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.tokens_issued = 0
        self._tokens: set[str] = set()
        self._faults: deque[Fault] = deque()
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

    # -- control -----------------------------------------------------------------------------------

    def fail_next(
        self, kind: str, *, path: str = "/data", count: int = 1, retry_after: str = "7", seconds: float = 0.5
    ) -> None:
        with self._lock:
            self._faults.extend(Fault(kind, path, retry_after, seconds) for _ in range(count))

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def stall(self, stalled: bool = True) -> None:
        self.dmf.stalled = stalled

    def auto_post(self, on: bool = True) -> None:
        """Post journals as soon as an import copies them to target (a Journal post job that runs
        right after each import)."""
        self.dmf.auto_post = on

    def post_journals(self) -> int:
        with self._lock:
            return self.ledger.post_all()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- what happened -----------------------------------------------------------------------------

    def calls(self, prefix: str = "", method: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix) and method in (None, r.method)]

    def journals(self, description: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Every journal F&O holds under a description, with its lines."""
        with self._lock:
            found = [h for h in self.ledger.headers if h["Description"] == description]
            return [(dict(h), [dict(r) for r in self.ledger.lines_of(h)]) for h in found]

    def balances(self, *, posted_only: bool = True) -> dict[str, Decimal]:
        with self._lock:
            return self.ledger.balances(posted_only=posted_only)

    # -- the protocol ------------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str, body: bytes) -> None:
        url = urlsplit(h.path)
        path = unquote(url.path)
        with self._lock:
            fault = next((f for f in self._faults if path.startswith(f.path)), None)
            if fault is not None:
                self._faults.remove(fault)
        if fault is not None and fault.kind in ("429", "500", "503"):
            message = "Too many requests" if fault.kind == "429" else f"injected {fault.kind}"
            headers = {"Retry-After": fault.retry_after} if fault.kind in ("429", "503") else {}
            self._answer(h, method, path, body, int(fault.kind), {"error": {"message": message}}, headers)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        status, answer, headers = self._route(h, method, path, parse_qs(url.query), body)
        if fault is not None and fault.kind == "drop_after_commit":
            self._log(method, path, 0, body)
            h.drop()
            return
        if fault is not None and fault.kind == "garbled":
            self._log(method, path, 200, body)
            h.reply(200, b"<html><body>Service Unavailable</bo", {"Content-Type": "text/html"})
            return
        self._answer(h, method, path, body, status, answer, headers)

    def _answer(
        self,
        h: _Handler,
        method: str,
        path: str,
        body: bytes,
        status: int,
        answer: Any,
        headers: dict[str, str],
    ) -> None:
        self._log(method, path, status, body)
        if isinstance(answer, bytes):
            h.reply(status, answer, {"Content-Type": "application/octet-stream", **headers})
        else:
            h.reply(status, dumps(answer) if answer is not None else b"", dict(headers))

    def _log(self, method: str, path: str, status: int, body: bytes) -> None:
        with self._lock:
            self.requests.append(Request(method, path, status, body))

    def _route(
        self, h: _Handler, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._token(body)
        if path.startswith("/blob/"):
            return self._blob(h, method, path[len("/blob/") :], query, body)
        if not self._authorised(h):
            return 401, {"error": {"message": "Unauthorized"}}, {"WWW-Authenticate": "Bearer"}
        if method == "POST" and path == BATCH:
            return self._batch(h.headers.get("Content-Type", ""), body)
        try:
            payload = json.loads(body, parse_float=Decimal) if body else {}
        except ValueError:
            return 400, {"error": {"message": "The request body is not JSON."}}, {}
        params = {k: v[0] for k, v in query.items()}
        if method == "POST" and path.startswith(DMF):
            status, answer = self.dmf.action(path[len(DMF) :], payload, f"{self.url}/blob", self._lock)
            return status, answer, {}
        with self._lock:
            return (*self._entities(method, path, params, payload), {})

    def _entities(self, method: str, path: str, params: dict[str, str], payload: Any) -> tuple[int, Any]:
        """The OData entity sets (the lock held): on their own or as one operation of a batch."""
        if path in (HEADERS, LINES) and method == "GET":
            rows = self.ledger.headers if path == HEADERS else self.ledger.lines
            return self.ledger.query(rows, params, f"{self.url}{path}")
        if path == HEADERS and method == "POST":
            return self.ledger.create_header(payload)
        if path == LINES and method == "POST":
            return self.ledger.create_line(payload)
        if path.startswith(HEADERS + "(") and path.endswith(NAVIGATION) and method == "POST":
            return self.ledger.header_lines(path[len(HEADERS) : -len(NAVIGATION)], payload)
        if path.startswith(HEADERS + "(") and method in ("PATCH", "DELETE"):
            return self.ledger.entity(method, path[len(HEADERS) :], payload)
        return 404, {"error": {"message": f"No route for {method} {path}"}}

    # -- $batch ------------------------------------------------------------------------------------

    def _batch(self, content_type: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """OData $batch (fo_erp_batch.py): a malformed batch is refused whole (400); otherwise
        every item runs in order, each changeset all or nothing under the lock, so the Journal
        post job (post_journals, which takes the lock) never sees part of one."""
        try:
            items = batch.parse(content_type, body)
        except batch.Malformed as exc:
            return 400, {"error": {"message": f"The batch request is not valid: {exc}"}}, {}
        with self._lock:
            results = batch.run(items, self.ledger, self._entities, dumps)
        kind, data = batch.answer(results)
        return 200, data, {"Content-Type": kind}

    def _token(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, {}
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return (
                401,
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
                {},
            )
        if form.get("scope") != f"{self.url}/.default":
            return (
                400,
                {"error": "invalid_scope", "error_description": "AADSTS70011: The scope is not valid."},
                {},
            )
        with self._lock:
            self.tokens_issued += 1
            token = f"entra-{self.tokens_issued}"
            self._tokens.add(token)
        return 200, {"token_type": "Bearer", "access_token": token, "expires_in": self.token_lifetime}, {}

    def _authorised(self, h: _Handler) -> bool:
        auth = h.headers.get("Authorization", "")
        with self._lock:
            return auth.startswith("Bearer ") and auth[7:] in self._tokens

    def _blob(
        self, h: _Handler, method: str, name: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if "sig" not in query or h.headers.get("Authorization"):
            return 403, {"error": {"code": "AuthenticationFailed"}}, {}
        with self._lock:
            if method == "PUT":
                if h.headers.get("x-ms-blob-type") != "BlockBlob":
                    return 400, {"error": {"code": "MissingRequiredHeader"}}, {}
                self.dmf.blobs[name] = body
                return 201, None, {}
            if method == "GET" and name in self.dmf.blobs:
                return 200, self.dmf.blobs[name], {}
        return 404, {"error": {"code": "BlobNotFound"}}, {}
