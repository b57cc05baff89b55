"""The Oracle NetSuite connector: ``journalentry`` records over SuiteTalk REST web services.

Protocol, as NetSuite documents it (erp-apis.md A.6):
- Write: ``PUT /services/rest/record/v1/journalentry/eid:{externalId}`` upserts by external id
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_156335203191.html) and
  answers 204 with the record's ``Location``. The external id is our journal id (a hex digest,
  at most 64 characters), so a repeated PUT updates the same record and can never create a second one: a
  resend after a lost answer is harmless, and ``lookup`` still runs first. The body
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_159886587653.html) has
  ``subsidiary``, ``currency``, ``trandate``, optionally ``postingperiod``, ``memo`` and
  ``line.items`` with ``account``, ``debit``/``credit`` as exact decimals and the segments
  (``department``, ``class``, ``location``, custom ``custcol_...``) mapped from our dimensions.
- Asynchronous (``asynchronous: true``): the same PUT with ``Prefer: respond-async`` and
  ``X-NetSuite-Idempotency-Key`` (a UUID derived from the journal id) answers 202 with
  ``Location: /services/rest/async/v1/job/{id}``; ``check`` follows job -> task -> result
  (subsect_161278579295.html, subsect_161252896355.html, subsect_161252889998.html). A second
  request with the same key answers 400 ``IDEMPOTENCY_ERROR`` with the earlier job's Location,
  which this connector follows instead of resubmitting (subsect_164494900632.html).
- Read: ``GET .../journalentry/eid:{externalId}`` (404: never seen) for ``lookup``, with
  ``expandSubResources=true`` for ``read_back``. REST has no batch create: one call per journal.
- Errors (section_156570709583.html): ``{type, title, status, "o:errorDetails": [{detail,
  "o:errorCode", "o:errorPath"}]}``. A 4xx other than 401/403/408/429 rejects the journal with
  NetSuite's words, and each ``o:errorPath`` into ``line.items[i]`` names our line i+1. 401
  (``INVALID_LOGIN``) is refused credentials; 429 (concurrency limit) and 5xx are unavailable.
- Authentication: OAuth 2.0 client credentials with a JWT assertion (NetSuite's preferred way) or
  token-based authentication (OAuth 1.0a, HMAC-SHA256): netsuite_auth.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

import httpx

from revbridge.connectors.base import Answer, ErpJournal, Limits, Receipt
from revbridge.connectors.http import HttpConnector, Pacer
from revbridge.connectors.netsuite_auth import ClientAssertion, TokenBasedAuth
from revbridge.connectors.netsuite_held import held as held_journals
from revbridge.connectors.netsuite_jobs import JobFollower, NetsuiteHttp
from revbridge.connectors.netsuite_records import encode, journal_entry, read_back
from revbridge.core.clock import Clock, SystemClock
from revbridge.ledger.journal import Journal

# NetSuite's shared concurrency limit is per account and covers every integration; keep well under
DEFAULT_LIMITS = Limits(
    rate_per_second=5.0, burst=5, concurrency=2, backoff_base=2.0, backoff_cap=120.0, poll_interval=10.0
)
RECORD = "/services/rest/record/v1/journalentry"
IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"
_KEYS = uuid.UUID("6f1d4c3e-2b1a-5e8f-9c0d-7a6b5c4d3e2f")  # namespace of our idempotency keys
DIMENSIONS = ("facility", "cost_center", "payer_class", "service_line")


def idempotency_key(reference: str) -> str:
    """The async idempotency key: a UUID (NetSuite's documented form) that is a pure function of
    the journal id, so every resend of one journal carries the same key."""
    return str(uuid.uuid5(_KEYS, reference))


@dataclass(frozen=True, slots=True, kw_only=True)
class NetsuiteSettings:
    account_id: str  # e.g. 1234567_SB1: the TBA realm and, by default, the host
    base_url: str = ""  # default https://<account id, lower case, _ as ->.suitetalk.api.netsuite.com
    authentication: str = "oauth2"  # oauth2 (client credentials, M2M) | tba
    client_id: str = ""  # oauth2: the integration record's client id
    certificate_id: str = ""  # oauth2: the id NetSuite gave the uploaded certificate (JWT kid)
    private_key: str = ""  # oauth2, secret: the certificate's PEM private key
    jwt_algorithm: str = "PS256"  # PS256/384/512 (RSA) or ES256/384/512 (EC)
    scope: str = "rest_webservices"
    token_path: str = "/services/rest/auth/oauth2/v1/token"  # noqa: S105 (a path, not a secret)
    refresh_margin: float = 300.0  # seconds before expiry a token is renewed
    consumer_key: str = ""  # tba
    consumer_secret: str = ""  # tba, secret
    token_id: str = ""  # tba
    token_secret: str = ""  # tba, secret
    subsidiaries: Mapping[str, str] = field(default_factory=dict)  # legal entity -> subsidiary id
    currencies: Mapping[str, str] = field(default_factory=dict)  # ISO code -> currency id
    accounts: Mapping[str, str] = field(default_factory=dict)  # our account -> account id
    posting_periods: Mapping[str, str] = field(default_factory=dict)  # YYYY-MM -> period id
    segments: Mapping[str, str] = field(
        default_factory=lambda: {"department": "cost_center", "class": "payer_class", "location": "facility"}
    )  # NetSuite line field -> our dimension; add e.g. custcol_service_line: service_line
    cost_centers: Mapping[str, str] = field(default_factory=dict)  # our value -> segment id
    payer_classes: Mapping[str, str] = field(default_factory=dict)
    facilities: Mapping[str, str] = field(default_factory=dict)
    service_lines: Mapping[str, str] = field(default_factory=dict)
    memo_prefix: str = "revbridge"  # also the mark ``held`` finds our journal entries by
    query_page_size: int = 1000  # SuiteQL rows per page (NetSuite's most)
    asynchronous: bool = False
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("account_id is required")
        if self.authentication == "oauth2":
            missing = [k for k in ("client_id", "certificate_id", "private_key") if not getattr(self, k)]
        elif self.authentication == "tba":
            keys = ("consumer_key", "consumer_secret", "token_id", "token_secret")
            missing = [k for k in keys if not getattr(self, k)]
        else:
            raise ValueError("authentication is oauth2 or tba")
        if missing:
            raise ValueError(f"{self.authentication} authentication needs {', '.join(missing)}")
        unknown = sorted(set(self.segments.values()) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"segments map to unknown dimensions: {', '.join(unknown)}")

    def __repr__(self) -> str:  # never the secrets
        return f"NetsuiteSettings(account_id={self.account_id!r}, authentication={self.authentication!r})"

    @property
    def url(self) -> str:
        host = self.account_id.lower().replace("_", "-")
        return (self.base_url or f"https://{host}.suitetalk.api.netsuite.com").rstrip("/")

    def dimension_values(self, dimension: str) -> Mapping[str, str]:
        return {
            "facility": self.facilities,
            "cost_center": self.cost_centers,
            "payer_class": self.payer_classes,
            "service_line": self.service_lines,
        }[dimension]


def _auth(
    settings: NetsuiteSettings, monotonic: Callable[[], float], clock: Clock
) -> TokenBasedAuth | ClientAssertion:
    if settings.authentication == "tba":
        return TokenBasedAuth(
            account_id=settings.account_id,
            consumer_key=settings.consumer_key,
            consumer_secret=settings.consumer_secret,
            token_id=settings.token_id,
            token_secret=settings.token_secret,
        )
    return ClientAssertion(
        settings.token_path,
        settings.client_id,
        certificate_id=settings.certificate_id,
        private_key=settings.private_key,
        algorithm=settings.jwt_algorithm,
        scope=settings.scope,
        refresh_margin=settings.refresh_margin,
        monotonic=monotonic,
        wall=clock.now,
    )


class NetsuiteConnector(HttpConnector):
    def __init__(
        self,
        settings: NetsuiteSettings,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "netsuite",
    ) -> None:
        self._name = name
        self._clock: Clock = clock or SystemClock()
        self.settings = settings
        self._limits = limits
        self.auth = _auth(settings, monotonic, self._clock)
        self.pacer = Pacer()
        client = httpx.Client(
            event_hooks={"request": [self.pacer]},
            base_url=settings.url,
            timeout=settings.timeout,
            transport=transport,
            auth=self.auth,
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._http = NetsuiteHttp(client, self._clock)
        self._jobs = JobFollower(self._http, self.lookup)

    def __repr__(self) -> str:
        return f"NetsuiteConnector({self._name!r}, {self.settings.url!r})"

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched if isinstance(self.auth, ClientAssertion) else 0

    # -- the protocol ------------------------------------------------------------------------------

    def submit(self, journal: Journal) -> Receipt:
        body = encode(journal_entry(journal, self.settings)).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.settings.asynchronous:
            headers |= {"Prefer": "respond-async", IDEMPOTENCY_HEADER: idempotency_key(journal.id)}
        response = self._http.send("PUT", _record(journal.id), content=body, headers=headers)
        if self.settings.asynchronous:
            return self._jobs.accepted(journal.id, response)
        if response.status_code in (200, 204):
            return Receipt(
                reference=journal.id, document=self._http.located(response), posted_at=self._clock.now()
            )
        raise self._http.refusal(response)

    def lookup(self, reference: str) -> Receipt | None:
        record = self._http.get_json(_record(reference), missing_ok=True)
        if record is None:
            return None
        return Receipt(reference=reference, document=str(record.get("id", "")), posted_at=self._clock.now())

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals whose NetSuite job has finished: posted or rejected."""
        return self._jobs.check(accepted)

    def read_back(self, references: Sequence[str]) -> dict[str, ErpJournal]:
        found: dict[str, ErpJournal] = {}
        for reference in references:
            record = self._http.get_json(
                _record(reference), params={"expandSubResources": "true"}, missing_ok=True
            )
            journal = read_back(reference, record, self.settings) if record is not None else None
            if journal is not None:
                found[reference] = journal
        return found

    def held(self, date_from: date, date_to: date) -> Mapping[str, ErpJournal]:
        """Every journal entry NetSuite holds with our memo mark, dated in [date_from, date_to],
        keyed by external id (our journal id), lines as ``read_back`` gives them; so reconcile
        can name what NetSuite holds that the store never sent (netsuite_held.py)."""
        return held_journals(self._http, self.settings, date_from, date_to)

    def close(self) -> None:
        self._http.close()


def _record(reference: str) -> str:
    return f"{RECORD}/eid:{quote(reference, safe='')}"
