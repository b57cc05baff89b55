"""The Workday Financial Management connector: accounting journals over Workday Web Services (SOAP).

Protocol (erp-apis.md A.5; element names from clients generated from Workday's WSDL, see
workday_documents.py and tests/support/xsd/workday/README.md):
- Write, asynchronous (``operation: import``, the default): ``Import_Accounting_Journal`` on
  ``/ccx/service/{tenant}/Financial_Management/{version}``, Workday's high-volume import. The
  request holds one ``Accounting_Journal_Data`` (the generated ``Import_Accounting_Journal_
  RequestType`` has exactly one, so there is no bulk call: one import per journal), with
  ``Add_Only`` and ``Create_Journal_with_Errors="false"``. Workday answers
  ``Put_Import_Process_Response`` naming the import's background process: that WID is the ticket.
  ``check`` reads it with ``Get_Import_Processes`` (Integrations service) until its status has
  ended; when it has messages, ``Get_Import_Process_Messages`` gives them, and an error message
  rejects the journal in Workday's words, its ``Line_Number`` naming our line. A process that
  never ends stays accepted; the outbox's poll deadline makes it a work item.
- Write, synchronous (``operation: submit``): ``Submit_Accounting_Journal`` with ``Add_Only``
  through the journal business process (``Auto_Complete``), answered with the journal's
  ``Accounting_Journal_Reference`` or a ``Validation_Fault`` naming the line (workday_soap.py).
- Exactly once: ``Accounting_Journal_ID`` and ``Journal_Number`` are our journal id, and
  ``Add_Only`` makes Workday refuse a second journal with the same id; a refusal of that kind (or
  an import that failed on it) is followed by ``lookup``, which finds ours. ``lookup`` and
  ``read_back`` use ``Get_Journals`` with ``Request_Criteria`` ``Journal_Number`` and our
  ``Journal_Source_Reference`` (a criteria query answers empty for a journal Workday never saw,
  where a reference query would fault); ``held`` lists our journal source's journals by accounting
  date, paged (``Response_Filter`` ``Page``/``Count``, at most 999). The document of a posted
  journal is its ``Accounting_Journal_ID``, Workday's reference id of the journal (our id): the
  import's process does not name the journal's WID, and asking for it would cost a call per
  journal; ``read_back`` and ``lookup`` name the same.
- Authentication: WS-Security UsernameToken or OAuth 2.0 refresh token (workday_auth.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    ConnectorRejected,
    ErpJournal,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.http import HttpConnector, Pacer
from revbridge.connectors.workday_auth import RefreshToken, username_token
from revbridge.connectors.workday_documents import (
    import_messages,
    import_process,
    import_request,
    journals_dated,
    journals_numbered,
    submit_request,
)
from revbridge.connectors.workday_read import (
    Message,
    id_of,
    journals,
    messages,
    pages,
    process_reference,
    process_state,
)
from revbridge.connectors.workday_soap import WorkdaySoap
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

DEFAULT_LIMITS = Limits(
    rate_per_second=5.0, burst=5, concurrency=2, backoff_base=2.0, backoff_cap=120.0, poll_interval=15.0
)
FINANCIALS = "Financial_Management"
INTEGRATIONS = "Integrations"
DIMENSIONS = ("facility", "cost_center", "payer_class", "service_line")
DUPLICATE = "already exists"  # Workday's words when Add_Only meets an existing reference id


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkdaySettings:
    tenant: str
    base_url: str  # the tenant's services host, e.g. https://wd2-impl-services1.workday.com
    version: str = "v43.0"
    authentication: str = "username_token"  # username_token | oauth2
    username: str = ""  # username_token: the integration system user, user@tenant
    password: str = ""  # username_token, secret
    client_id: str = ""  # oauth2: the registered API client
    client_secret: str = ""  # oauth2, secret
    refresh_token: str = ""  # oauth2, secret: the API client's refresh token for the user
    token_path: str = ""
    refresh_margin: float = 300.0
    operation: str = "import"  # import (asynchronous, high volume) | submit (synchronous)
    companies: Mapping[str, str] = field(default_factory=dict)  # legal entity -> Company_Reference_ID
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> Ledger_Account_ID
    account_set: str = "Standard"  # the Account_Set_ID the ledger accounts belong to
    journal_source: str = "revbridge"  # Journal_Source_ID; also how ``held`` finds our journals
    ledger_type: str = "Actuals"
    worktag_types: Mapping[str, str] = field(
        default_factory=lambda: {
            "cost_center": "Cost_Center_Reference_ID",
            "payer_class": "Custom_Organization_Reference_ID",
            "facility": "Location_ID",
        }
    )  # our dimension -> Workday worktag id type
    cost_centers: Mapping[str, str] = field(default_factory=dict)  # our value -> worktag id
    payer_classes: Mapping[str, str] = field(default_factory=dict)
    facilities: Mapping[str, str] = field(default_factory=dict)
    service_lines: Mapping[str, str] = field(default_factory=dict)
    submit: bool = True  # Submit: post through the business process (False: a draft)
    auto_complete: bool = True
    memo_prefix: str = "revbridge"
    page_size: int = 999  # Get_Journals Count (Workday's most)
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.tenant or not self.base_url:
            raise ValueError("tenant and base_url are required")
        if self.authentication == "username_token":
            missing = [k for k in ("username", "password") if not getattr(self, k)]
        elif self.authentication == "oauth2":
            missing = [k for k in ("client_id", "client_secret", "refresh_token") if not getattr(self, k)]
        else:
            raise ValueError("authentication is username_token or oauth2")
        if missing:
            raise ValueError(f"{self.authentication} authentication needs {', '.join(missing)}")
        if self.operation not in ("import", "submit"):
            raise ValueError("operation is import or submit")
        unknown = sorted(set(self.worktag_types) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"worktag_types name unknown dimensions: {', '.join(unknown)}")
        if not 1 <= self.page_size <= 999:
            raise ValueError("page_size is 1 to 999")

    def __repr__(self) -> str:  # never the secrets
        return f"WorkdaySettings(tenant={self.tenant!r}, authentication={self.authentication!r})"

    @property
    def token_url(self) -> str:
        return self.token_path or f"/ccx/oauth2/{self.tenant}/token"

    def dimension_values(self, dimension: str) -> Mapping[str, str]:
        return {
            "facility": self.facilities,
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "service_line": self.service_lines,
        }[dimension]


class WorkdayConnector(HttpConnector):
    def __init__(
        self,
        settings: WorkdaySettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "workday",
    ) -> None:
        self._name = name
        self._clock: Clock = clock or SystemClock()
        self.settings = settings
        self._limits = limits
        self.auth: RefreshToken | None = None
        header: Callable[[], Any] | None = None
        if settings.authentication == "oauth2":
            self.auth = RefreshToken(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
                settings.refresh_token,
                refresh_margin=settings.refresh_margin,
                monotonic=monotonic,
            )
        else:
            header = lambda: username_token(settings.username, settings.password)  # noqa: E731
        self.pacer = Pacer()
        client = httpx.Client(
            event_hooks={"request": [self.pacer]},
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            transport=transport,
            auth=self.auth,
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._soap = WorkdaySoap(
            client, tenant=settings.tenant, version=settings.version, now=self._clock.now, header=header
        )

    def __repr__(self) -> str:
        return f"WorkdayConnector({self._name!r}, {self.settings.tenant!r})"

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched if self.auth is not None else 0

    # -- the protocol ------------------------------------------------------------------------------

    def submit(self, journal: Journal) -> Receipt:
        try:
            if self.settings.operation == "submit":
                answer = self._soap.call(FINANCIALS, submit_request(journal, self.settings))
                document = _journal_reference(answer) or journal.id
                return Receipt(reference=journal.id, document=document, posted_at=self._clock.now())
            answer = self._soap.call(FINANCIALS, import_request(journal, self.settings))
            return Receipt(reference=journal.id, document=process_reference(answer), status=ACCEPTED)
        except ConnectorRejected as refused:
            found = self.lookup(journal.id) if DUPLICATE in str(refused) else None
            if found is None:
                raise
            return found

    def lookup(self, reference: str) -> Receipt | None:
        held = self._numbered(reference)
        if held is None:
            return None
        return Receipt(reference=reference, document=held.document or reference, posted_at=self._clock.now())

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals whose import process has ended: posted or rejected."""
        done: dict[str, Answer] = {}
        for receipt in accepted:
            answer = self._ended(receipt)
            if answer is not None:
                done[receipt.reference] = answer
        return done

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        found: dict[str, ErpJournal] = {}
        for reference in references:
            held = self._numbered(reference)
            if held is not None:
                found[reference] = held
        return found

    def held(self, date_from: date, date_to: date) -> Mapping[str, ErpJournal]:
        """Every journal of our journal source Workday holds dated in [date_from, date_to], keyed
        by ``Journal_Number`` (our journal id; ``wid:<WID>`` without one), lines as ``read_back``
        gives them; so reconcile can name what Workday holds that the store never sent."""
        found: dict[str, ErpJournal] = {}
        page, total = 1, 1
        while page <= total:
            answer = self._soap.call(
                FINANCIALS, journals_dated(date_from, date_to, page, self.settings), read=True
            )
            found.update((j.reference, j) for j in journals(answer, self.settings))
            total, page = pages(answer), page + 1
        return found

    def close(self) -> None:
        self._soap.close()

    # -- the import's background process -----------------------------------------------------------

    def _ended(self, receipt: Receipt) -> Answer | None:
        version = self.settings.version
        answer = self._soap.call(INTEGRATIONS, import_process(receipt.document, version), read=True)
        state = process_state(answer, receipt.document)
        if not state.ended:
            return None
        errors = [m for m in self._messages(receipt.document) if m.error] if state.has_messages else []
        if not errors and not state.failed:
            return Receipt(
                reference=receipt.reference, document=receipt.reference, posted_at=self._clock.now()
            )
        words = " ".join("; ".join(m.summary for m in errors).split())[:500]
        if DUPLICATE in words:  # Add_Only met our own journal, imported before: it is posted
            found = self.lookup(receipt.reference)
            if found is not None:
                return found
        lines = tuple(sorted({m.line for m in errors if m.line}))
        message = f"Workday import {receipt.document} {state.status}: {words or 'no message'}"
        return Rejection(reference=receipt.reference, message=message, lines=lines, document=receipt.document)

    def _messages(self, process: str) -> list[Message]:
        found: list[Message] = []
        page, total = 1, 1
        while page <= total:
            answer = self._soap.call(
                INTEGRATIONS, import_messages(process, page, self.settings.version), read=True
            )
            more, total = messages(answer)
            found += more
            page += 1
        return found

    def _numbered(self, reference: str) -> ErpJournal | None:
        answer = self._soap.call(FINANCIALS, journals_numbered(reference, self.settings), read=True)
        return next((j for j in journals(answer, self.settings) if j.reference == reference), None)


def _journal_reference(answer: Any) -> str:
    return id_of(xmldoc.find(answer, "Accounting_Journal_Reference"), "Accounting_Journal_ID")
