"""Fixtures for the security tests: an identity provider with its JWKS file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from idp import Idp, public_jwk, rsa_key


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.fixture
def idp(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> Idp:
    provider = Idp(key=signing_key, kid="idp-2026", jwks_file=tmp_path / "jwks.json")
    provider.publish(public_jwk(signing_key, provider.kid, alg="RS256"))
    return provider
