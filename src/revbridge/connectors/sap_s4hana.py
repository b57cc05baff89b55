"""The SAP S/4HANA connector: Journal Entry - Post over SOAP, asynchronous with SAP's confirmation
pushed back to revbridge, or synchronous on premise.

Protocol, as SAP documents it (erp-apis.md A.2; "Guidelines for API Journal Entry Post" and the
user guide on community.sap.com; api.sap.com JOURNALENTRYBULKCREATIONREQUES):
- Communication scenario SAP_COM_0002 (Finance - Posting Integration), a communication user with
  basic authentication (``password_env``), or OAuth 2.0 client credentials where the arrangement
  is set up for it (``authentication: oauth2``).
- Asynchronous (the default; S/4HANA Cloud): ``POST`` the SOAP 1.1 envelope with a
  ``JournalEntryBulkCreateRequest`` (sap_s4hana_soap.py: one bulk message per call, up to
  ``batch_size`` journals, SOAPAction ``http://sap.com/xi/SAPSCORE/SFIN/JournalEntryBulkCreateRequest``)
  to the service ``JournalEntryBulkCreationRequest_In``. SAP answers 202 (or 200) with an empty
  body: taken, not yet posted. Every journal is then ``accepted`` with the ticket
  ``<bulk request id>:<message id>``. SAP processes the entries one by one and pushes a
  ``JournalEntryBulkCreateConfirmation`` to the endpoint revbridge serves
  (``POST /api/v1/erp/sap/confirmations``, api/routes/sap.py), which keeps it in the store
  (store/sap_confirmations.py). ``check`` reads those: ``AccountingDocument`` posted as
  ``<CompanyCode>/<AccountingDocument>/<FiscalYear>``, or rejected (``0000000000``) with SAP's
  Log notes and the lines they name. A confirmation that never comes leaves the journal
  accepted until ``limits.poll_deadline``: an ERP_UNAVAILABLE work item.
- Synchronous (``synchronous: true``; on premise where ``JournalEntryCreateRequestConfirmation_In``
  is configured): the same request to that service answers the confirmation in the response.
- SAP keeps no idempotency key: a resend posts a second document. ``lookup_many`` therefore
  reads a posted confirmation, then the Journal Entry Item read API (sap_s4hana_read.py) by
  ``DocumentReferenceID``, before the outbox sends anything again.
- Errors: a SOAP fault of the sender (``soap-env:Client``: schema violations) rejects every
  journal of the bulk message with SAP's words; a server fault or another 5xx is unavailable and
  uncertain; 401/403 refused credentials; 429/503 throttled (Retry-After honoured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    ErpJournal,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.http import BulkConnector, ClientCredentials, Pacer, send
from revbridge.connectors.sap_s4hana_read import Reader, erp_journal
from revbridge.connectors.sap_s4hana_soap import (
    ACTION,
    DIMENSIONS,
    SYNC_ACTION,
    Confirmation,
    add_journal,
    bulk_id,
    bulk_request,
    confirmations,
    message_id,
    named_lines,
)
from revbridge.connectors.sap_s4hana_wire import answer_of, soap_outcome, stored
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal
from revbridge.store import Database, sap_confirmations
from revbridge.store import journals as journal_store

DEFAULT_LIMITS = Limits(rate_per_second=5.0, burst=5, concurrency=2, backoff_base=2.0, poll_interval=10.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SapSettings:
    base_url: str  # https://<host> of the S/4HANA system (the API host in the cloud)
    username: str = ""  # basic: the communication user of the arrangement
    password: str = ""  # basic, secret
    authentication: str = "basic"  # basic | oauth2
    token_url: str = ""  # oauth2: the token endpoint
    client_id: str = ""  # oauth2
    client_secret: str = ""  # oauth2, secret
    company_codes: Mapping[str, str] = field(default_factory=dict)  # legal entity -> company code
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> G/L account
    assignments: Mapping[str, str] = field(
        default_factory=lambda: {"ProfitCenter": "facility", "CostCenter": "cost_center"}
    )  # SAP account assignment field -> our dimension (CostCenter, ProfitCenter, Segment)
    facilities: Mapping[str, str] = field(default_factory=dict)  # our value -> SAP's
    cost_centers: Mapping[str, str] = field(default_factory=dict)
    payer_classes: Mapping[str, str] = field(default_factory=dict)
    service_lines: Mapping[str, str] = field(default_factory=dict)
    document_type: str = "SA"  # AccountingDocumentType (SA: G/L account document)
    created_by: str = ""  # CreatedByUser; default the communication user (or client id)
    header_prefix: str = "RB"  # the mark in DocumentHeaderText that makes our documents findable
    synchronous: bool = False
    path: str = "/sap/bc/srt/scs_ext/sap/journalentrybulkcreationrequest_in"
    synchronous_path: str = "/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi"
    read_path: str = "/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV"
    ledger: str = "0L"  # the leading ledger, read back
    batch_size: int = 100  # journal entries per bulk message
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ValueError("base_url is required")
        if self.authentication == "basic":
            missing = [k for k in ("username", "password") if not getattr(self, k)]
        elif self.authentication == "oauth2":
            missing = [k for k in ("token_url", "client_id", "client_secret") if not getattr(self, k)]
        else:
            raise ValueError("authentication is basic or oauth2")
        if missing:
            raise ValueError(f"{self.authentication} authentication needs {', '.join(missing)}")
        unknown = sorted(set(self.assignments.values()) - set(DIMENSIONS))
        fields = sorted(set(self.assignments) - {"CostCenter", "ProfitCenter", "Segment"})
        if unknown or fields:
            raise ValueError(f"assignments: unknown {', '.join(fields + unknown)}")
        if not 1 <= len(self.header_prefix) <= 8 or " " in self.header_prefix:
            raise ValueError("header_prefix is 1 to 8 characters without spaces (BKTXT holds 25)")
        if not 1 <= self.batch_size <= 1000:
            raise ValueError("batch_size is between 1 and 1000")

    def __repr__(self) -> str:  # never the secrets
        return f"SapSettings(base_url={self.base_url!r}, authentication={self.authentication!r})"

    @property
    def user(self) -> str:
        return (self.created_by or self.username or self.client_id)[:12]

    def company_code(self, legal_entity: str) -> str:
        return self.company_codes.get(legal_entity, legal_entity)

    def dimension_values(self, dimension: str) -> Mapping[str, str]:
        return {
            "facility": self.facilities,
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "service_line": self.service_lines,
        }[dimension]


class _Document:
    """SapSettings as sap_s4hana_soap.Mapped sees them (CreatedByUser defaulted)."""

    def __init__(self, settings: SapSettings) -> None:
        self._s = settings
        self.accounts = settings.accounts
        self.assignments = settings.assignments
        self.document_type = settings.document_type
        self.created_by = settings.user
        self.header_prefix = settings.header_prefix
        self.company_code = settings.company_code
        self.dimension_values = settings.dimension_values


class SapS4HanaConnector(BulkConnector):
    def __init__(
        self,
        settings: SapSettings,
        *,
        db: Database,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        name: str = "sap_s4hana",
    ) -> None:
        self._name = name
        self._clock: Clock = clock or SystemClock()
        self._db = db
        self.settings = settings
        self._mapped = _Document(settings)
        self._limits = limits
        self.pacer = Pacer()
        auth: httpx.Auth = (
            ClientCredentials(settings.token_url, settings.client_id, settings.client_secret)
            if settings.authentication == "oauth2"
            else httpx.BasicAuth(settings.username, settings.password)
        )
        self._client = httpx.Client(
            event_hooks={"request": [self.pacer]},
            base_url=settings.base_url.rstrip("/"),
            timeout=settings.timeout,
            transport=transport,
            auth=auth,
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._reader = Reader(self._client, settings.read_path, settings.ledger, settings.header_prefix)

    def __repr__(self) -> str:
        return f"SapS4HanaConnector({self._name!r}, {self.settings.base_url!r})"

    # -- posting -----------------------------------------------------------------------------------

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        now = self._clock.now()
        bulk = bulk_request(journals, self._mapped, now)
        answers: dict[str, Answer] = {}
        sent: list[Journal] = []
        for journal in journals:
            try:
                add_journal(bulk, journal, self._mapped, now)
                sent.append(journal)
            except ConnectorRejected as exc:
                answers[journal.id] = Rejection(reference=journal.id, message=str(exc), lines=exc.lines)
        if not sent:
            return answers
        synchronous = self.settings.synchronous
        response = self._post(xmldoc.envelope(bulk), synchronous)
        outcome = soap_outcome(response, now=self._clock.now)
        if isinstance(outcome, ConnectorRejected):
            return answers | {
                j.id: Rejection(reference=j.id, message=str(outcome), lines=outcome.lines) for j in sent
            }
        if not synchronous:
            request_id = bulk_id(journals, now)
            return answers | {
                j.id: Receipt(reference=j.id, document=f"{request_id}:{message_id(j.id)}", status=ACCEPTED)
                for j in sent
            }
        return answers | self._confirmed(outcome, sent)

    def _post(self, body: bytes, synchronous: bool) -> httpx.Response:
        path = self.settings.synchronous_path if synchronous else self.settings.path
        headers = {
            "Content-Type": xmldoc.CONTENT_TYPES[xmldoc.SOAP11],
            "SOAPAction": f'"{SYNC_ACTION if synchronous else ACTION}"',
        }
        return send(self._client, "POST", path, content=body, headers=headers)

    def _confirmed(self, root: xmldoc.Element | None, sent: Sequence[Journal]) -> dict[str, Answer]:
        """The synchronous answer: SAP's confirmation for every journal sent."""
        try:
            found = {c.message_id: c for c in confirmations(root)} if root is not None else {}
        except ValueError as exc:
            raise ConnectorUnavailable(
                f"SAP answered without a confirmation: {exc}", uncertain=True
            ) from None
        missing = [j.id for j in sent if message_id(j.id) not in found]
        if missing:
            raise ConnectorUnavailable(
                f"SAP's confirmation left out {len(missing)} journal(s)", uncertain=True
            )
        return {j.id: self._answer(j, found[message_id(j.id)]) for j in sent}

    def _answer(self, journal: Journal, confirmation: Confirmation) -> Answer:
        lines = () if confirmation.posted else named_lines(confirmation.notes, journal, self._mapped)
        return answer_of(journal.id, stored(confirmation), lines, now=self._clock.now())

    # -- following and reading ---------------------------------------------------------------------

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals SAP has answered: posted when any submission of the journal was
        posted, rejected when this submission's confirmation says so (an earlier submission's
        rejection, before a mapping was fixed, is not this one's answer)."""
        received = sap_confirmations.find(self._db, (message_id(r.reference) for r in accepted))
        done: dict[str, Answer] = {}
        rejected: dict[str, sap_confirmations.SapConfirmation] = {}
        for receipt in accepted:
            every = received.get(message_id(receipt.reference), [])
            posted = [c for c in every if c.outcome == sap_confirmations.POSTED]
            request_id = receipt.document.partition(":")[0]
            mine = [c for c in every if c.request_id == request_id]
            if posted:  # from any submission: a resend SAP refused as a repeat is still posted
                done[receipt.reference] = answer_of(receipt.reference, posted[0], (), now=self._clock.now())
            elif mine:
                rejected[receipt.reference] = mine[0]
        if rejected:
            loaded = journal_store.load_many(self._db, list(rejected))
            for reference, confirmation in rejected.items():
                journal = loaded.get(reference)
                lines = named_lines(confirmation.notes, journal, self._mapped) if journal else ()
                done[reference] = answer_of(reference, confirmation, lines, now=self._clock.now())
        return done

    def lookup_many(self, references: Sequence[str]) -> dict[str, Answer]:
        """Posted journals: a posted confirmation from any submission, else the document SAP holds
        under our DocumentReferenceID. A rejection is no reason not to send again."""
        found: dict[str, Answer] = {}
        received = sap_confirmations.find(self._db, (message_id(r) for r in references))
        for reference in references:
            posted = [
                c for c in received.get(message_id(reference), []) if c.outcome == sap_confirmations.POSTED
            ]
            if posted:
                found[reference] = answer_of(reference, posted[0], (), now=self._clock.now())
        rest = [r for r in references if r not in found]
        for reference, document in self._reader.find(rest).items():
            found[reference] = Receipt(
                reference=reference, document=document.name, posted_at=self._clock.now()
            )
        return found

    def lookup(self, reference: str) -> Receipt | None:
        answer = self.lookup_many([reference]).get(reference)
        return answer if isinstance(answer, Receipt) else None

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        return {
            reference: erp_journal(reference, document, self.settings.accounts, self.settings.company_codes)
            for reference, document in self._reader.find(references).items()
        }

    def held(self, date_from: date, date_to: date) -> Mapping[str, ErpJournal]:
        """Every document SAP holds with our mark posted in [date_from, date_to], keyed by the
        journal key it carries (our journal id), lines as ``read_back`` gives them."""
        return {
            key: erp_journal(key, document, self.settings.accounts, self.settings.company_codes)
            for key, document in self._reader.held(date_from, date_to).items()
        }

    def close(self) -> None:
        self._client.close()
