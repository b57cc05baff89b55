"""The Microsoft Dynamics 365 Finance (F&O) connector: DMF package import of the General journal
entity, OData for a few journals, posting left to F&O's own journal post step.

Protocol, as MS Learn documents it:
- Data management package REST API
  (https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/data-management-api):
  ``POST /data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.<action>`` with
  ``GetAzureWriteUrl {"uniqueFileName"}`` -> ``{"value": "<JSON text with BlobId, BlobUrl>"}``, a PUT
  of the package zip to that SAS URL (``x-ms-blob-type: BlockBlob``, no bearer token),
  ``ImportFromPackage {"packageUrl", "definitionGroupId", "executionId", "execute", "overwrite",
  "legalEntityId"}`` -> the execution id (a batch job; never called in parallel, so one lock),
  ``GetExecutionSummaryStatus {"executionId"}`` -> Unknown, NotRun, Executing, Succeeded,
  PartiallySucceeded, Failed or Canceled, and for errors ``GetImportStagingErrorFileUrl`` then
  ``GenerateImportTargetErrorKeysFile`` and ``GetImportTargetErrorKeysFileUrl`` (empty until ready).
- General journal entity (LedgerJournalEntity, DMF only, set-based; about 10,000 lines a package):
  https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/entity-general-journal
  ; the package is built in dynamics_finance_package.py.
- Ledger journal header/line entities over OData (dynamics_finance_odata.py):
  https://learn.microsoft.com/en-us/dynamics365/guidance/resources/import-general-journals
- Account display values in the integration format ("Financial dimension configuration for
  integrating applications"): main account, then the configured dimensions, delimiter-separated.
- Service protection: 429 "Too many requests" with Retry-After
  (https://learn.microsoft.com/en-us/dynamics365/fin-ops-core/dev-itpro/data-entities/service-protection-api-limits).
- Auth: Microsoft Entra ID client credentials, scope ``<base_url>/.default``; the app is listed on
  F&O's "Microsoft Entra applications" page and mapped to an integration user.

Both paths *create* journals; F&O posts them in a separate step (General ledger > Journal entries >
Journal post, run as a recurring batch job by the finance team). So every submit answers
``accepted``: the DMF execution id, or the journal batch number of an OData journal. ``check`` reads
the execution status, turns error-file rows into rejections naming our lines, and answers
``posted`` only when the journal header says ``IsPosted = Yes``.

Idempotency: F&O has none. The execution id is derived from the journal ids, so a resent package
is found by its status instead of imported again, and each journal's key (its id, shortened) is the
journal description, by which ``lookup_many`` finds what F&O holds.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from revbridge.connectors.base import (
    ACCEPTED,
    POSTED,
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    ErpJournal,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.dynamics_finance_dmf import DmfImports
from revbridge.connectors.dynamics_finance_odata import ODataJournals, receipt_for
from revbridge.connectors.dynamics_finance_package import (
    DIMENSIONS,
    EXECUTION_PREFIX,
    display_value,
    execution_id,
    journal_key,
    rows_for,
)
from revbridge.connectors.dynamics_finance_read import LedgerReader
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.http import BulkConnector, ClientCredentials, Pacer, failure
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

DEFAULT_LIMITS = Limits(
    rate_per_second=5.0, burst=10, concurrency=2, backoff_base=2.0, backoff_cap=300.0,
    poll_interval=30.0, poll_deadline=6 * 3600.0,
)  # fmt: skip
WORKING = ("NotRun", "Executing", "Unknown")


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicsFinanceSettings:
    base_url: str  # https://contoso.operations.dynamics.com
    client_id: str
    client_secret: str
    tenant_id: str = ""  # Entra tenant: the token URL is built from it unless token_url is given
    token_url: str = ""
    scope: str = ""  # default: <base_url>/.default
    definition_group: str = "REVBRIDGE-GENERAL-JOURNAL"  # the import project for the General journal
    journal_name: str = "GenJrn"  # F&O journal name (Daily type) the journals are made in
    companies: Mapping[str, str] = field(default_factory=dict)  # our legal entity -> dataAreaId
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> F&O main account
    dimension_format: tuple[str, ...] = ("cost_center", "payer_class", "facility", "service_line")
    dimension_delimiter: str = "-"
    facilities: Mapping[str, str] = field(default_factory=dict)  # our value -> F&O dimension value
    cost_centers: Mapping[str, str] = field(default_factory=dict)
    payer_classes: Mapping[str, str] = field(default_factory=dict)
    service_lines: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 2000  # journals per package (about 10,000 lines at five lines a journal)
    odata_below: int = 5  # a legal entity's group smaller than this goes over OData
    lookup_chunk: int = 25  # keys per OData $filter
    timeout: float = 60.0
    refresh_margin: float = 300.0

    def __post_init__(self) -> None:
        unknown = set(self.dimension_format) - set(DIMENSIONS)
        if unknown:
            raise ValueError(f"dimension_format names unknown dimensions {sorted(unknown)}; use {DIMENSIONS}")
        if not (self.token_url or self.tenant_id):
            raise ValueError("give tenant_id (or token_url)")
        if not self.dimension_delimiter:
            raise ValueError("dimension_delimiter must not be empty")

    def dimension_maps(self) -> dict[str, Mapping[str, str]]:
        """Our value -> F&O's, per dimension."""
        return {
            "facility": self.facilities,
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "service_line": self.service_lines,
        }


