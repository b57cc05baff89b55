"""OIDC/JWT bearer tokens, verified against the identity provider's published keys (a JWKS).

A token is accepted only when it is signed with an asymmetric algorithm by a key from the
configured JWKS (a file, re-read when it changes, or a URL, cached), names the configured issuer
and audience, has not expired (``exp``, required) and is already valid (``nbf``). ``none`` and
the HMAC algorithms are refused outright: with them, a public key could be used as a shared
secret to forge tokens. The subject becomes the principal; roles come from a configurable claim
(``roles`` by default; a dotted path such as ``realm_access.roles`` reaches into nested claims;
a list or a space/comma separated string). Names that are not revbridge roles are ignored, since
identity providers add their own; a token left with no revbridge role is refused.

Refusals are values with a short PHI-free reason for the log; the token itself is never logged.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jwt
from jwt import PyJWK

from revbridge.core.errors import ConfigurationError
from revbridge.security.roles import Role

# Asymmetric only. The family prefix names the JWK key type that can verify it.
ALGORITHMS: Mapping[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}

Jwk = Mapping[str, Any]


class JwksSource(Protocol):
    def keys(self, *, refresh: bool = False) -> Sequence[Jwk]:
        """The current signing keys; ``refresh`` asks for a fresh copy (an unknown ``kid``)."""
        ...


def _parse_jwks(data: bytes | str, where: str) -> list[Jwk]:
    try:
        document = json.loads(data)
    except ValueError:
        raise ConfigurationError(f"JWKS at {where} is not JSON") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ConfigurationError(f"JWKS at {where} has no 'keys' list")
    return [k for k in keys if isinstance(k, dict)]


class JwksFile:
    """A JWKS on disk, re-read whenever its modification time changes (key roll-over)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: list[Jwk] = []

    def keys(self, *, refresh: bool = False) -> Sequence[Jwk]:
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise ConfigurationError(f"cannot read JWKS file {self._path}: {exc.strerror}") from None
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._keys = _parse_jwks(self._path.read_bytes(), str(self._path))
                self._stamp = stamp
            return self._keys


def _fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=5.0, follow_redirects=False, headers={"accept": "application/json"})
    response.raise_for_status()
    return response.content


class JwksUrl:
    """A JWKS fetched over HTTPS and cached for ``ttl`` seconds.

    An unknown ``kid`` triggers a refetch, at most once per ``min_refresh`` seconds, so tokens
    with made-up key ids cannot turn the server into a request amplifier against the identity
    provider. When a fetch fails the last good keys stay in use until the next attempt.
    """

    def __init__(
        self,
        url: str,
        *,
        fetch: Callable[[str], bytes] = _fetch,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ConfigurationError("the JWKS URL must use https (plain http only for localhost)")
        self._url = url
        self._fetch = fetch
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: list[Jwk] = []
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def keys(self, *, refresh: bool = False) -> Sequence[Jwk]:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._ttl
            may_retry = self._attempted_at is None or now - self._attempted_at >= self._min_refresh
            if (stale or refresh) and may_retry:
                self._attempted_at = now
                try:
                    self._keys = _parse_jwks(self._fetch(self._url), self._url)
                    self._fetched_at = now
                except (httpx.HTTPError, ConfigurationError):
                    pass  # keep the last good keys; the caller refuses tokens it cannot verify
            return self._keys


@dataclass(frozen=True, slots=True, kw_only=True)
class JwtPolicy:
    issuer: str
    audience: str
    roles_claim: str = "roles"
    leeway_seconds: float = 30.0  # clock skew allowed on exp and nbf

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ConfigurationError("JWT authentication needs both an issuer and an audience")


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenIdentity:
    subject: str
    name: str
    roles: tuple[Role, ...]
    token_id: str  # the jti, else a digest of the token: identifies a login without revealing it
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and not credential.startswith("rb_")


def roles_from(claims: Mapping[str, Any], claim: str) -> tuple[Role, ...]:
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, list):
        names = [v.strip() for v in value if isinstance(v, str)]
    else:
        names = []
    known = {r.value: r for r in Role}
    return tuple(dict.fromkeys(known[n] for n in names if n in known))


class JwtVerifier:
    def __init__(self, source: JwksSource, policy: JwtPolicy) -> None:
        self._source = source
        self.policy = policy

    def verify(self, token: str) -> TokenIdentity | Refused:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return Refused("malformed token")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            return Refused(f"algorithm {str(alg)[:16]!r} is not accepted")
        kid = header.get("kid")
        candidates = self._candidates(kid if isinstance(kid, str) else None, alg)
        if not candidates:
            return Refused("no signing key matches the token")
        outcome: dict[str, Any] | Refused = Refused("signature does not verify")
        for jwk in candidates:
            outcome = self._decode(token, jwk, alg)
            if not (isinstance(outcome, Refused) and outcome.reason == "signature does not verify"):
                break
        if isinstance(outcome, Refused):
            return outcome
        return self._identity(token, outcome)

    def _candidates(self, kid: str | None, alg: str) -> list[Jwk]:
        def matching(keys: Sequence[Jwk]) -> list[Jwk]:
            return [
                k
                for k in keys
                if (kid is None or k.get("kid") == kid)
                and k.get("kty") == ALGORITHMS[alg]
                and k.get("use", "sig") == "sig"
                and k.get("alg", alg) == alg
            ]

        found = matching(self._source.keys())
        if not found and kid is not None:
            found = matching(self._source.keys(refresh=True))
        return found

    def _decode(self, token: str, jwk: Jwk, alg: str) -> dict[str, Any] | Refused:
        try:
            key = PyJWK(dict(jwk), algorithm=alg)
        except jwt.PyJWTError:
            return Refused("the matching signing key is unusable")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.policy.audience,
                issuer=self.policy.issuer,
                leeway=self.policy.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_signature": True},
            )
        except jwt.InvalidSignatureError:
            return Refused("signature does not verify")
        except jwt.ExpiredSignatureError:
            return Refused("token expired")
        except jwt.ImmatureSignatureError:
            return Refused("token not yet valid")
        except jwt.InvalidAudienceError:
            return Refused("wrong audience")
        except jwt.InvalidIssuerError:
            return Refused("wrong issuer")
        except jwt.MissingRequiredClaimError as exc:
            return Refused(f"missing claim {exc.claim}")
        except jwt.PyJWTError as exc:
            return Refused(f"invalid token ({type(exc).__name__})")
        return claims

    def _identity(self, token: str, claims: Mapping[str, Any]) -> TokenIdentity | Refused:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            return Refused("subject is empty")
        roles = roles_from(claims, self.policy.roles_claim)
        if not roles:
            return Refused(f"claim {self.policy.roles_claim!r} names no revbridge role")
        jti = claims.get("jti")
        token_id = jti if isinstance(jti, str) and jti else hashlib.sha256(token.encode()).hexdigest()[:24]
        name = claims.get("preferred_username")
        exp = claims["exp"]
        return TokenIdentity(
            subject=subject[:128],
            name=(name if isinstance(name, str) and name else subject)[:128],
            roles=roles,
            token_id=token_id[:64],
            expires_at=datetime.fromtimestamp(float(exp), tz=UTC),
        )
