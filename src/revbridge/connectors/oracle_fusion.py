"""Oracle Fusion Cloud ERP General Ledger: journals as an FBDI GlInterface.csv through the ERP
Integrations REST resource, followed through Oracle's ESS jobs until Journal Import has spoken.
The protocol as Oracle documents it (erp-apis.md A.1):
1. ``POST /fscmRestApi/resources/11.13.18.05/erpintegrations`` with ``OperationName``
   ``importBulkData``, the base64 zip (``DocumentContent``, ``ContentType`` zip, ``FileName``),
   ``DocumentAccount`` ``fin$/generalLedger$/import$``, ``JobName`` JournalImportLauncher and
   ``ParameterList`` ``<DataAccessSetId>,<JournalSourceName>,<LedgerId>,<GroupId>,N,N,N``; the
   answer carries ``ReqstId``, the "Load Interface File for Import" ESS request
   (https://docs.oracle.com/en/cloud/saas/financials/24c/farfa/op-erpintegrations-post.html,
   https://docs.oracle.com/en/cloud/saas/financials/24d/farfa/Importing_Financials_Data.html).
2. ``GET ...erpintegrations?finder=ESSJobStatusRF;requestId=N`` -> ``items[0].RequestStatus``
   until SUCCEEDED, WARNING, ERROR or CANCELED; ``finder=ESSJobExecutionDetailsRF;requestId=N,
   fileType=ALL`` -> ``DocumentContent``, a zip of the job's log and output. The load job's log
   names the child Import Journals request; its output lists imported journals and rejected
   GL_INTERFACE rows with their STATUS codes (EF04, EC03, EP01, EU02...).
3. ``GET .../journalBatches?q=...`` (read only, api-journal-batches.html) confirms the batch
   exists; only then is a journal posted. ``held`` lists the batches of our journal source by
   date the same way, page by page (``limit``/``offset`` while ``hasMore``, op-journalbatches-get).

Oracle has no idempotency key. REFERENCE1 (batch name) and REFERENCE4 (journal name) are our
journal id and GROUP_ID is derived from the ids (exports.group_id_of), so ``lookup_many`` finds an
imported journal by batch name (Journal Import keeps the first 50 characters of REFERENCE1 at the
start of the batch name). An upload still loading cannot be found through REST (see the docs).
Auth: HTTP Basic (integration user) over TLS, or OAuth2 client credentials (``token_url``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import httpx

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
from revbridge.connectors.exports import exact_lines, group_id_of
from revbridge.connectors.http import (
    BulkConnector,
    ClientCredentials,
    Pacer,
    detail,
    failure,
    read_json,
    send,
)
from revbridge.connectors.oracle_fusion_files import (
    ENDED,
    FAILED,
    ImportReport,
    Ticket,
    batch_reference,
    child_request,
    erp_journal,
    execution_files,
    held_query,
    import_bulk_data,
    import_report,
    log_excerpt,
    rejection,
    render_upload,
)
from revbridge.connectors.oracle_fusion_settings import OracleFusionSettings as OracleFusionSettings
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

DEFAULT_LIMITS = Limits(
    rate_per_second=5.0, burst=10, concurrency=2, poll_interval=30.0, poll_deadline=4 * 3600.0
)
_CONFIRM_CHUNK = 40  # JeBatchId terms per journalBatches query


class OracleFusionConnector(BulkConnector):
    def __init__(
        self,
        settings: OracleFusionSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "oracle_fusion",
    ) -> None:
        self.settings = settings
        self._name, self._limits = name, limits
        self._clock: Clock = clock or SystemClock()
        self._fbdi = settings.fbdi()
        self.auth: ClientCredentials | None = None
        auth: httpx.Auth
        if settings.token_url:
            self.auth = ClientCredentials(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
                scope=settings.scope or None,
                refresh_margin=settings.refresh_margin,
                monotonic=monotonic,
            )
            auth = self.auth
        else:
            auth = httpx.BasicAuth(settings.username, settings.password)
        self.pacer = Pacer()
        self._client = httpx.Client(
            base_url=settings.base_url,
            timeout=settings.timeout,
            transport=transport,
            auth=auth,
            event_hooks={"request": [self.pacer]},
        )
        self._children: dict[str, str] = {}  # load request -> its Import Journals request
        self._in_flight: dict[str, str] = {}  # reference -> ticket, for this process's uploads

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched if self.auth is not None else 0

    def close(self) -> None:
        self._client.close()

    # -- posting --------------------------------------------------------------------------------------

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        """One importBulkData upload per ledger; every journal accepted under its upload's ticket,
        or rejected before sending (no ledger, no category, not balanced in minor units). Journals
        Oracle already holds, or that this process is still importing, are answered from there and
        not sent again: Oracle itself would import them twice."""
        answers: dict[str, Answer] = dict(self.lookup_many([j.id for j in journals]))
        per_ledger: dict[str, list[Journal]] = {}
        for journal in (j for j in journals if j.id not in answers):
            try:
                self._fbdi_ready(journal)
            except ConnectorRejected as exc:
                answers[journal.id] = Rejection(reference=journal.id, message=str(exc))
                continue
            per_ledger.setdefault(self.settings.ledger_ids[journal.legal_entity], []).append(journal)
        uploaded = False
        for ledger, group in per_ledger.items():
            try:
                answers |= self._upload(ledger, group)
            except ConnectorUnavailable as exc:
                # an earlier upload of this call went through: the outbox must look up before a re-send
                raise ConnectorUnavailable(
                    str(exc), retry_after=exc.retry_after, uncertain=exc.uncertain or uploaded
                ) from None
            uploaded = True
        return answers

    def _fbdi_ready(self, journal: Journal) -> None:
        if not self.settings.ledger_ids.get(journal.legal_entity):
            raise ConnectorRejected(f"no Oracle ledger id for legal entity {journal.legal_entity!r}")
        if not self.settings.categories.get(journal.lane.value):
            raise ConnectorRejected(f"no Oracle journal category for lane {journal.lane.value!r}")
        exact_lines(journal)

    def _upload(self, ledger: str, journals: list[Journal]) -> dict[str, Answer]:
        group_id = group_id_of([j.id for j in journals])
        content = render_upload(journals, self._fbdi, self.settings.segment_maps(), group_id)
        s = self.settings
        parameters = f"{s.data_access_set_id or '#NULL'},{s.journal_source},{ledger},{group_id},N,N,N"
        body = import_bulk_data(content, f"GlInterface_{ledger}_{group_id}.zip", parameters)
        response = send(self._client, "POST", f"{s.api_root}/erpintegrations", json=body)
        if response.status_code not in (200, 201):
            refused = failure(response, now=self._clock.now, message=detail)
            if isinstance(refused, ConnectorRejected):
                return {j.id: Rejection(reference=j.id, message=str(refused)) for j in journals}
            raise refused
        found = read_json(response)
        request_id = str(found.get("ReqstId") or "") if isinstance(found, dict) else ""
        if not request_id.isdigit():
            raise ConnectorUnavailable("Oracle answered importBulkData without a ReqstId", uncertain=True)
        ticket = str(Ticket(request_id, group_id))
        self._in_flight |= {j.id: ticket for j in journals}
        return {j.id: Receipt(reference=j.id, document=ticket, status=ACCEPTED) for j in journals}

    # -- following the ESS jobs -----------------------------------------------------------------------

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals Oracle has finished with: posted (batch confirmed) or rejected."""
        per_ticket: dict[str, list[str]] = {}
        for receipt in accepted:
            per_ticket.setdefault(receipt.document, []).append(receipt.reference)
        done: dict[str, Answer] = {}
        for text, references in per_ticket.items():
            ticket = Ticket.parse(text)
            if ticket is None:
                done |= {
                    r: Rejection(reference=r, message=f"not an Oracle ticket: {text}") for r in references
                }
                continue
            done |= self._follow(ticket, references)
        for reference in done:
            self._in_flight.pop(reference, None)
        return done

    def _follow(self, ticket: Ticket, references: list[str]) -> dict[str, Answer]:
        child = self._children.get(ticket.request_id)  # known: the load job has ended well
        if child is None:
            load_status = self._status(ticket.request_id)
            if load_status not in ENDED:
                return {}
            files = self._details(ticket.request_id)
            child = child_request(files)
            if load_status in FAILED or child is None:
                words = log_excerpt(files) or "no log"
                message = f"Oracle load request {ticket.request_id} ended {load_status}: {words}"
                return {r: Rejection(reference=r, message=message, document=str(ticket)) for r in references}
            self._children[ticket.request_id] = child
        status = self._status(child)
        if status not in ENDED:
            return {}
        files = self._details(child)
        report = import_report(files)
        if report is None:
            words = log_excerpt(files) or "no output"
            message = f"Oracle Import Journals request {child} ended {status}: {words}"
            return {r: Rejection(reference=r, message=message, document=str(ticket)) for r in references}
        return self._answers(ticket, child, status, report, references)

    def _answers(
        self, ticket: Ticket, child: str, status: str, report: ImportReport, references: list[str]
    ) -> dict[str, Answer]:
        confirmed = self._existing_batches([report.imported[r] for r in references if r in report.imported])
        answers: dict[str, Answer] = {}
        for reference in references:
            batch = report.imported.get(reference)
            if batch is not None and batch in confirmed:
                answers[reference] = Receipt(reference=reference, document=batch, posted_at=self._clock.now())
            elif batch is not None:
                continue  # imported but not yet readable: ask again at the next check
            elif reference in report.rejected:
                answers[reference] = rejection(reference, report.rejected[reference], str(ticket))
            else:
                message = (
                    f"Oracle Import Journals request {child} ended {status} without importing this journal"
                )
                answers[reference] = Rejection(reference=reference, message=message, document=str(ticket))
        return answers

    def _status(self, request_id: str) -> str:
        items = self._items("erpintegrations", {"finder": f"ESSJobStatusRF;requestId={request_id}"})
        return str(items[0].get("RequestStatus", "")).upper() if items else ""

    def _details(self, request_id: str) -> dict[str, str]:
        finder = f"ESSJobExecutionDetailsRF;requestId={request_id},fileType=ALL"
        items = self._items("erpintegrations", {"finder": finder})
        if not items:
            return {}
        try:
            return execution_files(items[0].get("DocumentContent"))
        except ValueError as exc:
            raise ConnectorUnavailable(
                f"Oracle execution details for {request_id}: {exc}", uncertain=True
            ) from None

    def _existing_batches(self, batch_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(batch_ids), _CONFIRM_CHUNK):
            chunk = batch_ids[start : start + _CONFIRM_CHUNK]
            q = " or ".join(f"(JeBatchId={b})" for b in chunk if b.isdigit())
            if q:
                items = self._items("journalBatches", {"q": q, "fields": "JeBatchId", "limit": "500"})
                found |= {str(item.get("JeBatchId")) for item in items}
        return found

    # -- finding and reading back ---------------------------------------------------------------------

    def lookup(self, reference: str) -> Receipt | None:
        answer = self.lookup_many([reference]).get(reference)
        return answer if isinstance(answer, Receipt) else None

    def lookup_many(self, references: Sequence[str]) -> dict[str, Answer]:
        """Journals Oracle holds (batch found by name: posted) or that this process uploaded and
        Oracle is still importing (accepted, under their ticket)."""
        found: dict[str, Answer] = {}
        for reference, batches in self._batches(references, expand=False).items():
            document = str(min(int(b.get("JeBatchId", 0)) for b in batches))
            found[reference] = Receipt(reference=reference, document=document)
        for reference in references:
            if reference not in found and reference in self._in_flight:
                found[reference] = Receipt(
                    reference=reference, document=self._in_flight[reference], status=ACCEPTED
                )
        return found

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        return {r: self._journal(r, b) for r, b in self._batches(references, expand=True).items()}

    def held(self, date_from: date, date_to: date) -> dict[str, ErpJournal]:
        """Every journal of our journal source with an accounting date in [date_from, date_to],
        keyed by our journal id (the batch name up to its first space: Journal Import keeps the
        first 50 characters of REFERENCE1, and our ids are shorter), read as ``read_back`` reads
        it. Reconciliation names from here what Oracle holds that revbridge never sent. The
        source is the mark: a batch entered by hand under it is held too, another source's is not."""
        params = {"q": held_query(self.settings.journal_source, date_from, date_to)}
        params |= {"expand": "journalHeaders.journalLines", "orderBy": "JeBatchId:asc"}
        per_reference: dict[str, list[dict[str, Any]]] = {}
        for batch in self._pages("journalBatches", params):
            per_reference.setdefault(batch_reference(batch), []).append(batch)
        try:
            journals = {r: self._journal(r, batches) for r, batches in per_reference.items()}
        except (ValueError, ArithmeticError) as exc:  # an amount or date Oracle would not write
            raise ConnectorUnavailable(f"Oracle journalBatches unreadable: {exc}", uncertain=True) from None
        # the batch's DefaultEffectiveDate filtered; the journals' own AccountingDate decides
        return {
            r: j
            for r, j in journals.items()
            if j.posting_date is None or date_from <= j.posting_date <= date_to
        }

    def _journal(self, reference: str, batches: Sequence[Mapping[str, Any]]) -> ErpJournal:
        """Batches as one ErpJournal of ours: ERP ledger and account mapped back to ours."""
        s = self.settings
        return erp_journal(
            reference,
            batches,
            ledgers={ledger: entity for entity, ledger in s.ledger_ids.items()},
            account_segment=s.segments.index("account"),
            delimiter=s.segment_delimiter,
            accounts={erp: ours for ours, erp in s.account_map.items()},
        )

    def _batches(self, references: Sequence[str], *, expand: bool) -> dict[str, list[dict[str, Any]]]:
        """Journal batches per reference, found by batch name (Journal Import keeps the first 50
        characters of REFERENCE1 at its start), ``_CONFIRM_CHUNK`` references per query."""
        prefixes = {r[:50]: r for r in dict.fromkeys(references) if r.isalnum()}  # hex ids only in a query
        found: dict[str, list[dict[str, Any]]] = {}
        names = list(prefixes)
        for start in range(0, len(names), _CONFIRM_CHUNK):
            q = " or ".join(f"(BatchName LIKE '{p}%')" for p in names[start : start + _CONFIRM_CHUNK])
            params = {"q": q, "limit": "500"}
            if expand:
                params["expand"] = "journalHeaders.journalLines"
            for batch in self._items("journalBatches", params):
                name = str(batch.get("BatchName", ""))
                for reference in (r for p, r in prefixes.items() if name.startswith(p)):
                    found.setdefault(reference, []).append(batch)
        return found

    def _items(self, resource: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        return self._page(resource, params)[0]

    def _pages(self, resource: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a query, ``page_size`` at a time (``limit``/``offset``), while Oracle
        answers ``hasMore``; ordered by the caller so that pages neither skip nor repeat."""
        offset = 0
        while True:
            paged = {**params, "limit": str(self.settings.page_size), "offset": str(offset)}
            items, more = self._page(resource, paged)
            yield from items
            if not more:
                return
            if not items:
                raise ConnectorUnavailable(
                    f"Oracle answered hasMore with no {resource} items", uncertain=True
                )
            offset += len(items)

    def _page(self, resource: str, params: Mapping[str, str]) -> tuple[list[dict[str, Any]], bool]:
        response = send(self._client, "GET", f"{self.settings.api_root}/{resource}", params=params)
        if response.status_code != 200:
            refused = failure(response, now=self._clock.now)
            if isinstance(refused, ConnectorRejected):  # a query Oracle refuses is a setup problem
                raise ConnectorUnavailable(f"Oracle refused a {resource} query: {refused}")
            raise refused
        body = read_json(response)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ConnectorUnavailable(f"Oracle answered a {resource} query without items", uncertain=True)
        more = isinstance(body, dict) and body.get("hasMore") is True
        return [item for item in items if isinstance(item, dict)], more
