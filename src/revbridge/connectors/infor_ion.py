"""The Infor CloudSuite Financials connector: journals as BODs through Infor ION (erp-apis.md A.7).

Protocol, as Infor documents it (sources named in each module):
- Authentication (infor_ion_auth.py): OAuth 2.0 through the ION API gateway with the ``.ionapi``
  file of a backend service client: the resource-owner password grant with the service account's
  keys at ``{pu}{ot}``; a bearer token, renewed before it expires and once after a 401.
- Send (infor_ion_http.py): the journal as one ``ProcessSourceSystemJournalEntry`` BOD
  (infor_ion_bod.py) to ION's messaging service, ``POST {iu}/{ti}/IONSERVICES/api/ion/messaging/
  service/v2/multipartMessage``; ION answers 201 when it has the message. That is all ION says at
  once: the journal is *accepted*, its ticket the BODID (deterministic from the journal id).
- The result: CloudSuite Financials answers with an ``AcknowledgeSourceSystemJournalEntry`` BOD
  routed back to our logical id (or ION with a ``ConfirmBOD`` when the BOD failed in ION).
  ``check`` (``Follows``) finds it through ION OneView by our journal id and reads it:
  Accepted/Modified -> posted, the document CloudSuite's journal number (``DisplayID``);
  Rejected -> a rejection with CloudSuite's reasons and our line numbers of the lines it echoed.
  An acknowledgement that comes twice is read once (an Accepted one wins over a later duplicate
  refusal of a resend); one that never comes leaves the journal accepted until the outbox's
  ``poll_deadline`` makes it an ERP_UNAVAILABLE work item naming the BODID.
- ``lookup``: the acknowledgement if there is one, else whether ION holds our Process BOD (then
  the journal is accepted again and followed, never sent twice). ``read_back`` and ``held`` read
  the noun CloudSuite echoes in its accepted acknowledgements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from revbridge.connectors.base import ACCEPTED, Answer, ErpJournal, Limits, Receipt
from revbridge.connectors.http import HttpConnector, Pacer
from revbridge.connectors.infor_ion_auth import PasswordGrant, read_ionapi
from revbridge.connectors.infor_ion_bod import (
    DIMENSIONS,
    PROCESS,
    Acknowledgement,
    answer,
    bod_id,
    erp_journal,
    journal_source,
    process_bod,
    split_ticket,
    stamp,
    ticket,
)
from revbridge.connectors.infor_ion_http import IonHttp
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

# ION's gateway throttles per tenant and CloudSuite processes BODs in the background
DEFAULT_LIMITS = Limits(
    rate_per_second=5.0, burst=5, concurrency=2, backoff_base=2.0, backoff_cap=120.0, poll_interval=15.0
)
# settings field -> the .ionapi field that fills it when left empty
IONAPI = {
    "tenant": "ti",
    "client_id": "ci",
    "client_secret": "cs",
    "gateway_url": "iu",
    "sso_url": "pu",
    "authorize_path": "oa",
    "token_path": "ot",
    "revoke_path": "or",
    "access_key": "saak",
    "secret_key": "sask",
}
REQUIRED = ("tenant", "client_id", "client_secret", "gateway_url", "sso_url", "access_key", "secret_key")


@dataclass(frozen=True, slots=True, kw_only=True)
class InforIonSettings:
    ionapi_file: Path | None = None  # the downloaded .ionapi file; fills the fields left empty
    tenant: str = ""  # ti
    client_id: str = ""  # ci
    client_secret: str = ""  # cs, secret
    gateway_url: str = ""  # iu: https://mingle-ionapi.inforcloudsuite.com
    sso_url: str = ""  # pu: https://mingle-sso.inforcloudsuite.com:443/<tenant>/as/
    authorize_path: str = ""  # oa (not used by the password grant; kept with the others)
    token_path: str = ""  # ot: token.oauth2
    revoke_path: str = ""  # or (not used)
    access_key: str = ""  # saak: the service account's access key
    secret_key: str = ""  # sask, secret: its secret key
    refresh_margin: float = 300.0  # seconds before expiry a token is renewed
    logical_id: str = "lid://infor.revbridge.revbridge"  # our connection point's logical id
    to_logical_id: str = "lid://default"
    component_id: str = "revbridge"
    accounting_entities: Mapping[str, str] = field(default_factory=dict)  # legal entity -> entity
    ledger_id: str = "CORE"
    journal_reference: str = "REVBRIDGE"  # AccountingJournalReference/ID: the journal source
    journal_status: str = "Final"  # Final | Provisional
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> GLNominalAccount
    dimension_lists: Mapping[str, str] = field(
        default_factory=lambda: {
            "facility": "FACILITY",
            "cost_center": "COSTCENTER",
            "payer_class": "PAYERCLASS",
            "service_line": "SERVICELINE",
        }
    )  # our dimension -> DimensionCode listID; a dimension left out is not sent
    description_prefix: str = "revbridge"
    page_size: int = 100  # OneView records per page
    timeout: float = 30.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.dimension_lists) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"dimension_lists name unknown dimensions: {', '.join(unknown)}")
        if self.journal_status not in ("Final", "Provisional"):
            raise ValueError("journal_status is Final or Provisional")
        if self.ionapi_file is None:
            self.check()

    def __repr__(self) -> str:  # never the secrets
        return f"InforIonSettings(tenant={self.tenant!r}, logical_id={self.logical_id!r})"

    def check(self) -> None:
        missing = [name for name in REQUIRED if not getattr(self, name)]
        if missing:
            raise ValueError(f"infor_ion needs {', '.join(missing)} (or an ionapi_file holding them)")

    def resolved(self) -> InforIonSettings:
        """These settings with the .ionapi file's fields filling those left empty."""
        if self.ionapi_file is None:
            return self
        found = read_ionapi(self.ionapi_file)
        names = {f.name for f in fields(self)}
        filled: dict[str, Any] = {
            k: found[v] for k, v in IONAPI.items() if k in names and not getattr(self, k) and v in found
        }
        made = replace(self, **filled)
        made.check()
        return made

    @property
    def token_url(self) -> str:
        return self.sso_url.rstrip("/") + "/" + (self.token_path or "token.oauth2").lstrip("/")

    def accounting_entity(self, legal_entity: str) -> str:
        return self.accounting_entities.get(legal_entity, legal_entity)


