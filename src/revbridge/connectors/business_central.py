"""The Microsoft Dynamics 365 Business Central connector (API v2.0): general journals, posted.

Protocol, as Microsoft documents it (erp-apis.md A.3):
- Token: Microsoft Entra client credentials at
  ``https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`` with scope
  ``https://api.businesscentral.dynamics.com/.default`` (the Entra app registered in BC, with
  permission sets); API root ``{base_url}/v2.0/{tenant}/{environment}/api/v2.0/``.
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/developer/automation-apis-using-s2s-authentication
- ``POST companies({id})/journals`` creates a journal batch (``code`` <= 10 characters);
  ``POST .../journals({id})/journalLines`` a line (accountType ``G/L Account``, accountNumber,
  postingDate, documentNumber, externalDocumentNumber, amount: positive debit, negative credit);
  ``POST .../journalLines({id})/dimensionSetLines`` ``{code, valueCode}``; the bound action
  ``POST .../journals({id})/Microsoft.NAV.post`` posts the whole batch (204).
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/api/dynamics_journalline_create
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/api/dynamics_dimensionsetline_create
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/api/dynamics_journal_post
- Lines and dimension lines go in OData JSON ``$batch`` requests with ``Isolation: snapshot``
  (all or nothing; at most 100 operations each).
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/webservices/use-odata-batch
- Errors are ``{"error": {"code", "message"}}``; posting errors (a closed period: "is not within
  your range of allowed posting dates"; an unbalanced document) come from the post action as 400
  ``Application_DialogException`` naming the line or document. 429 with Retry-After when the
  service principal exceeds its share (6,000 requests per 5 minutes).
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/dynamics-rate-limits
- Posted entries: ``GET companies({id})/generalLedgerEntries?$filter=documentNumber eq '...'``;
  all of ours over a date range (``held``): ``$filter=postingDate ge ... and postingDate le ... and
  startswith(documentNumber,'RB')``, pages followed by ``@odata.nextLink``.
  https://learn.microsoft.com/en-us/dynamics365/business-central/dev-itpro/api-reference/v2.0/resources/dynamics_generalledgerentry

One call (``submit`` or ``submit_many``) posts per company: one journal batch named after the
call's journals, as few ``$batch`` requests as 100 operations allow for the lines, the same for the
dimension lines, one post, then the emptied batch is deleted. BC is synchronous: receipts are
posted. BC has no idempotency key, so the journal id travels in documentNumber and
externalDocumentNumber (business_central_payload.py) and ``lookup`` reads them back; any batch
that failed half way is deleted, and one that cannot be deleted makes the failure *uncertain* so
the outbox looks up (which deletes the leftover) before it sends again. A journal BC refuses is
taken out and the rest are posted again in a fresh batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from revbridge.connectors.base import (
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    ErpJournal,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.business_central_batch import Plan, Refused, bc_message, plan_lines, refusal
from revbridge.connectors.business_central_payload import (
    DEFAULT_DIMENSION_CODES,
    batch_code,
    document_number,
    error_of,
    odata_json,
)
from revbridge.connectors.business_central_read import BcReads, erp_journal
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.http import BulkConnector, ClientCredentials, Pacer, failure, read_json, send
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

DEFAULT_LIMITS = Limits(rate_per_second=15.0, burst=20, concurrency=4, backoff_base=1.0, backoff_cap=120.0)
ENTRA = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessCentralSettings:
    tenant: str  # Entra tenant id or domain
    client_id: str
    client_secret: str = field(repr=False)  # secret
    environment: str = "production"
    base_url: str = "https://api.businesscentral.dynamics.com"
    token_url: str = ""  # default: Entra's token endpoint for the tenant
    scope: str = "https://api.businesscentral.dynamics.com/.default"
    companies: Mapping[str, str] = field(default_factory=dict)  # our legal entity -> BC company name
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> BC G/L account no.
    dimension_codes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DIMENSION_CODES))
    cost_centers: Mapping[str, str] = field(default_factory=dict)  # our value -> BC dimension value
    payer_classes: Mapping[str, str] = field(default_factory=dict)
    facilities: Mapping[str, str] = field(default_factory=dict)
    service_lines: Mapping[str, str] = field(default_factory=dict)
    batch_prefix: str = "RB"  # journal batch names are this + a digest, 10 characters in all
    batch_size: int = 50  # journals per submit_many
    check_before_post: bool = True  # read G/L entries first; a journal already posted is not sent
    max_operations: int = 100  # per $batch (BC's limit)
    timeout: float = 60.0
    refresh_margin: float = 300.0

    def __post_init__(self) -> None:
        if not 1 <= len(self.batch_prefix) <= 4 or not self.batch_prefix.isalnum():
            raise ValueError("batch_prefix is 1 to 4 letters or digits")
        if not 1 <= self.max_operations <= 100:
            raise ValueError("max_operations is 1 to 100 (BC refuses larger $batch requests)")

    def values(self, dimension: str) -> Mapping[str, str]:
        return {
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "facility": self.facilities,
            "service_line": self.service_lines,
        }[dimension]


class BusinessCentralConnector(BulkConnector):
    def __init__(
        self,
        settings: BusinessCentralSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "business_central",
    ) -> None:
        self.settings = settings
        self._name = name
        self._limits = limits
        self._clock: Clock = clock or SystemClock()
        self.auth = ClientCredentials(
            settings.token_url or ENTRA.format(tenant=settings.tenant),
            settings.client_id,
            settings.client_secret,
            scope=settings.scope,
            client_auth="body",  # Entra's documented form for a client secret
            refresh_margin=settings.refresh_margin,
            monotonic=monotonic,
        )
        root = f"{settings.base_url.rstrip('/')}/v2.0/{settings.tenant}/{settings.environment}/api/v2.0/"
        self.pacer = Pacer()
        self._client = httpx.Client(
            event_hooks={"request": [self.pacer]},
            base_url=root,
            timeout=settings.timeout,
            transport=transport,
            auth=self.auth,
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self.reads = BcReads(settings, self._send, self._unavailable)

    def __repr__(self) -> str:
        return f"BusinessCentralConnector({self._name!r}, tenant={self.settings.tenant!r})"

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched

    # -- the protocol ------------------------------------------------------------------------------

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        """Every journal answered, posted or rejected; ConnectorUnavailable for the whole call."""
        answers: dict[str, Answer] = {}
        by_entity: dict[str, list[Journal]] = {}
        for journal in journals:
            try:
                exact_lines(journal)
            except ConnectorRejected as exc:
                answers[journal.id] = Rejection(reference=journal.id, message=str(exc))
                continue
            by_entity.setdefault(journal.legal_entity, []).append(journal)
        for entity, group in by_entity.items():
            company = self.reads.company_id(entity)
            if company is None:
                name = self.settings.companies.get(entity, entity)
                message = f"Business Central has no company named {name!r} (legal entity {entity})"
                answers |= {j.id: Rejection(reference=j.id, message=message) for j in group}
                continue
            answers |= self._post_company(company, group)
        return answers

    def lookup(self, reference: str) -> Receipt | None:
        found = self.lookup_many([reference]).get(reference)
        return found if isinstance(found, Receipt) else None

    def lookup_many(self, references: Sequence[str]) -> dict[str, Answer]:
        """Posted references as receipts. An unposted leftover of a cut-off call is deleted (it
        was never posted, so the reference counts as unseen and may be sent again)."""
        found: dict[str, Answer] = {}
        for company in self.reads.lookup_companies():
            pending = [r for r in references if r not in found]
            if not pending:
                break
            now = self._clock.now()
            for reference, entries in self.reads.entries(company, pending).items():
                document = str(entries[0].get("documentNumber", document_number(reference)))
                found[reference] = Receipt(reference=reference, document=document, posted_at=now)
            self.reads.clear_leftovers(company, [r for r in pending if r not in found])
        return found

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        """The G/L entries BC holds per reference, BC accounts mapped back to ours."""
        ours = {bc: account for account, bc in self.settings.accounts.items()}
        held: dict[str, ErpJournal] = {}
        for entity, company in self.reads.entities().items():
            pending = [r for r in references if r not in held]
            for reference, entries in self.reads.entries(company, pending).items():
                held[reference] = erp_journal(reference, entity, entries, ours)
        return held

    def key_of(self, reference: str) -> str:
        """The form BC keeps of one of our journal ids: the document number (``RB`` + its first 18
        hex digits, upper-cased), since generalLedgerEntries exposes no longer field of ours."""
        return document_number(reference)

    def held(self, date_from: date, date_to: date) -> dict[str, ErpJournal]:
        """Every document BC holds that revbridge posted, dated in [date_from, date_to], keyed by its
        document number (``key_of``), its lines as ``read_back`` gives them: what reconciliation
        needs to find journals in BC that revbridge's store lacks. Raises only ConnectorUnavailable."""
        ours = {bc: account for account, bc in self.settings.accounts.items()}
        held: dict[str, ErpJournal] = {}
        for entity, company in self.reads.entities().items():
            for number, entries in self.reads.held_entries(company, date_from, date_to).items():
                held[number] = erp_journal(number, entity, entries, ours)
        return held

    def close(self) -> None:
        self._client.close()

    # -- posting -----------------------------------------------------------------------------------

    def _post_company(self, company: str, journals: list[Journal]) -> dict[str, Answer]:
        """Post the journals in one batch; a journal BC refuses is taken out and the rest go again."""
        answers: dict[str, Answer] = {}
        now = self._clock.now()
        if self.settings.check_before_post:  # BC has no idempotency key: never post twice
            for reference, entries in self.reads.entries(company, [j.id for j in journals]).items():
                document = str(entries[0].get("documentNumber", ""))
                answers[reference] = Receipt(reference=reference, document=document, posted_at=now)
        remaining = [j for j in journals if j.id not in answers]
        while remaining:
            plan = plan_lines(self.settings, remaining)
            try:
                self._post_plan(company, plan)
            except Refused as refused:
                culprits = refused.references or tuple(j.id for j in remaining)
                for reference in culprits:
                    lines = refused.lines if refused.references else ()
                    answers[reference] = Rejection(reference=reference, message=refused.message, lines=lines)
                remaining = [j for j in remaining if j.id not in culprits]
                continue
            now = self._clock.now()
            for journal in remaining:
                answers[journal.id] = Receipt(
                    reference=journal.id, document=document_number(journal.id), posted_at=now
                )
            break
        return answers

    def _post_plan(self, company: str, plan: Plan) -> None:
        code = batch_code(self.settings.batch_prefix, plan.references)
        journal = self._fresh_batch(company, code)
        base = f"companies({company})/journals({journal})"
        try:
            ids = self._run(plan, plan.line_operations(base))
            self._run(plan, plan.dimension_operations(base, ids))
            response = self._send("POST", f"{base}/Microsoft.NAV.post", content=b"")
            if response.status_code not in (200, 204):
                raise refusal(self._failure(response), response, plan)
        except (Refused, ConnectorUnavailable) as exc:
            cleaned = self.reads.delete_batch(company, journal)
            if isinstance(exc, ConnectorUnavailable) and not cleaned and not exc.uncertain:
                raise ConnectorUnavailable(
                    f"{exc} (a partial batch may remain)", retry_after=exc.retry_after, uncertain=True
                ) from None
            if isinstance(exc, Refused) and not cleaned:
                raise ConnectorUnavailable(
                    f"{exc.message} (and the batch could not be deleted)", uncertain=True
                ) from None
            raise
        self.reads.delete_batch(company, journal)  # posting empties the batch; do not leave it behind

    def _fresh_batch(self, company: str, code: str) -> str:
        """A new, empty journal batch named ``code``; a leftover of the same name (an earlier try of
        these same journals, never posted: posting empties a batch) is deleted first."""
        body = odata_json({"code": code, "displayName": "revbridge"}).encode()
        headers = {"Content-Type": "application/json"}
        for _ in range(2):
            response = self._send("POST", f"companies({company})/journals", content=body, headers=headers)
            if response.status_code in (200, 201):
                created = read_json(response)
                if not isinstance(created, dict) or not created.get("id"):
                    raise ConnectorUnavailable("BC created a journal batch without an id", uncertain=True)
                return str(created["id"])
            _, message = error_of(read_json(response)) if response.status_code == 400 else ("", "")
            if "already exists" not in message:
                raise self._unavailable(response, "creating a journal batch")
            for old in self.reads.journals(company, f"code eq '{code}'", expand=False):
                self.reads.delete_batch(company, str(old["id"]))
        raise ConnectorUnavailable(f"journal batch {code} exists and could not be replaced", uncertain=True)

    def _run(self, plan: Plan, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """The operations in transactional $batch requests of at most ``max_operations``; the
        answers' bodies by operation id. A refused operation names its journal line."""
        bodies: dict[str, Any] = {}
        size = self.settings.max_operations
        for start in range(0, len(operations), size):
            chunk = operations[start : start + size]
            response = self._send(
                "POST",
                "$batch",
                content=odata_json({"requests": chunk}).encode(),
                headers={"Content-Type": "application/json", "Isolation": "snapshot"},
            )
            if response.status_code != 200:
                raise refusal(self._failure(response), response, plan)
            answers = read_json(response)
            replies = answers.get("responses") if isinstance(answers, dict) else None
            if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
                raise ConnectorUnavailable("$batch answer without responses", uncertain=True)
            for reply in replies:  # a refused operation first: BC stops the batch there
                status = reply.get("status")
                if not isinstance(status, int):
                    raise ConnectorUnavailable("$batch answer without an operation status", uncertain=True)
                if status >= 300:
                    inner = httpx.Response(
                        status,
                        headers=reply.get("headers") or {},
                        content=odata_json(reply.get("body")).encode(),
                    )
                    raise refusal(self._failure(inner), inner, plan, operation=str(reply.get("id")))
            if len(replies) != len(chunk):
                raise ConnectorUnavailable("$batch answer does not list every operation", uncertain=True)
            for reply in replies:
                bodies[str(reply.get("id"))] = reply.get("body")
        return bodies

    # -- HTTP --------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return send(self._client, method, path, **kwargs)

    def _failure(self, response: httpx.Response) -> ConnectorUnavailable | ConnectorRejected:
        return failure(response, now=self._clock.now, message=bc_message)

    def _unavailable(self, response: httpx.Response, doing: str) -> ConnectorUnavailable:
        outcome = self._failure(response)
        if isinstance(outcome, ConnectorRejected):  # a refused read or batch creation: setup
            return ConnectorUnavailable(f"Business Central refused {doing}: {outcome}")
        return outcome
