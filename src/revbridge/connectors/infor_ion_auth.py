"""OAuth 2.0 through Infor's ION API gateway, as a backend service authenticates.

An ION API *backend service* client is downloaded from ION API as a ``.ionapi`` JSON file with
``ti`` (tenant), ``ci``/``cs`` (client id and secret), ``iu`` (the gateway's URL), ``pu`` (the
authorization server's URL), ``oa``/``ot``/``or`` (its authorize, token and revoke paths) and
``saak``/``sask`` (the service account's access and secret keys)
(https://docs.infor.com/ionapi/2021-x/en-us/ionapiag_cloud/wps1514559141744.html,
https://developer.infor.com/apis/api-security/). The token is asked for at ``{pu}{ot}`` with the
resource-owner password grant: ``grant_type=password``, ``username={saak}``, ``password={sask}``,
``client_id``, ``client_secret`` in the form (as public clients of the gateway do, e.g. the
``inforion`` Python package and Infor's Postman environment script); the answer is a bearer token
with ``expires_in`` (two hours by default).

``PasswordGrant`` is http.py's ``ClientCredentials`` with the token request replaced, so the cached
token, its renewal ``refresh_margin`` seconds before expiry and once more after a 401 are the
shared ones. It does not ask httpx to read every answer's body (only the token answer's, which it
reads itself): the connector reads ION's answers itself, with a size cap. ``read_ionapi`` reads a
``.ionapi`` file's fields. No secret appears in a ``repr``, a log or an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from revbridge.connectors.http import ClientCredentials

IONAPI_FIELDS = ("ti", "ci", "cs", "iu", "pu", "oa", "ot", "or", "saak", "sask")


def read_ionapi(path: Path) -> dict[str, str]:
    """The ``.ionapi`` file's fields (those revbridge uses); a file that is not one is an error
    naming the file, never its content."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ValueError(f"{path} is not a readable .ionapi file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a .ionapi file (no JSON object)")
    return {key: str(data[key]) for key in IONAPI_FIELDS if data.get(key) not in (None, "")}


class PasswordGrant(ClientCredentials):
    """The resource-owner password grant with the service account's keys (ION API backend service)."""

    requires_response_body = False

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        access_key: str,
        secret_key: str,
        refresh_margin: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            token_url,
            client_id,
            client_secret,
            client_auth="body",
            refresh_margin=refresh_margin,
            monotonic=monotonic,
        )
        self._access_key = access_key
        self._secret_key = secret_key

    def __repr__(self) -> str:  # never the secrets
        return f"PasswordGrant({self.token_url!r}, {self._client_id!r})"

    def _token_request(self, request: httpx.Request) -> httpx.Request:
        form: Mapping[str, str] = {
            "grant_type": "password",
            "username": self._access_key,
            "password": self._secret_key,
            "client_id": self._client_id,
            "client_secret": self._secret,
        }
        return httpx.Request("POST", self.token_url, data=dict(form), headers={"Accept": "application/json"})
