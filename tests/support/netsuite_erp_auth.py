"""How the NetSuite test ERP checks who is calling: TBA signatures and M2M client assertions.

- ``TbaVerifier``: OAuth 1.0a as NetSuite's token-based authentication takes it. The signature
  base string is authlib's (a different library from the connector's oauthlib, so a shared bug
  in one cannot pass unseen); the HMAC-SHA256 is compared in constant time. It refuses a wrong
  ``realm`` (the account id), a signature method other than HMAC-SHA256, an unknown consumer or
  token, a timestamp more than ``window`` seconds away and a nonce seen before (replay).
- ``M2mIssuer``: the OAuth 2.0 client credentials token endpoint. The ``client_assertion`` JWT is
  verified with PyJWT and the certificate's public key: ``kid`` = the certificate id, an allowed
  algorithm (PS256/384/512, ES256/384/512), ``iss`` = the client id, ``aud`` = the token URL,
  ``exp`` less than an hour after ``iat``, the ``rest_webservices`` scope. It issues bearer
  tokens that expire after ``lifetime`` seconds and can be revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

import jwt
from authlib.oauth1.rfc5849.signature import construct_base_string  # type: ignore[import-untyped]
from authlib.oauth1.rfc5849.util import escape, unescape  # type: ignore[import-untyped]

ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TbaVerifier:
    def __init__(
        self,
        *,
        realm: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        window: float = 300.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self._consumer = (consumer_key, consumer_secret)
        self._token = (token_id, token_secret)
        self._window = window
        self._wall = wall
        self._lock = threading.Lock()
        self._nonces: set[tuple[str, str, str]] = set()

    def refusal(self, method: str, url: str, authorization: str) -> str:
        """Why this request is not properly signed; "" when it is."""
        try:
            items = parse_keqv_list(parse_http_list(authorization[len("OAuth ") :]))
        except (IndexError, ValueError):
            return "malformed Authorization header"
        params = {unescape(k): unescape(v) for k, v in items.items()}
        if params.get("realm") != self.realm:
            return "wrong realm"
        if params.get("oauth_signature_method") != "HMAC-SHA256":
            return "signature method is not HMAC-SHA256"
        if params.get("oauth_version", "1.0") != "1.0":
            return "oauth_version is not 1.0"
        if (params.get("oauth_consumer_key"), params.get("oauth_token")) != (
            self._consumer[0],
            self._token[0],
        ):
            return "unknown consumer or token"
        expected = self._signature(method, url, params)
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            return "signature does not match"
        return self._fresh(params)

    def _signature(self, method: str, url: str, params: dict[str, str]) -> str:
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        oauth = [(k, v) for k, v in params.items() if k.startswith("oauth_")]
        base = construct_base_string(method, url, query + oauth)
        key = f"{escape(self._consumer[1])}&{escape(self._token[1])}"
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def _fresh(self, params: dict[str, str]) -> str:
        try:
            stamp = int(params.get("oauth_timestamp", ""))
        except ValueError:
            return "timestamp is not a number"
        if abs(self._wall() - stamp) > self._window:
            return "timestamp outside the allowed window"
        nonce = (params["oauth_consumer_key"], params.get("oauth_nonce", ""), str(stamp))
        with self._lock:
            if not nonce[1] or nonce in self._nonces:
                return "nonce already used"
            self._nonces.add(nonce)
        return ""


class M2mIssuer:
    def __init__(
        self,
        *,
        client_id: str,
        certificate_id: str,
        public_key: Any,
        lifetime: int = 3600,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.public_key = public_key
        self.lifetime = lifetime
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.issued = 0

    def issue(self, form: dict[str, str], audience: str) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer: (status, body)."""
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return 400, {"error": "invalid_request"}
        problem = self._assertion_problem(form["client_assertion"], audience)
        if problem:
            return 401, {"error": "invalid_client", "error_description": problem}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self._monotonic() + self.lifetime
            self.issued += 1
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": str(self.lifetime)}

    def _assertion_problem(self, assertion: str, audience: str) -> str:
        try:
            header = jwt.get_unverified_header(assertion)
            if header.get("kid") != self.certificate_id:
                return "unknown certificate id"
            if header.get("alg") not in ALGORITHMS:
                return "algorithm not allowed"
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=[header["alg"]],
                audience=audience,
                issuer=self.client_id,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return f"assertion refused: {type(exc).__name__}"
        if not 0 < int(claims["exp"]) - int(claims["iat"]) < 3600:
            return "exp must be less than 60 minutes after iat"
        if "rest_webservices" not in str(claims.get("scope", "")).split(","):
            return "scope lacks rest_webservices"
        return ""

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
            return expires is not None and self._monotonic() < expires

    def revoke(self) -> None:
        with self._lock:
            self._tokens.clear()
