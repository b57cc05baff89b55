"""The REST connector: a configurable JSON target for ERPs without a dedicated connector.

One request per journal: the body is a Jinja2 template rendered in a sandbox (the default template
is below; docs/connectors.md documents the variables), checked to be JSON before it is sent, and
sent as rendered so decimal amounts keep their exact text. The journal id travels in an
idempotency header and in the body, and ``lookup`` finds a document by it with a configurable GET.
Authentication is OAuth2 client credentials: the token is cached, refreshed ``refresh_margin``
seconds before it expires and once more when the ERP answers 401.

Errors map onto the two outcomes of base.py: 429, 503 and refused connections are unavailable and
certainly not processed; other 5xx, 408, timeouts and dropped connections are unavailable and
*uncertain* (the ERP may have committed); any other 4xx is a rejection of the journal; a 409
means the ERP already has the reference, which a lookup turns into the existing receipt.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from revbridge.connectors.base import ConnectorRejected, ConnectorUnavailable, Limits, Receipt
from revbridge.connectors.exports import exact_lines
from revbridge.core.clock import Clock, SystemClock
from revbridge.core.money import exponent
from revbridge.ledger.journal import Journal

DEFAULT_TEMPLATE = """{
  "externalId": {{ journal.id | tojson }},
  "legalEntity": {{ journal.legal_entity | tojson }},
  "postingDate": {{ journal.posting_date | tojson }},
  "lane": {{ journal.lane | tojson }},
  "lines": [
{%- for line in journal.lines %}
    {"lineNo": {{ line.line_no }}, "account": {{ line.account | tojson }}, "role": {{ line.role | tojson }},
     "debit": {{ line.debit }}, "credit": {{ line.credit }}, "currency": {{ line.currency | tojson }},
     "dimensions": {"facility": {{ line.facility | tojson }}, "costCenter": {{ line.cost_center | tojson }},
                    "payerClass": {{ line.payer_class | tojson }},
                    "serviceLine": {{ line.service_line | tojson }}}}{{ "," if not loop.last }}
{%- endfor %}
  ]
}"""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestSettings:
    base_url: str
    token_url: str | None = None  # OAuth2 token endpoint; None sends no Authorization header
    client_id: str = ""
    client_secret: str = ""
    scope: str | None = None
    client_auth: str = "basic"  # basic: HTTP Basic with id/secret; body: both in the form
    submit_path: str = "/journals"  # Jinja2, with `journal`
    lookup_path: str = "/journals?externalId={{ reference | urlencode }}"  # Jinja2, with `reference`
    payload_template: str = DEFAULT_TEMPLATE
    idempotency_header: str = "Idempotency-Key"
    document_field: str = "id"  # dotted path to the ERP's document id in submit and lookup answers
    lookup_items_field: str | None = None  # dotted path to the list in a lookup answer, if wrapped
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    refresh_margin: float = 60.0

    def __post_init__(self) -> None:
        if self.client_auth not in ("basic", "body"):
            raise ValueError("client_auth is basic or body")


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def retry_after(response: httpx.Response, now: Callable[[], datetime]) -> float | None:
    """Retry-After as seconds (RFC 9110 10.2.3: delay-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now()).total_seconds())


def template_context(journal: Journal) -> dict[str, Any]:
    """What a payload template sees: the journal with amounts as exact decimal strings."""

    def text(amount: Decimal, currency: str) -> str:
        return f"{amount:.{exponent(currency)}f}"

    lines = [
        {
            "line_no": line.line_no,
            "account": line.account,
            "role": line.role.value,
            "side": "debit" if line.debit else "credit",
            "amount": text(line.debit or line.credit, line.currency),
            "debit": text(line.debit, line.currency),
            "credit": text(line.credit, line.currency),
            "currency": line.currency,
            "facility": line.facility,
            "cost_center": line.cost_center,
            "payer_class": line.payer_class,
            "service_line": line.service_line,
        }
        for line in exact_lines(journal)
    ]
    return {
        "journal": {
            "id": journal.id,
            "lane": journal.lane.value,
            "legal_entity": journal.legal_entity,
            "posting_date": journal.posting_date.isoformat(),
            "currency": journal.currencies[0],
            "lines": lines,
        }
    }


