"""What every HTTP ERP connector shares: OAuth 2.0 client credentials as an httpx auth flow, one
mapping of HTTP answers onto the connector outcomes (base.py), and JSON read exactly.

``ClientCredentials`` is httpx's own auth flow (``httpx.Auth``): it fetches a token from the token
endpoint with the client credentials grant (RFC 6749 4.4), caches it, renews it ``refresh_margin``
seconds before it expires and once more when the ERP answers 401 to a token it still held. The
secret is sent only to the token endpoint and is never logged or put in an error.

``send`` turns transport errors into ``ConnectorUnavailable`` (refused before sending: certain;
lost after sending: *uncertain*, as the ERP may have committed). ``failure`` maps an answer that
is not a success: 429 and 503 are unavailable and certainly not processed (Retry-After honoured),
other 5xx and 408 unavailable and uncertain, 401/403 refused credentials (unavailable: a person
fixes the setting, then the journal drains), any other 4xx a rejection of the journal.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from revbridge.connectors.base import (
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.ledger.journal import Journal


class Pacer:
    """The outbox's rate limit applied to each HTTP request a connector makes (an httpx request
    event hook): a bulk call to Business Central is six requests, an Oracle check three, and an
    ERP's published limits count requests, so the token bucket must too. Until the outbox
    attaches its bucket (``attach``), requests go unpaced; ``attach(None)`` detaches it."""

    def __init__(self) -> None:
        self._acquire: Callable[[], bool] | None = None

    def attach(self, acquire: Callable[[], bool] | None) -> None:
        self._acquire = acquire

    def __call__(self, request: httpx.Request) -> None:
        acquire = self._acquire
        if acquire is not None and not acquire():
            raise ConnectorUnavailable("the outbox is stopping: the request was not sent")


class HttpConnector:
    """What the cloud ERP connectors share: their name and limits, and a ``pacer`` on their HTTP
    clients to which the outbox hands its bucket."""

    _name: str
    _limits: Limits
    pacer: Pacer

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    def pace(self, acquire: Callable[[], bool] | None) -> None:
        self.pacer.attach(acquire)


class BulkConnector(HttpConnector):
    """A connector whose ERP takes journals in bulk (``submit_many``, ``settings.batch_size`` at
    most per call): one journal is a bulk call of one."""

    settings: Any

    @property
    def batch_size(self) -> int:
        return int(self.settings.batch_size)

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        raise NotImplementedError

    def submit(self, journal: Journal) -> Receipt:
        answer = self.submit_many([journal])[journal.id]
        if isinstance(answer, Rejection):
            raise ConnectorRejected(answer.message, lines=answer.lines)
        return answer


def retry_after(response: httpx.Response, now: Callable[[], datetime] | None = None) -> float | None:
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
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def read_json(response: httpx.Response) -> Any:
    """The answer's JSON with decimals exact; an answer that is not JSON is uncertain (the ERP
    may have done the work and then failed to say so)."""
    try:
        return json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        raise ConnectorUnavailable(
            f"ERP answered {response.status_code} with a body that is not JSON", uncertain=True
        ) from None


def detail(response: httpx.Response, limit: int = 300) -> str:
    """The ERP's own words from an error answer, on one line and bounded."""
    return " ".join(response.text[:limit].split())


def failure(
    response: httpx.Response,
    *,
    now: Callable[[], datetime] | None = None,
    message: Callable[[httpx.Response], str] = detail,
) -> ConnectorUnavailable | ConnectorRejected:
    """The outcome of an answer that is not a success (see the module's docstring)."""
    status = response.status_code
    wait = retry_after(response, now)
    if status in (429, 503):
        return ConnectorUnavailable(f"ERP answered {status} (throttled or busy)", retry_after=wait)
    if status >= 500 or status == 408:
        return ConnectorUnavailable(f"ERP answered {status}", retry_after=wait, uncertain=True)
    if status in (401, 403):
        return ConnectorUnavailable(f"ERP refused our credentials ({status})", retry_after=wait)
    return ConnectorRejected(f"ERP rejected the journal ({status}): {message(response)}")


def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request; transport errors as connector outcomes."""
    try:
        return client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise ConnectorUnavailable(f"ERP unreachable: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        # the request may have been read and committed before the answer was lost
        raise ConnectorUnavailable(f"ERP answer lost: {type(exc).__name__}", uncertain=True) from None


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client credentials (RFC 6749 4.4) as an httpx auth flow, with a cached token.

    ``client_auth``: ``basic`` sends the id and secret as HTTP Basic (RFC 6749 2.3.1), ``body`` in
    the form (Microsoft Entra ID takes either). ``extra`` adds form fields (Entra's ``resource``)."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        client_auth: str = "basic",
        refresh_margin: float = 60.0,
        extra: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if client_auth not in ("basic", "body"):
            raise ValueError("client_auth is basic or body")
        self.token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._client_auth = client_auth
        self._margin = refresh_margin
        self._extra = dict(extra or {})
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:  # never the secret
        return f"ClientCredentials({self.token_url!r}, {self._client_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._current(request, refused=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = yield from self._current(request, refused=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _current(
        self, request: httpx.Request, *, refused: str | None
    ) -> Generator[httpx.Request, httpx.Response, str]:
        """The cached token, or a new one when it is due or is the one the ERP just refused."""
        with self._lock:
            fresh = self._token is not None and self._monotonic() < self._expires
            if fresh and refused != self._token:
                assert self._token is not None
                return self._token
        response = yield self._token_request(request)
        token, lifetime = self._parse(response)
        with self._lock:
            self._token = token
            self._expires = self._monotonic() + max(0.0, lifetime - self._margin)
            self.tokens_fetched += 1
        return token

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        form = {"grant_type": "client_credentials", **self._extra}
        if self._scope:
            form["scope"] = self._scope
        if self._client_auth == "body":
            form |= {"client_id": self._client_id, "client_secret": self._secret}
        token_request = httpx.Request(
            "POST", request.url.join(self.token_url), data=form, headers={"Accept": "application/json"}
        )
        if self._client_auth == "basic":  # httpx's own Basic flow sets the header
            token_request = next(httpx.BasicAuth(self._client_id, self._secret).auth_flow(token_request))
        return token_request

    @staticmethod
    def _parse(response: httpx.Response) -> tuple[str, float]:
        if response.status_code != 200:
            raise ConnectorUnavailable(
                f"token endpoint answered {response.status_code}", retry_after=retry_after(response)
            )
        response.read()
        body = read_json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorUnavailable("token endpoint answered without an access_token")
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, lifetime