class InforIonConnector(HttpConnector):
    def __init__(
        self,
        settings: InforIonSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "infor_ion",
    ) -> None:
        self._name = name
        self._clock: Clock = clock or SystemClock()
        self.settings = settings.resolved()
        self._limits = limits
        self.auth = PasswordGrant(
            self.settings.token_url,
            self.settings.client_id,
            self.settings.client_secret,
            access_key=self.settings.access_key,
            secret_key=self.settings.secret_key,
            refresh_margin=self.settings.refresh_margin,
            monotonic=monotonic,
        )
        self.pacer = Pacer()
        client = httpx.Client(
            event_hooks={"request": [self.pacer]},
            base_url=self.settings.gateway_url.rstrip("/"),
            timeout=self.settings.timeout,
            transport=transport,
            auth=self.auth,
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._ion = IonHttp(client, self.settings.tenant, self._clock, page_size=self.settings.page_size)

    def __repr__(self) -> str:
        return f"InforIonConnector({self._name!r}, {self.settings.tenant!r})"

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched

    def bod_id(self, journal: Journal) -> str:
        entity = self.settings.accounting_entity(journal.legal_entity)
        return bod_id(self.settings.tenant, entity, journal.id)

    # -- the protocol ------------------------------------------------------------------------------

    def submit(self, journal: Journal) -> Receipt:
        """Hand ION the journal's BOD: accepted, its ticket the BODID (check follows it)."""
        entity = self.settings.accounting_entity(journal.legal_entity)
        created = self._clock.now()
        bod = process_bod(journal, self.settings, self.settings.tenant, created)
        parameters = {
            "documentName": PROCESS,
            "fromLogicalId": self.settings.logical_id,
            "toLogicalId": self.settings.to_logical_id,
            "documentId": journal.id,
            "accountingEntity": entity,
            "encoding": "NONE",
            "characterSet": "UTF-8",
        }
        self._ion.send_bod(bod, parameters)
        sent = ticket(self.bod_id(journal), stamp(created))
        return Receipt(reference=journal.id, document=sent, status=ACCEPTED)

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals CloudSuite (or ION) has answered: posted or rejected."""
        tickets = {r.reference: r.document for r in accepted}
        found = self._ion.answers(list(tickets))
        done: dict[str, Answer] = {}
        for reference, acks in found.items():
            final = self._final(reference, tickets[reference], acks)
            if final is not None:
                done[reference] = final
        return done

    def _final(self, reference: str, sent: str, acks: list[Acknowledgement]) -> Answer | None:
        """Accepted wins (a duplicate refusal of a resend comes after it); a refusal counts only
        when it answers this send, not an earlier one of the same BODID."""
        bod, created = split_ticket(sent)
        mine = [a for a in acks if a.bod_id == bod]
        accepted = [a for a in mine if a.accepted]
        refused = [a for a in mine if not a.accepted and a.created >= created]
        chosen = accepted[0] if accepted else (refused[-1] if refused else None)
        return answer(reference, chosen, self._clock.now()) if chosen is not None else None

    def lookup(self, reference: str) -> Receipt | None:
        return self.lookup_many([reference]).get(reference)

    def lookup_many(self, references: Sequence[str]) -> dict[str, Receipt]:
        """What ION holds for each reference: posted (an accepted acknowledgement) or accepted
        (ION has our BOD, CloudSuite has not answered yet); left out: never seen, or every send
        of it refused (a fixed journal must be sent again, not waited for)."""
        found: dict[str, Receipt] = {}
        answers = self._ion.answers(list(references))
        for reference, acks in answers.items():
            posted = next((a for a in acks if a.accepted and a.reference == reference), None)
            if posted is not None:
                found[reference] = Receipt(reference=reference, document=posted.document or posted.bod_id)
        unanswered = [r for r in references if r not in found]
        for reference, (entity, times) in sorted(self._ion.sent(unanswered).items()) if unanswered else []:
            refused = {a.created for a in answers.get(reference, []) if not a.accepted}
            if times > len(refused):
                bod = bod_id(self.settings.tenant, entity, reference)
                found[reference] = Receipt(reference=reference, document=bod, status=ACCEPTED)
        return found

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        found: dict[str, ErpJournal] = {}
        for reference, acks in self._ion.answers(list(references)).items():
            posted = next((a for a in acks if a.accepted and a.reference == reference), None)
            if posted is not None:
                found[reference] = erp_journal(posted, self.settings)
        return found

    def held(self, date_from: date, date_to: date) -> Mapping[str, ErpJournal]:
        """Every journal CloudSuite accepted from revbridge's logical id under revbridge's journal
        source, dated in [date_from, date_to], keyed by its JournalID (our journal id), so
        reconcile can name what CloudSuite holds that the store never sent."""
        held: dict[str, ErpJournal] = {}
        for _document, ack in self._ion.routed_to(self.settings.logical_id):
            if not ack.accepted or journal_source(ack) != self.settings.journal_reference:
                continue
            journal = erp_journal(ack, self.settings)
            if journal.posting_date is not None and date_from <= journal.posting_date <= date_to:
                held.setdefault(ack.reference, journal)
        return held

    def close(self) -> None:
        self._ion.close()