class RestConnector:
    def __init__(
        self,
        settings: RestSettings,
        *,
        limits: Limits = Limits(),
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock | None = None,
        name: str = "rest",
    ) -> None:
        self._name = name
        self._clock: Clock = clock or SystemClock()
        self.settings = settings
        self._limits = limits
        self._monotonic = monotonic
        self._env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        try:
            self._payload = self._env.from_string(settings.payload_template)
            self._submit_path = self._env.from_string(settings.submit_path)
            self._lookup_path = self._env.from_string(settings.lookup_path)
        except TemplateError as exc:
            raise ValueError(f"REST template does not compile: {exc}") from None
        self._client = httpx.Client(
            base_url=settings.base_url,
            timeout=settings.timeout,
            transport=transport,
            headers=dict(settings.headers),
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0
        self.tokens_fetched = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    # -- the protocol ------------------------------------------------------------------------------

    def render(self, journal: Journal) -> str:
        try:
            body = self._payload.render(template_context(journal))
            json.loads(body, parse_float=Decimal)
        except (TemplateError, ValueError) as exc:
            raise ConnectorRejected(f"payload template failed for journal {journal.id}: {exc}") from None
        return body

    def submit(self, journal: Journal) -> Receipt:
        body = self.render(journal)
        path = self._submit_path.render(journal=template_context(journal)["journal"])
        headers = {"Content-Type": "application/json", self.settings.idempotency_header: journal.id}
        response = self._send("POST", path, content=body.encode("utf-8"), headers=headers)
        status = response.status_code
        if status in (200, 201, 202):
            document = _dig(self._json(response), self.settings.document_field)
            if document in (None, ""):
                raise ConnectorUnavailable(f"ERP answered {status} without a document id", uncertain=True)
            return Receipt(
                reference=journal.id,
                document=str(document),
                status="pending" if status == 202 else "posted",
                posted_at=self._clock.now(),
            )
        if status == 409:
            found = self.lookup(journal.id)
            if found is not None:
                return found
            raise ConnectorUnavailable("ERP reported a conflict but has no such reference", uncertain=True)
        raise self._failure(response)

    def lookup(self, reference: str) -> Receipt | None:
        path = self._lookup_path.render(reference=reference)
        response = self._send("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            failure = self._failure(response)
            if isinstance(failure, ConnectorRejected):  # a lookup the ERP refuses is a setup problem
                raise ConnectorUnavailable(f"lookup refused: {failure}")
            raise failure
        found = self._json(response)
        if self.settings.lookup_items_field:
            found = _dig(found, self.settings.lookup_items_field)
        if isinstance(found, list):
            found = found[0] if found else None
        if not isinstance(found, dict):
            return None
        document = _dig(found, self.settings.document_field)
        if document in (None, ""):
            return None
        return Receipt(reference=reference, document=str(document))

    def close(self) -> None:
        self._client.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self._bearer(force_after=None)
        response = self._request(method, path, token, **kwargs)
        if response.status_code == 401 and self.settings.token_url:
            token = self._bearer(force_after=token)
            response = self._request(method, path, token, **kwargs)
        return response

    def _request(self, method: str, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self._client.request(method, path, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectorUnavailable(f"ERP unreachable: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            # the request may have been read and committed before the answer was lost
            raise ConnectorUnavailable(f"ERP answer lost: {type(exc).__name__}", uncertain=True) from None

    def _bearer(self, *, force_after: str | None) -> str | None:
        """The cached token; a new one when it is due, or when ``force_after`` (the token the ERP
        just refused) is still the cached one."""
        if not self.settings.token_url:
            return None
        with self._token_lock:
            fresh = self._token is not None and self._monotonic() < self._token_expires
            if fresh and (force_after is None or force_after != self._token):
                return self._token
            self._token, lifetime = self._fetch_token()
            self._token_expires = self._monotonic() + max(0.0, lifetime - self.settings.refresh_margin)
            self.tokens_fetched += 1
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        s = self.settings
        assert s.token_url is not None
        form = {"grant_type": "client_credentials"}
        if s.scope:
            form["scope"] = s.scope
        auth: httpx.Auth | None = httpx.BasicAuth(s.client_id, s.client_secret)
        if s.client_auth == "body":
            form |= {"client_id": s.client_id, "client_secret": s.client_secret}
            auth = None
        try:
            if auth is None:
                response = self._client.post(s.token_url, data=form)
            else:
                response = self._client.post(s.token_url, data=form, auth=auth)
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ConnectorUnavailable(
                f"token endpoint answered {response.status_code}",
                retry_after=retry_after(response, self._clock.now),
            )
        body = self._json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorUnavailable("token endpoint answered without an access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, lifetime

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            raise ConnectorUnavailable(
                f"ERP answered {response.status_code} with a body that is not JSON", uncertain=True
            ) from None

    def _failure(self, response: httpx.Response) -> ConnectorUnavailable | ConnectorRejected:
        status = response.status_code
        wait = retry_after(response, self._clock.now)
        if status in (429, 503):
            return ConnectorUnavailable(f"ERP answered {status}", retry_after=wait)
        if status >= 500 or status == 408:
            return ConnectorUnavailable(f"ERP answered {status}", retry_after=wait, uncertain=True)
        if status in (401, 403):
            return ConnectorUnavailable(f"ERP refused our credentials ({status})", retry_after=wait)
        detail = response.text[:300].replace("\n", " ")
        return ConnectorRejected(f"ERP rejected the journal ({status}): {detail}")
