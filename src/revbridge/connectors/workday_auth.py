"""Workday's two ways of authenticating web service calls.

- WS-Security UsernameToken (OASIS Web Services Security UsernameToken Profile 1.1): the SOAP
  header carries ``wsse:Security/wsse:UsernameToken`` with ``wsse:Username`` = ``user@tenant``
  (an Integration System User) and ``wsse:Password`` of type ``#PasswordText``, which is why it
  is only ever sent over TLS. erp-apis.md A.5: "an Integration System User with WS-Security
  UsernameToken for SOAP". ``username_token`` builds the header element; the password goes into
  each request's envelope, never into a log, a ``repr`` or an error.
- OAuth 2.0 with a refresh token (RFC 6749 section 6): a Workday API client registered with a
  non-expiring refresh token for the integration user; ``POST /ccx/oauth2/{tenant}/token`` with
  ``grant_type=refresh_token&refresh_token=...`` and the client id and secret as HTTP Basic,
  answered with an ``access_token`` sent as ``Authorization: Bearer`` on the SOAP calls (Workday's
  "Register API Client for Integrations" task; the same flow public Workday clients use, e.g. the
  refresh-token managers found with the search tools). ``RefreshToken`` is http.py's
  ``ClientCredentials`` with only the token request replaced, so the cached token, its renewal
  ``refresh_margin`` seconds before expiry and once more after a 401 are the shared ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.http import ClientCredentials

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = f"{PROFILE}#PasswordText"


def username_token(username: str, password: str) -> Any:
    """The ``wsse:Security`` header element with a UsernameToken (PasswordText)."""
    security = xmldoc.element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
    token = xmldoc.sub(security, f"{{{WSSE}}}UsernameToken")
    xmldoc.sub(token, f"{{{WSSE}}}Username", username)
    xmldoc.sub(token, f"{{{WSSE}}}Password", password, Type=PASSWORD_TEXT)
    return security


class RefreshToken(ClientCredentials):
    """OAuth 2.0 refresh-token grant against Workday's token endpoint, as an httpx auth flow.

    A SOAP answer is not read by the flow (``requires_response_body`` off): the connector reads
    it in pieces and stops at xmldoc's size cap. The token answer is read by ``_parse``."""

    requires_response_body = False

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        refresh_margin: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            token_url, client_id, client_secret, refresh_margin=refresh_margin, monotonic=monotonic
        )
        self._refresh_token = refresh_token

    def __repr__(self) -> str:  # never the secret or the refresh token
        return f"RefreshToken({self.token_url!r}, {self._client_id!r})"

    @staticmethod
    def _parse(response: httpx.Response) -> tuple[str, float]:
        """The token, or the endpoint's own reason (RFC 6749 5.2 ``error``) for refusing ours."""
        if response.status_code not in (400, 401, 403):
            return ClientCredentials._parse(response)
        response.read()
        try:
            reason = str(json.loads(response.content).get("error", ""))
        except (ValueError, AttributeError):
            reason = ""
        words = f"Workday's token endpoint refused our client or refresh token ({response.status_code})"
        raise ConnectorUnavailable(f"{words} {reason}".strip())

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        token_request = httpx.Request(
            "POST", request.url.join(self.token_url), data=form, headers={"Accept": "application/json"}
        )
        return next(httpx.BasicAuth(self._client_id, self._secret).auth_flow(token_request))
