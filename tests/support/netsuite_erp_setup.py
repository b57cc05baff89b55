"""The NetSuite test ERP and a connector for it, set up as a finance team would: one integration
record with both a certificate (M2M) and a TBA token, subsidiaries 1 (MHN) and 2 (MHS), USD as
currency 1, the service line in a custom column segment. The private key is made once per run."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from netsuite_erp import NetsuiteErp
from netsuite_erp_auth import M2mIssuer, TbaVerifier

from revbridge.connectors.netsuite import NetsuiteConnector, NetsuiteSettings

ACCOUNT = "1234567_SB1"
CLIENT_ID = "b3c1f0a2-client"
CERTIFICATE_ID = "Hn3x8_certificate"
CONSUMER_KEY = "ck-0f9e8d7c"
CONSUMER_SECRET = "cs-SECRET-4411"
TOKEN_ID = "tk-1a2b3c4d"
TOKEN_SECRET = "ts-SECRET-9922"
SEGMENTS = {
    "department": "cost_center",
    "class": "payer_class",
    "location": "facility",
    "custcol_service_line": "service_line",
}


@functools.cache
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | None = None) -> str:
    return (
        (key or private_key())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


def make_erp(*, token_lifetime: int = 3600, tba_wall: Any = None, **options: Any) -> NetsuiteErp:
    tba_options = {"wall": tba_wall} if tba_wall is not None else {}
    tba = TbaVerifier(
        realm=ACCOUNT,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        token_id=TOKEN_ID,
        token_secret=TOKEN_SECRET,
        **tba_options,
    )
    m2m = M2mIssuer(
        client_id=CLIENT_ID,
        certificate_id=CERTIFICATE_ID,
        public_key=private_key().public_key(),
        lifetime=token_lifetime,
    )
    return NetsuiteErp(tba=tba, m2m=m2m, **options)


def settings(erp: NetsuiteErp, **overrides: Any) -> NetsuiteSettings:
    base = NetsuiteSettings(
        account_id=ACCOUNT,
        base_url=erp.url,
        client_id=CLIENT_ID,
        certificate_id=CERTIFICATE_ID,
        private_key=pem(),
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        token_id=TOKEN_ID,
        token_secret=TOKEN_SECRET,
        subsidiaries={"MHN": "1", "MHS": "2"},
        currencies={"USD": "1"},
        segments=SEGMENTS,
        timeout=5.0,
    )
    return replace(base, **overrides)


def connector(erp: NetsuiteErp, *, monotonic: Any = None, **overrides: Any) -> NetsuiteConnector:
    options = {"monotonic": monotonic} if monotonic is not None else {}
    return NetsuiteConnector(settings(erp, **overrides), **options)
