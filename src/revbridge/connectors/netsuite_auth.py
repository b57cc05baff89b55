"""NetSuite's two ways of authenticating REST web services calls, as httpx auth flows.

- Token-based authentication (TBA): every request carries an OAuth 1.0a ``Authorization: OAuth``
  header signed HMAC-SHA256 with the consumer and token secrets, ``realm`` = the account id
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941295.html). The
  signing is oauthlib's (``oauthlib.oauth1.Client``): a fresh nonce and timestamp per request, so
  a resent request is signed anew and NetSuite's replay check never refuses it. A JSON body is not
  part of the signature base string (RFC 5849 3.4.1.3.1 only takes form-encoded bodies).
- OAuth 2.0 client credentials (machine to machine): the token endpoint takes
  ``grant_type=client_credentials`` with a ``client_assertion`` JWT signed with the certificate's
  private key (PS256/ES256 and their larger siblings), ``kid`` = the certificate id, ``iss`` = the
  integration's client id, ``aud`` = the token endpoint, ``exp`` less than an hour after ``iat``
  (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_162790605110.html and
  section_162755359851.html). ``ClientAssertion`` is http.py's ``ClientCredentials`` with only
  the token request replaced, so the cached token, its renewal before expiry and after a 401 are
  the shared ones. PyJWT signs the assertion.

No secret or key appears in a ``repr``, a log or an error.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Generator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client  # type: ignore[import-untyped]

from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.http import ClientCredentials, read_json

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class TokenBasedAuth(httpx.Auth):
    """OAuth 1.0a HMAC-SHA256 with NetSuite's realm, signed per request by oauthlib."""

    def __init__(
        self, *, account_id: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str
    ) -> None:
        self._account_id = account_id
        self._signer = Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=account_id,
        )

    def __repr__(self) -> str:  # never the secrets
        return f"TokenBasedAuth(account_id={self._account_id!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _, headers, _ = self._signer.sign(str(request.url), http_method=request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


class ClientAssertion(ClientCredentials):
    """OAuth 2.0 client credentials with a JWT client assertion (NetSuite M2M)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        *,
        certificate_id: str,
        private_key: str,
        algorithm: str = "PS256",
        scope: str = "rest_webservices",
        assertion_lifetime: int = 300,
        refresh_margin: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"NetSuite signs client assertions with one of {', '.join(ALGORITHMS)}")
        if not 0 < assertion_lifetime < 3600:
            raise ValueError("a client assertion lives less than an hour")
        try:
            self._key: Any = serialization.load_pem_private_key(private_key.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("private_key is not an unencrypted PEM private key") from None
        super().__init__(
            token_url, client_id, "", scope=scope, refresh_margin=refresh_margin, monotonic=monotonic
        )
        self._certificate_id = certificate_id
        self._algorithm = algorithm
        self._assertion_lifetime = assertion_lifetime
        self._wall = wall

    def __repr__(self) -> str:  # never the key
        return f"ClientAssertion({self.token_url!r}, {self._client_id!r}, kid={self._certificate_id!r})"

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        url = request.url.join(self.token_url)
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(str(url)),
        }
        return httpx.Request("POST", url, data=form, headers={"Accept": "application/json"})

    @staticmethod
    def _parse(response: httpx.Response) -> tuple[str, float]:
        """The token, or NetSuite's own reason for refusing the assertion (``error``, RFC 6749 5.2)."""
        if response.status_code in (400, 401, 403):
            response.read()
            reason = ""
            with contextlib.suppress(ValueError, ConnectorUnavailable):
                body = read_json(response)
                if isinstance(body, dict):
                    reason = f": {body.get('error', '')} {body.get('error_description', '')}".rstrip()
            raise ConnectorUnavailable(
                f"NetSuite token endpoint refused our client assertion ({response.status_code}){reason}"
            )
        return ClientCredentials._parse(response)

    def assertion(self, audience: str) -> str:
        """A fresh signed assertion: each token request proves possession of the key anew."""
        issued = int(self._wall().timestamp())
        claims = {
            "iss": self._client_id,
            "scope": self._scope or "rest_webservices",
            "aud": audience,
            "iat": issued,
            "exp": issued + self._assertion_lifetime,
            "jti": str(uuid.uuid4()),
        }
        headers = {"typ": "JWT", "kid": self._certificate_id}
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)
