"""A fake Oracle Fusion Cloud ERP over real HTTP, for the oracle_fusion connector's tests.

It speaks the documented REST resources (erp-apis.md A.1) under ``/fscmRestApi/resources/11.13.18.05``:
- ``POST /erpintegrations`` ``importBulkData``: base64 zip holding GlInterface.csv, DocumentAccount
  ``fin$/generalLedger$/import$``, the JournalImportLauncher JobName and a 7-value ParameterList;
  answers 201 with ``ReqstId`` (the load job). Anything else is refused with 400.
- ``GET /erpintegrations?finder=ESSJobStatusRF;requestId=N`` -> ``items[0].RequestStatus``;
  ``finder=ESSJobExecutionDetailsRF;requestId=N,fileType=ALL`` -> ``items[0].DocumentContent``
  (base64 zip of the job's log and output). Jobs advance on each status poll (oracle_erp_jobs).
- ``GET /journalBatches?q=...`` (BatchName LIKE, JeBatchId, UserJeSourceName, DefaultEffectiveDate
  joined by ``and``/``or``; ``expand=journalHeaders.journalLines``; ``limit`` (at most ``max_limit``)
  /``offset``/``hasMore``) and the child resources; other methods are 405 (it cannot create journals).
- ``POST /oauth2/v1/token`` (client credentials); every resource wants HTTP Basic (the integration
  user) or a Bearer token it issued, else 401.

Faults, queued with ``fail_next(kind, on=...)``: ``429`` (Retry-After), ``500``, ``503``,
``drop_after_commit`` (stored, then the socket is closed unanswered), ``slow`` (answers after
``slow_seconds``), ``garbled`` (stored, then a non-JSON 201) and ``never`` (the next load job
never finishes). Every request is logged (method, path, status).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from erp_chart import Chart, reference
from faulty_erp import Fault, Request, _free_port, _Handler, _Server
from oracle_erp_jobs import Batch, Job, Ledgers, Upload, batch_page, header_item, read_zip, zipped

API = "/fscmRestApi/resources/11.13.18.05"
TOKEN_PATH = "/oauth2/v1/token"
DOCUMENT_ACCOUNT = "fin$/generalLedger$/import$"
JOB_NAME = "/oracle/apps/ess/financials/generalLedger/programs/common,JournalImportLauncher"
LEDGERS = {"300000046975971": "MHN", "300000046975980": "MHS"}
ENDED = ("SUCCEEDED", "WARNING", "ERROR", "CANCELED")
SEGMENTS = ("legal_entity", "cost_center", "account", "payer_class", "service_line")


class _OracleHandler(_Handler):
    def do_PATCH(self) -> None:
        self.server.erp._handle(self, "PATCH")

    def do_PUT(self) -> None:
        self.server.erp._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.erp._handle(self, "DELETE")


@dataclass
class _Call:
    handler: _Handler
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    at: float


class OracleErp:
    def __init__(
        self,
        *,
        chart: Chart | None = None,
        username: str = "revbridge.integration",
        password: str = "w3lcome-Fusion",
        client_id: str = "revbridge-app",
        client_secret: str = "s3cret-idcs",
        token_lifetime: int = 3600,
        load_polls: int = 2,
        import_polls: int = 2,
        slow_seconds: float = 0.5,
        sources: frozenset[str] = frozenset({"Patient Accounting"}),
        max_limit: int = 500,
    ) -> None:
        self.max_limit = max_limit  # journalBatches rows a page at most (Oracle: 500)
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime = token_lifetime
        self.load_polls, self.import_polls = load_polls, import_polls
        self.slow_seconds = slow_seconds
        self.gl = Ledgers(chart or reference(), dict(LEDGERS), sources=sources, segments=SEGMENTS)
        self.jobs: dict[int, Job] = {}
        self.uploads: list[Upload] = []
        self.requests: list[Request] = []
        self.bodies: list[bytes] = []  # every request body, for the PHI and secret checks
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}  # token -> when it expires (time.monotonic)
        self._faults: deque[Fault] = deque()
        self._never = 0
        self._lock = threading.RLock()
        self._connections: set[Any] = set()
        self.port = _free_port()
        self._server = _Server(("127.0.0.1", self.port), _OracleHandler)
        self._server.erp = self  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control and what it holds -------------------------------------------------------------------

    def fail_next(
        self, kind: str, count: int = 1, *, retry_after: str | None = None, on: str = "POST"
    ) -> None:
        with self._lock:
            if kind == "never":
                self._never += count
                return
            self._faults.extend(Fault(kind, retry_after, on) for _ in range(count))

    def stall(self, stalled: bool = True) -> None:
        """From now on every load job never finishes (or, with False, finishes again)."""
        with self._lock:
            self._never = 10**9 if stalled else 0

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def close(self) -> None:
        self._server.shutdown()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(2)
        self._server.server_close()
        self._thread.join(timeout=5)

    def calls(self, method: str | None = None, path: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if (method is None or r.method == method) and path in r.path]

    def run_jobs(self) -> None:
        """Let every job that can finish run to its end, as Oracle does unwatched (a lost answer)."""
        with self._lock:
            while True:
                pending = [
                    j for j in self.jobs.values() if j.status not in ENDED and j.polls_to_finish is not None
                ]
                if not pending:
                    return
                for job in pending:
                    job.polls = max(job.polls, (job.polls_to_finish or 1) - 1)
                    self._advance(job)

    def batches_for(self, reference: str) -> list[Batch]:
        with self._lock:
            return [b for b in self.gl.batches if b.reference1 == reference]

    def balances(self) -> dict[str, Decimal]:
        """Net (debit positive) per account segment over every imported journal."""
        where = SEGMENTS.index("account")
        result: dict[str, Decimal] = {}
        with self._lock:
            for batch in self.gl.batches:
                for line in batch.lines:
                    account = line.segments[where]
                    result[account] = result.get(account, Decimal(0)) + line.debit - line.credit
        return result

    # -- the plumbing faulty_erp's handler calls ----------------------------------------------------

    def _track(self, conn: Any) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: Any) -> None:
        with self._lock:
            self._connections.discard(conn)

    def _record(self, call: _Call, status: int) -> None:
        with self._lock:
            self.requests.append(Request(call.at, call.method, call.path, status))

    def _reply(
        self, call: _Call, status: int, body: object | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self._record(call, status)
        call.handler._reply(status, body, headers)

    def _handle(self, h: _Handler, method: str) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        call = _Call(h, method, url.path, query, h._body(), time.monotonic())
        with self._lock:
            self.bodies.append(call.body)
        if method == "POST" and url.path == TOKEN_PATH:
            self._token(call)
            return
        if not url.path.startswith(API + "/"):
            self._reply(call, 404, {"title": "Not Found"})
            return
        if not self._authorised(h):
            self._reply(call, 401, {"title": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="fusion"'})
            return
        with self._lock:
            fault = self._faults.popleft() if self._faults and self._faults[0].on == method else None
        if fault is not None and fault.kind in ("429", "500", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._reply(call, int(fault.kind), {"title": f"injected {fault.kind}"}, headers)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(self.slow_seconds)
        self._route(call, fault.kind if fault is not None else "")

    def _route(self, call: _Call, fault: str) -> None:
        resource = call.path[len(API) + 1 :]
        if resource == "erpintegrations" and call.method == "POST":
            self._import_bulk_data(call, fault)
        elif resource == "erpintegrations" and call.method == "GET":
            self._finder(call)
        elif resource.startswith("journalBatches") and call.method == "GET":
            self._journal_batches(call, resource)
        elif resource.startswith("journalBatches"):
            self._reply(
                call, 405, {"title": "Method Not Allowed", "detail": "journalBatches cannot create journals"}
            )
        else:
            self._reply(call, 404, {"title": "Not Found"})

    def _answer_after_commit(self, call: _Call, fault: str, body: dict[str, Any]) -> None:
        if fault == "drop_after_commit":
            self._record(call, 0)
            call.handler._drop()
        elif fault == "garbled":
            self._record(call, 201)
            data = b"<html><body>Service Temporarily Unavailable"
            call.handler.send_response(201)
            call.handler.send_header("Content-Type", "application/json")
            call.handler.send_header("Content-Length", str(len(data)))
            call.handler.end_headers()
            call.handler.wfile.write(data)
        else:
            self._reply(call, 201, body)

    # -- auth ---------------------------------------------------------------------------------------

    def _token(self, call: _Call) -> None:
        form = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
        ident, secret = form.get("client_id"), form.get("client_secret")
        auth = call.handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            ident, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials" or (ident, secret) != (
            self.client_id,
            self.client_secret,
        ):
            self._reply(call, 401, {"error": "invalid_client"})
            return
        with self._lock:
            self.tokens_issued += 1
            token = f"idcs-{self.tokens_issued}"
            self._tokens[token] = time.monotonic() + self.token_lifetime
        self._reply(
            call, 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        )

    def _authorised(self, h: _Handler) -> bool:
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return (user, password) == (self.username, self.password)
        with self._lock:
            return auth.startswith("Bearer ") and self._tokens.get(auth[7:], 0.0) > time.monotonic()

    # -- erpintegrations ----------------------------------------------------------------------------

    def _import_bulk_data(self, call: _Call, fault: str) -> None:
        try:
            body = json.loads(call.body)
            upload = _upload(body)
        except ValueError as exc:
            self._reply(call, 400, {"title": "Bad Request", "detail": str(exc)})
            return
        with self._lock:
            never = self._never > 0
            self._never -= 1 if never else 0
            job = Job(self.gl.next_id(), "load", None if never else self.load_polls, upload=upload)
            upload.load_request = job.request_id
            self.jobs[job.request_id] = job
            self.uploads.append(upload)
        answer = {
            "OperationName": "importBulkData",
            "DocumentId": str(job.request_id - 1),
            "ReqstId": str(job.request_id),
        }
        self._answer_after_commit(call, fault, answer)

    def _finder(self, call: _Call) -> None:
        finder, _, params = call.query.get("finder", "").partition(";")
        values = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        with self._lock:
            job = (
                self.jobs.get(int(values.get("requestId", "0") or 0))
                if values.get("requestId", "").isdigit()
                else None
            )
            if finder == "ESSJobStatusRF" and job is not None:
                self._advance(job)
                item = {"ReqstId": str(job.request_id), "RequestStatus": job.status}
            elif finder == "ESSJobExecutionDetailsRF" and job is not None and job.files:
                content = base64.b64encode(zipped(job.files)).decode()
                item = {"ReqstId": str(job.request_id), "DocumentContent": content, "ContentType": "zip"}
            elif finder in ("ESSJobStatusRF", "ESSJobExecutionDetailsRF"):
                self._reply(call, 200, {"items": [], "count": 0, "hasMore": False})
                return
            else:
                self._reply(call, 400, {"title": "Bad Request", "detail": f"unknown finder {finder!r}"})
                return
        self._reply(call, 200, {"items": [item], "count": 1, "hasMore": False})

    def _advance(self, job: Job) -> None:
        if job.status in ENDED:
            return
        job.polls += 1
        job.status = "RUNNING"
        if job.polls_to_finish is None or job.polls < job.polls_to_finish:
            return
        assert job.upload is not None
        if job.name == "load":
            try:
                read_zip(job.upload.content)
            except ValueError as exc:
                job.status, job.files = "ERROR", {f"{job.request_id}.log": str(exc).encode()}
                return
            child = Job(self.gl.next_id(), "import", self.import_polls, upload=job.upload)
            self.jobs[child.request_id] = child
            log = (
                "Load Interface File for Import: GlInterface.csv loaded.\n"
                f"Submitted child request {child.request_id} (Import Journals).\n"
            )
            job.status, job.files = "SUCCEEDED", {f"{job.request_id}.log": log.encode()}
            return
        job.status, job.files = self.gl.run_import(job.upload, job.request_id)

    # -- journalBatches -----------------------------------------------------------------------------

    def _journal_batches(self, call: _Call, resource: str) -> None:
        parts = resource.split("/")
        with self._lock:
            if len(parts) == 1:
                try:
                    items, more = batch_page(self.gl.batches, call.query, self.max_limit)
                except ValueError as exc:
                    self._reply(call, 400, {"title": "Bad Request", "detail": str(exc)})
                    return
            else:
                batch = next((b for b in self.gl.batches if str(b.je_batch_id) == parts[1]), None)
                if batch is None:
                    self._reply(call, 404, {"title": "Not Found"})
                    return
                header = header_item(batch, lines=False)
                items = {4: [header], 6: header_item(batch, lines=True)["journalLines"]}.get(len(parts), [])
                more = False
        self._reply(call, 200, {"items": items, "count": len(items), "hasMore": more})


def _upload(body: Any) -> Upload:
    """The importBulkData request, checked as the resource checks it; ValueError if refused."""
    if not isinstance(body, dict) or body.get("OperationName") != "importBulkData":
        raise ValueError("OperationName must be importBulkData")
    if body.get("DocumentAccount") != DOCUMENT_ACCOUNT:
        raise ValueError(f"DocumentAccount {body.get('DocumentAccount')!r} is not valid for journal import")
    if body.get("JobName") != JOB_NAME:
        raise ValueError(f"JobName {body.get('JobName')!r} is not valid")
    if body.get("ContentType") != "zip" or not str(body.get("FileName", "")).endswith(".zip"):
        raise ValueError("ContentType must be zip and FileName a .zip")
    parameters = tuple(str(body.get("ParameterList", "")).split(","))
    if len(parameters) != 7 or not parameters[3].isdigit():
        raise ValueError("ParameterList must hold 7 values with a numeric group id in position 4")
    try:
        content = base64.b64decode(str(body.get("DocumentContent", "")), validate=True)
    except binascii.Error:
        raise ValueError("DocumentContent is not base64") from None
    read_zip(content)
    return Upload(file_name=str(body["FileName"]), parameters=parameters, content=content)
