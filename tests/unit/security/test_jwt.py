"""Bearer tokens: what the verifier accepts and every way it refuses, against a real RSA key."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from idp import AUDIENCE, ISSUER, Idp, b64url, public_jwk, rsa_key, unsigned

from revbridge.core.errors import ConfigurationError
from revbridge.security.jwt import (
    JwksFile,
    JwksUrl,
    JwtPolicy,
    JwtVerifier,
    Refused,
    TokenIdentity,
    looks_like_jwt,
    roles_from,
)
from revbridge.security.roles import Role


def verifier(idp: Idp, **policy: str) -> JwtVerifier:
    return JwtVerifier(JwksFile(idp.jwks_file), JwtPolicy(issuer=ISSUER, audience=AUDIENCE, **policy))


def refusal(result: TokenIdentity | Refused) -> str:
    assert isinstance(result, Refused), result
    return result.reason


def test_a_valid_token_names_its_subject_and_roles(idp: Idp) -> None:
    result = verifier(idp).verify(idp.token(roles=["operator", "phi_reader"], jti="abc-123"))
    assert isinstance(result, TokenIdentity)
    assert result.subject == "u-1001"
    assert result.name == "a.analyst"
    assert result.roles == (Role.OPERATOR, Role.PHI_READER)
    assert result.token_id == "abc-123"
    assert result.expires_at.timestamp() > time.time()


def test_without_jti_the_token_id_is_a_digest_not_the_token(idp: Idp) -> None:
    token = idp.token()
    result = verifier(idp).verify(token)
    assert isinstance(result, TokenIdentity)
    assert result.token_id == hashlib.sha256(token.encode()).hexdigest()[:24]
    assert result.token_id not in token


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "token expired"),
        ({"nbf": int(time.time()) + 3600}, "token not yet valid"),
        ({"aud": "some-other-api"}, "wrong audience"),
        ({"iss": "https://evil.example.test"}, "wrong issuer"),
        ({"exp": None}, "missing claim exp"),
        ({"sub": None}, "missing claim sub"),
        ({"aud": None}, "missing claim aud"),
        ({"sub": "   "}, "subject is empty"),
        ({"roles": ["superuser"]}, "names no revbridge role"),
        ({"roles": []}, "names no revbridge role"),
        ({"roles": None}, "names no revbridge role"),
    ],
)
def test_claims_that_are_refused(idp: Idp, claims: dict[str, object], reason: str) -> None:
    assert reason in refusal(verifier(idp).verify(idp.token(**claims)))


def test_clock_skew_within_the_leeway_is_tolerated(idp: Idp) -> None:
    token = idp.token(exp=int(time.time()) - 5)
    assert isinstance(verifier(idp).verify(token), TokenIdentity)
    strict = JwtVerifier(
        JwksFile(idp.jwks_file), JwtPolicy(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)
    )
    assert refusal(strict.verify(token)) == "token expired"


def test_a_token_signed_by_another_key_is_refused(idp: Idp) -> None:
    forged = idp.token(key=rsa_key())  # same kid, someone else's key
    assert refusal(verifier(idp).verify(forged)) == "signature does not verify"


def test_a_token_naming_an_unknown_key_is_refused(idp: Idp) -> None:
    assert refusal(verifier(idp).verify(idp.token(kid="nobody"))) == "no signing key matches the token"


def test_alg_none_is_refused(idp: Idp) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": idp.kid}, idp.claims(roles=["admin"]))
    assert "not accepted" in refusal(verifier(idp).verify(token))


def test_hmac_signed_with_the_public_key_is_refused(idp: Idp) -> None:
    # The classic algorithm confusion: the public key, which anyone has, used as an HMAC secret.
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "kid": idp.kid}).encode())
    body = b64url(json.dumps(idp.claims(roles=["admin"])).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    assert "not accepted" in refusal(verifier(idp).verify(f"{header}.{body}.{b64url(mac)}"))


def test_an_algorithm_the_key_does_not_declare_is_refused(idp: Idp) -> None:
    token = idp.token(alg="PS256")  # the JWKS pins RS256 for this key
    assert refusal(verifier(idp).verify(token)) == "no signing key matches the token"


def test_garbage_is_refused_not_raised(idp: Idp) -> None:
    for junk in ("", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.%%%.x", "x" * 5000):
        assert isinstance(verifier(idp).verify(junk), Refused)


def test_keys_without_alg_or_kid_are_matched_by_type(tmp_path: Path) -> None:
    key = rsa_key()
    jwk = public_jwk(key, "only")
    del jwk["kid"]
    idp = Idp(key=key, kid="only", jwks_file=tmp_path / "jwks.json")
    idp.publish(jwk)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jwt.encode(idp.claims(), pem, algorithm="RS384")  # no kid header at all
    assert isinstance(verifier(idp).verify(token), TokenIdentity)


def test_the_jwks_file_is_reread_after_key_rollover(idp: Idp) -> None:
    check = verifier(idp)
    new_key = rsa_key()
    token = idp.token(key=new_key, kid="idp-2027")
    assert refusal(check.verify(token)) == "no signing key matches the token"
    idp.publish(public_jwk(idp.key, idp.kid, alg="RS256"), public_jwk(new_key, "idp-2027", alg="RS256"))
    os.utime(idp.jwks_file, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert isinstance(check.verify(token), TokenIdentity)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["viewer", "operator"], (Role.VIEWER, Role.OPERATOR)),
        ("viewer operator", (Role.VIEWER, Role.OPERATOR)),
        ("viewer,operator", (Role.VIEWER, Role.OPERATOR)),
        (["offline_access", "approver", "uma_authorization"], (Role.APPROVER,)),
        (["admin", "admin"], (Role.ADMIN,)),
        ("ADMIN", ()),  # role names are exact
        (42, ()),
    ],
)
def test_roles_claim_shapes(value: object, expected: tuple[Role, ...]) -> None:
    assert roles_from({"roles": value}, "roles") == expected


def test_roles_from_a_nested_claim(idp: Idp) -> None:
    token = idp.token(roles=None, realm_access={"roles": ["steward", "default-roles"]})
    result = verifier(idp, roles_claim="realm_access.roles").verify(token)
    assert isinstance(result, TokenIdentity) and result.roles == (Role.STEWARD,)
    assert "names no revbridge role" in refusal(verifier(idp).verify(token))


def test_policy_needs_issuer_and_audience() -> None:
    with pytest.raises(ConfigurationError):
        JwtPolicy(issuer="", audience=AUDIENCE)
    with pytest.raises(ConfigurationError):
        JwtPolicy(issuer=ISSUER, audience="")


def test_looks_like_jwt() -> None:
    assert looks_like_jwt("a.b.c")
    assert not looks_like_jwt("rb_abc_def")
    assert not looks_like_jwt("rb_a.b.c")
    assert not looks_like_jwt("opaque-token")


class FakeIdp:
    def __init__(self, document: dict[str, object]) -> None:
        self.document = document
        self.calls = 0
        self.fail = False

    def __call__(self, url: str) -> bytes:
        self.calls += 1
        if self.fail:
            raise httpx.ConnectError("idp down")
        return json.dumps(self.document).encode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_jwks_url_is_cached_and_refetched_for_an_unknown_kid_at_most_so_often(idp: Idp) -> None:
    fetch = FakeIdp({"keys": [public_jwk(idp.key, idp.kid, alg="RS256")]})
    clock = FakeClock()
    source = JwksUrl("https://idp.example.test/jwks", fetch=fetch, ttl=300, min_refresh=30, clock=clock)
    check = JwtVerifier(source, JwtPolicy(issuer=ISSUER, audience=AUDIENCE))
    for _ in range(5):
        assert isinstance(check.verify(idp.token()), TokenIdentity)
    assert fetch.calls == 1
    for n in range(20):  # made-up kids cannot make us hammer the identity provider
        assert isinstance(check.verify(idp.token(kid=f"made-up-{n}")), Refused)
    assert fetch.calls == 1
    clock.now += 31
    assert isinstance(check.verify(idp.token(kid="made-up-x")), Refused)
    assert fetch.calls == 2
    clock.now += 301
    fetch.fail = True  # the provider is down: the last good keys keep working
    assert isinstance(check.verify(idp.token()), TokenIdentity)
    assert fetch.calls == 3


def test_jwks_url_must_be_https_except_on_localhost() -> None:
    with pytest.raises(ConfigurationError):
        JwksUrl("http://idp.example.test/jwks")
    JwksUrl("http://127.0.0.1:8081/jwks")
    JwksUrl("https://idp.example.test/jwks")
