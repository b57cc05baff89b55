"""The SAP test system's confirmations: the document, and its delivery to revbridge, later.

``confirmation`` builds the ``JournalEntryBulkCreateConfirmation`` S/4HANA sends (a SOAP 1.1
envelope): the bulk ``MessageHeader`` whose ``ReferenceID`` is the request's ``MessageHeader/ID``,
then per entry a ``MessageHeader`` (``ReferenceID`` = the entry's request ``ID``), the
``JournalEntryCreateConfirmation`` (``AccountingDocument``, ``CompanyCode``, ``FiscalYear``;
0000000000 when refused) and the ``Log`` (``MaximumLogItemSeverityCode``, ``Item``s with
``TypeID``, ``SeverityCode``, ``Note``).

``Deliveries`` is SAP's outbound call to the sender system: a thread that POSTs each queued
confirmation ``delay`` seconds after it was queued to the target URL with basic authentication
(the outbound user's), and, as SAP's web service runtime restarts a failed outbound call, tries a
delivery that was not answered 2xx again a few times. Faults: ``never`` (the next ones are
dropped), ``twice`` (delivered two times), ``stall`` (withheld, then dropped). Every delivery is
logged with its HTTP status (0: no answer).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sap_erp_books import Outcome

from revbridge.connectors import xmldoc
from revbridge.connectors.sap_s4hana_soap import NS


def _header(parent: object, reference_id: str) -> None:
    header = xmldoc.sub(parent, "MessageHeader")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    xmldoc.subs(
        header, "", [("UUID", str(uuid.uuid4())), ("ReferenceID", reference_id), ("CreationDateTime", now)]
    )
    xmldoc.sub(header, "SenderBusinessSystemID", "S4TEST")


def confirmation(outcomes: Sequence[Outcome], request_id: str) -> bytes:
    root = xmldoc.element(f"{{{NS}}}JournalEntryBulkCreateConfirmation", nsmap={"n0": NS})
    _header(root, request_id)
    for outcome in outcomes:
        each = xmldoc.sub(root, "JournalEntryCreateConfirmation")
        _header(each, outcome.message_id)
        result = xmldoc.sub(each, "JournalEntryCreateConfirmation")
        xmldoc.sub(result, "AccountingDocument", outcome.document or "0000000000")
        xmldoc.sub(result, "CompanyCode", outcome.company_code[:4])
        xmldoc.sub(result, "FiscalYear", outcome.fiscal_year)
        log = xmldoc.sub(each, "Log")
        severity = "1" if outcome.document else "3"
        xmldoc.sub(log, "MaximumLogItemSeverityCode", severity)
        for type_id, note in outcome.notes:
            item = xmldoc.sub(log, "Item")
            xmldoc.subs(item, "", [("TypeID", type_id), ("SeverityCode", severity), ("Note", note)])
    return xmldoc.envelope(root)


@dataclass
class Delivery:
    status: int  # 0: no answer
    at: float


@dataclass
class _Queued:
    body: bytes
    due: float
    copies: int = 1


@dataclass
class Deliveries:
    delay: float = 0.02
    attempts: int = 4
    log: list[Delivery] = field(default_factory=list)
    delivered: list[bytes] = field(default_factory=list)  # every body answered 2xx

    def __post_init__(self) -> None:
        self._queue: deque[_Queued] = deque()
        self._faults: deque[str] = deque()
        self._stalled = False
        self._url = ""
        self._auth: tuple[str, str] = ("", "")
        self._cond = threading.Condition()
        self._closed = False
        self._client = httpx.Client(timeout=10)
        self._thread = threading.Thread(target=self._run, name="sap-confirmations", daemon=True)
        self._thread.start()

    def target(self, url: str, username: str, password: str) -> None:
        with self._cond:
            self._url, self._auth = url, (username, password)
            self._cond.notify_all()

    @property
    def endpoint(self) -> tuple[str, tuple[str, str]]:
        """Where confirmations go and the outbound user's credentials."""
        with self._cond:
            return self._url, self._auth

    def fault_next(self, kind: str, count: int) -> None:
        with self._cond:
            self._faults.extend([kind] * count)

    def stall(self, on: bool) -> None:
        with self._cond:
            self._stalled = on

    def queue(self, body: bytes) -> None:
        with self._cond:
            fault = self._faults.popleft() if self._faults else ""
            if self._stalled or fault == "never":
                return
            self._queue.append(_Queued(body, time.monotonic() + self.delay, 2 if fault == "twice" else 1))
            self._cond.notify_all()

    def flush(self) -> None:
        """Deliver everything queued now (the caller waits); nothing before ``target`` names where."""
        with self._cond:
            if not self._url:
                return
            due, self._queue = list(self._queue), deque()
        for item in due:
            self._deliver(item)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not (
                    self._url and self._queue and self._queue[0].due <= time.monotonic()
                ):
                    wait = self._queue[0].due - time.monotonic() if self._queue and self._url else None
                    self._cond.wait(timeout=max(0.005, wait) if wait is not None else 0.1)
                if self._closed:
                    return
                item = self._queue.popleft()
            self._deliver(item)

    def _deliver(self, item: _Queued) -> None:
        for _copy in range(item.copies):
            for attempt in range(self.attempts):
                status = self._post(item.body)
                self.log.append(Delivery(status, time.monotonic()))
                if 200 <= status < 300:
                    self.delivered.append(item.body)
                    break
                if 400 <= status < 500:  # refused: SAP shows the error in its monitor, no restart
                    break
                time.sleep(0.05 * (attempt + 1))

    def _post(self, body: bytes) -> int:
        headers = {"Content-Type": xmldoc.CONTENT_TYPES[xmldoc.SOAP11], "SOAPAction": '""'}
        try:
            return self._client.post(self._url, content=body, headers=headers, auth=self._auth).status_code
        except httpx.HTTPError:
            return 0
