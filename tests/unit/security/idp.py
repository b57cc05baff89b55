"""A test identity provider: RSA signing keys, a JWKS file, and a token minter."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://idp.example.test/realms/hospital"
AUDIENCE = "revbridge-api"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", **extra}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(signature))
    )


@dataclass
class Idp:
    key: rsa.RSAPrivateKey
    kid: str
    jwks_file: Path

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "u-1001",
            "preferred_username": "a.analyst",
            "iat": now,
            "exp": now + 300,
            "roles": ["viewer"],
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(
        self,
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        **claims: Any,
    ) -> str:
        pem = (key or self.key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return jwt.encode(self.claims(**claims), pem, algorithm=alg, headers={"kid": kid or self.kid})

    def publish(self, *jwks: dict[str, Any]) -> None:
        self.jwks_file.write_text(json.dumps({"keys": list(jwks)}))
