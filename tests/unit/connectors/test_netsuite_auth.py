"""NetSuite authentication against the test ERP: the M2M token (cached, renewed before expiry and
after a 401, refused clearly) and TBA signatures (realm, replay, stale timestamps, bad secrets).
No secret appears in a repr or an error."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from netsuite_erp import NetsuiteErp
from netsuite_erp_setup import (
    ACCOUNT,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    TOKEN_ID,
    TOKEN_SECRET,
    connector,
    make_erp,
    pem,
)

from revbridge.connectors.base import ConnectorUnavailable
from revbridge.connectors.netsuite import NetsuiteSettings
from revbridge.connectors.netsuite_auth import TokenBasedAuth

LOOKUP = "/services/rest/record/v1/journalentry/eid:" + "0" * 64


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def erp() -> Iterator[NetsuiteErp]:
    server = make_erp(token_lifetime=3600)
    yield server
    server.close()


def test_the_m2m_token_is_fetched_once_and_reused(erp: NetsuiteErp) -> None:
    client = connector(erp)
    for _ in range(4):
        assert client.lookup("0" * 64) is None

    assert client.tokens_fetched == 1 and erp.m2m is not None and erp.m2m.issued == 1
    client.close()


def test_the_m2m_token_is_renewed_before_it_expires(erp: NetsuiteErp) -> None:
    clock = Monotonic()
    client = connector(erp, monotonic=clock, refresh_margin=300.0)
    client.lookup("0" * 64)
    clock.now += 3600 - 300 - 1
    client.lookup("0" * 64)
    assert client.tokens_fetched == 1
    clock.now += 2  # inside the margin: renewed while NetSuite would still take the old one
    client.lookup("0" * 64)

    assert client.tokens_fetched == 2
    assert [r.status for r in erp.calls("POST")] == [200, 200]
    client.close()


def test_a_token_netsuite_no_longer_takes_is_renewed_once_after_the_401(erp: NetsuiteErp) -> None:
    client = connector(erp)
    client.lookup("0" * 64)
    assert erp.m2m is not None
    erp.m2m.revoke()

    assert client.lookup("0" * 64) is None
    assert client.tokens_fetched == 2
    assert [r.status for r in erp.record_calls()] == [404, 401, 404]
    client.close()


def test_an_ec_certificate_signs_es256_assertions() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    erp = make_erp()
    assert erp.m2m is not None
    erp.m2m.public_key = key.public_key()  # the integration's certificate is an EC one
    ec_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client = connector(erp, private_key=ec_pem, jwt_algorithm="ES256")
    try:
        assert client.lookup("0" * 64) is None
        assert client.tokens_fetched == 1
    finally:
        client.close()
        erp.close()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"certificate_id": "someone-elses"}, "unknown certificate id"),
        (
            {"private_key": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))},
            "InvalidSignatureError",
        ),
        ({"client_id": "another-integration"}, "InvalidIssuerError"),
        ({"scope": "restlets"}, "scope lacks rest_webservices"),
    ],
)
def test_a_refused_client_assertion_is_a_clear_unavailable(
    erp: NetsuiteErp, overrides: dict[str, str], reason: str
) -> None:
    client = connector(erp, **overrides)
    with pytest.raises(
        ConnectorUnavailable, match="NetSuite token endpoint refused our client assertion"
    ) as refused:
        client.lookup("0" * 64)

    assert "(401): invalid_client" in str(refused.value) and reason in str(refused.value)
    assert not refused.value.uncertain and erp.record_calls() == []
    client.close()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"token_secret": "not-the-secret"}, "signature does not match"),
        ({"consumer_secret": "not-the-secret"}, "signature does not match"),
        ({"account_id": "7654321"}, "wrong realm"),
        ({"token_id": "revoked-token"}, "unknown consumer or token"),
    ],
)
def test_refused_tba_credentials_are_a_clear_unavailable(
    erp: NetsuiteErp, overrides: dict[str, str], reason: str
) -> None:
    client = connector(erp, authentication="tba", **overrides)
    with pytest.raises(
        ConnectorUnavailable, match=r"NetSuite refused our credentials \(401\): INVALID_LOGIN"
    ):
        client.lookup("0" * 64)

    assert erp.auth_refusals == [reason]
    client.close()


def _signed(erp: NetsuiteErp, auth: httpx.Auth) -> httpx.Request:
    request = httpx.Request("GET", erp.url + LOOKUP + "?expandSubResources=true")
    return next(auth.auth_flow(request))


def _tba() -> TokenBasedAuth:
    return TokenBasedAuth(
        account_id=ACCOUNT,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        token_id=TOKEN_ID,
        token_secret=TOKEN_SECRET,
    )


def test_a_replayed_tba_request_is_refused(erp: NetsuiteErp) -> None:
    signed = _signed(erp, _tba())
    with httpx.Client() as raw:
        first = raw.send(signed)
        again = raw.send(signed)

    assert (first.status_code, again.status_code) == (404, 401)
    assert erp.auth_refusals == ["nonce already used"]
    assert 'realm="1234567_SB1"' in signed.headers["Authorization"]
    assert 'oauth_signature_method="HMAC-SHA256"' in signed.headers["Authorization"]


def test_a_tba_request_signed_too_long_ago_is_refused() -> None:
    erp = make_erp(tba_wall=lambda: time.time() + 600)
    client = connector(erp, authentication="tba")
    try:
        with pytest.raises(ConnectorUnavailable, match="401"):
            client.lookup("0" * 64)
        assert erp.auth_refusals == ["timestamp outside the allowed window"]
    finally:
        client.close()
        erp.close()


def test_no_secret_appears_in_a_repr_or_an_error(erp: NetsuiteErp) -> None:
    secrets = (CONSUMER_SECRET, TOKEN_SECRET, pem().splitlines()[1])
    shown = []
    for authentication in ("oauth2", "tba"):
        client = connector(erp, authentication=authentication, token_secret="x" + TOKEN_SECRET)
        shown += [repr(client), repr(client.settings), repr(client.auth)]
        try:
            client.lookup("0" * 64)
        except ConnectorUnavailable as exc:
            shown.append(str(exc))
        client.close()

    assert len(shown) == 7  # the TBA lookup was refused, with NetSuite's words
    assert not [text for text in shown for secret in secrets if secret in text]


def test_settings_refuse_a_missing_credential_or_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="oauth2 authentication needs certificate_id, private_key"):
        NetsuiteSettings(account_id=ACCOUNT, client_id="c")
    with pytest.raises(ValueError, match="tba authentication needs consumer_secret"):
        NetsuiteSettings(
            account_id=ACCOUNT, authentication="tba", consumer_key="k", token_id="t", token_secret="s"
        )
    with pytest.raises(ValueError, match="oauth2 or tba"):
        NetsuiteSettings(account_id=ACCOUNT, authentication="password")
    assert (
        NetsuiteSettings(
            account_id=ACCOUNT,
            authentication="tba",
            consumer_key="k",
            consumer_secret="c",
            token_id="t",
            token_secret="s",
        ).url
        == "https://1234567-sb1.suitetalk.api.netsuite.com"
    )
