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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from revbridge.connectors.base import (
    ACCEPTED,
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.connectors.exports import exact_lines
from revbridge.connectors.http import ClientCredentials, failure, read_json, send
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
    # An ERP that answers 202 is followed with the lookup path until ``status_field`` (a dotted
    # path in the lookup answer) holds one of the posted or rejected values.
    status_field: str = "status"
    posted_values: tuple[str, ...] = ("posted",)
    rejected_values: tuple[str, ...] = ("rejected", "failed", "error")
    message_field: str = "message"

    def __post_init__(self) -> None:
        if self.client_auth not in ("basic", "body"):
            raise ValueError("client_auth is basic or body")


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


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
        self.auth = None
        if settings.token_url:
            self.auth = ClientCredentials(
                settings.token_url,
                settings.client_id,
                settings.client_secret,
                scope=settings.scope,
                client_auth=settings.client_auth,
                refresh_margin=settings.refresh_margin,
                monotonic=monotonic,
            )
        self._client = httpx.Client(
            base_url=settings.base_url,
            timeout=settings.timeout,
            transport=transport,
            headers=dict(settings.headers),
            auth=self.auth,
            limits=httpx.Limits(max_connections=max(1, limits.concurrency) * 2),
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def tokens_fetched(self) -> int:
        return self.auth.tokens_fetched if self.auth is not None else 0

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
            document = _dig(read_json(response), self.settings.document_field)
            if document in (None, ""):
                raise ConnectorUnavailable(f"ERP answered {status} without a document id", uncertain=True)
            if status == 202:  # accepted, not posted: followed by ``check``
                return Receipt(reference=journal.id, document=str(document), status=ACCEPTED)
            return Receipt(reference=journal.id, document=str(document), posted_at=self._clock.now())
        if status == 409:
            found = self.lookup(journal.id)
            if found is not None:
                return found
            raise ConnectorUnavailable("ERP reported a conflict but has no such reference", uncertain=True)
        raise self._failure(response)

    def lookup(self, reference: str) -> Receipt | None:
        answer = self._answer(reference)
        if isinstance(answer, Rejection):  # refused earlier: this reference may go again
            return None
        return answer

    def check(self, accepted: Sequence[Receipt]) -> dict[str, Answer]:
        """The accepted journals the ERP has finished: posted or rejected, by their status field."""
        done: dict[str, Answer] = {}
        for receipt in accepted:
            answer = self._answer(receipt.reference)
            if answer is not None and not (isinstance(answer, Receipt) and answer.accepted):
                done[receipt.reference] = answer
        return done

    def _answer(self, reference: str) -> Answer | None:
        """The ERP's document for ``reference`` read by the lookup path: posted, still accepted
        (its status field names neither end) or rejected; None if the ERP has none."""
        path = self._lookup_path.render(reference=reference)
        response = self._send("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            refused = self._failure(response)
            if isinstance(refused, ConnectorRejected):  # a lookup the ERP refuses is a setup problem
                raise ConnectorUnavailable(f"lookup refused: {refused}")
            raise refused
        found = read_json(response)
        if self.settings.lookup_items_field:
            found = _dig(found, self.settings.lookup_items_field)
        if isinstance(found, list):
            found = found[0] if found else None
        if not isinstance(found, dict):
            return None
        document = _dig(found, self.settings.document_field)
        if document in (None, ""):
            return None
        state = _dig(found, self.settings.status_field)
        if state is not None and str(state) in self.settings.rejected_values:
            message = _dig(found, self.settings.message_field) or f"status {state}"
            return Rejection(reference=reference, message=str(message)[:500], document=str(document))
        if state is not None and str(state) not in self.settings.posted_values:
            return Receipt(reference=reference, document=str(document), status=ACCEPTED)
        return Receipt(reference=reference, document=str(document))

    def close(self) -> None:
        self._client.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return send(self._client, method, path, **kwargs)

    def _failure(self, response: httpx.Response) -> ConnectorUnavailable | ConnectorRejected:
        return failure(response, now=self._clock.now)