class DynamicsFinanceConnector(BulkConnector):
    def __init__(
        self,
        settings: DynamicsFinanceSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "dynamics_finance",
    ) -> None:
        self._name = name
        self.settings = settings
        self._limits = limits
        self._clock: Clock = clock or SystemClock()
        base = settings.base_url.rstrip("/")
        token_url = (
            settings.token_url or f"https://login.microsoftonline.com/{settings.tenant_id}/oauth2/v2.0/token"
        )
        self.auth = ClientCredentials(
            token_url,
            settings.client_id,
            settings.client_secret,
            scope=settings.scope or f"{base}/.default",
            client_auth="body",
            refresh_margin=settings.refresh_margin,
            monotonic=monotonic,
        )
        pool = httpx.Limits(max_connections=max(1, limits.concurrency) * 2)
        self.pacer = Pacer()
        hooks: dict[str, list[Callable[..., object]]] = {"request": [self.pacer]}
        self._client = httpx.Client(
            event_hooks=hooks,
            base_url=base,
            timeout=settings.timeout,
            transport=transport,
            auth=self.auth,
            limits=pool,
        )
        self._blobs = httpx.Client(
            event_hooks=hooks, timeout=settings.timeout, transport=transport, limits=pool
        )  # SAS: no token
        self.dmf = DmfImports(
            self._client, self._blobs, definition_group=settings.definition_group, failure=self._failure
        )
        self._odata = ODataJournals(
            self._client,
            journal_name=settings.journal_name,
            chunk=settings.lookup_chunk,
            failure=self._failure,
        )
        self._dimension_maps = settings.dimension_maps()
        self._reader = LedgerReader(
            self._odata,
            delimiter=settings.dimension_delimiter,
            accounts=settings.accounts,
            companies=settings.companies,
        )

    def __repr__(self) -> str:
        return f"DynamicsFinanceConnector({self.settings.base_url!r}, {self._name!r})"

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched

    # -- the protocol ------------------------------------------------------------------------------

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        """One package per legal entity (OData for a group below ``odata_below``). Once a group
        has gone, a later failure is uncertain for the call: a resend finds what went."""
        answers: dict[str, Answer] = {}
        groups: dict[str, list[Journal]] = defaultdict(list)
        for journal in journals:
            groups[journal.legal_entity].append(journal)
        sent = False
        try:
            for legal_entity, group in sorted(groups.items()):
                company = self.settings.companies.get(legal_entity, legal_entity)
                if len(group) < self.settings.odata_below:
                    answers |= {j.id: self._odata_answer(j, company) for j in group}
                else:
                    answers |= self._import(company, group)
                sent = True
        except ConnectorUnavailable as exc:
            if sent and not exc.uncertain:
                raise ConnectorUnavailable(str(exc), retry_after=exc.retry_after, uncertain=True) from None
            raise
        return answers

    def lookup(self, reference: str) -> Receipt | None:
        answer = self.lookup_many([reference]).get(reference)
        return answer if isinstance(answer, Receipt) else None

    def lookup_many(self, references: Sequence[str]) -> dict[str, Answer]:
        """Journals F&O holds (by key), then a package still importing (by execution id)."""
        keys = {journal_key(r): r for r in references}
        found = self._odata.headers(list(keys))
        answers: dict[str, Answer] = {keys[k]: receipt_for(keys[k], h) for k, h in found.items() if k in keys}
        missing = [r for r in references if r not in answers]
        for candidates in (missing, list(references)):
            if not missing or not candidates:
                break
            execution = execution_id(candidates)
            if self.dmf.status(execution) != "Unknown":
                answers |= {r: Receipt(reference=r, document=execution, status=ACCEPTED) for r in missing}
                break
        return answers

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        done: dict[str, Answer] = {}
        by_document: dict[str, list[Receipt]] = defaultdict(list)
        for receipt in accepted:
            by_document[receipt.document].append(receipt)
        for document, receipts in by_document.items():
            if document.startswith(EXECUTION_PREFIX):
                done |= self._check_execution(document, receipts)
            else:
                headers = self._odata.headers([journal_key(r.reference) for r in receipts])
                done |= self._posted(receipts, headers)
        return done

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        return self._reader.read_back(references)

    def held(self, date_from: date, date_to: date) -> Mapping[str, ErpJournal]:
        """Every journal the ERP holds that revbridge sent, with a posting (accounting) date in
        [date_from, date_to], keyed by our journal id (F&O keeps it whole), lines as read_back
        gives them: so reconcile names what F&O holds that revbridge never sent. Pages through
        F&O's OData (dynamics_finance_read.py). Raises only ConnectorUnavailable."""
        return self._reader.held(date_from, date_to)

    def close(self) -> None:
        self._client.close()
        self._blobs.close()

    # -- DMF ---------------------------------------------------------------------------------------

    def _import(self, company: str, group: Sequence[Journal]) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        rows: list[dict[str, str]] = []
        ready: list[Journal] = []
        for number, journal in enumerate(sorted(group, key=lambda j: j.id), start=1):
            try:
                rows.extend(rows_for(journal, number, self.settings.journal_name, self._displays(journal)))
            except ConnectorRejected as exc:
                answers[journal.id] = Rejection(reference=journal.id, message=str(exc), lines=exc.lines)
                continue
            ready.append(journal)
        if not ready:
            return answers
        execution = execution_id(j.id for j in ready)
        try:
            if self.dmf.status(execution) == "Unknown":  # never imported: import it; else it is found
                execution = self.dmf.upload(company, execution, rows)
        except ConnectorRejected as exc:
            return answers | {
                j.id: Rejection(reference=j.id, message=str(exc), document=execution) for j in ready
            }
        return answers | {j.id: Receipt(reference=j.id, document=execution, status=ACCEPTED) for j in ready}

    def _check_execution(self, execution: str, receipts: Sequence[Receipt]) -> dict[str, Answer]:
        status = self.dmf.status(execution)
        if status in WORKING:
            return {}
        if status not in ("Succeeded", "PartiallySucceeded", "Failed"):
            message = f"F&O import {execution} ended {status}"
            return {
                r.reference: Rejection(reference=r.reference, message=message, document=execution)
                for r in receipts
            }
        errors = {} if status == "Succeeded" else self.dmf.errors(execution)
        if errors is None:  # the target error keys file is not ready yet
            return {}
        done: dict[str, Answer] = {}
        rest = []
        for receipt in receipts:
            refused = errors.get(journal_key(receipt.reference))
            if refused is None:
                rest.append(receipt)
                continue
            messages, lines = refused
            done[receipt.reference] = Rejection(
                reference=receipt.reference,
                message="; ".join(messages)[:1000],
                lines=lines,
                document=execution,
            )
        headers = self._odata.headers([journal_key(r.reference) for r in rest]) if rest else {}
        done |= self._posted(rest, headers)
        if status == "Failed":
            message = f"F&O import {execution} Failed; its error files name no line of this journal"
            for receipt in rest:
                if journal_key(receipt.reference) not in headers:
                    done[receipt.reference] = Rejection(
                        reference=receipt.reference, message=message, document=execution
                    )
        return done

    # -- helpers -----------------------------------------------------------------------------------

    def _odata_answer(self, journal: Journal, company: str) -> Answer:
        try:
            return self._odata.submit(journal, company, self._displays(journal))
        except ConnectorRejected as exc:
            return Rejection(reference=journal.id, message=str(exc), lines=exc.lines)

    def _displays(self, journal: Journal) -> dict[int, str]:
        """Each line's account display value: main account then the mapped dimension values."""
        displays = {}
        for line in exact_lines(journal):
            values = [
                self._dimension_maps[d].get(getattr(line, d), getattr(line, d))
                for d in self.settings.dimension_format
            ]
            account = self.settings.accounts.get(line.account, line.account)
            displays[line.line_no] = display_value(account, values, self.settings.dimension_delimiter)
        return displays

    def _posted(
        self, receipts: Sequence[Receipt], headers: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Answer]:
        done: dict[str, Answer] = {}
        for receipt in receipts:
            header = headers.get(journal_key(receipt.reference))
            if header is not None and str(header.get("IsPosted", "")) == "Yes":
                document = str(header["JournalBatchNumber"])
                done[receipt.reference] = Receipt(
                    reference=receipt.reference, document=document, status=POSTED, posted_at=self._clock.now()
                )
        return done

    def _failure(self, response: httpx.Response) -> ConnectorUnavailable | ConnectorRejected:
        return failure(response, now=self._clock.now)
