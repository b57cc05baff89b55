"""Patient tokenisation: the only place a patient identifier is turned into something storable.

A token is a keyed HMAC-SHA256 of the identifier's kind and normalised value, so the same MRN
always yields the same token (encounters and payments can be matched) while the token reveals
nothing without the key. Formats call a ``Tokenizer`` as soon as they read an identifier; names,
birth dates and addresses are never tokenised, only dropped.
"""

from __future__ import annotations

import base64
import hmac
from typing import Protocol

from revbridge.core.ids import PatientToken


class Tokenizer(Protocol):
    def __call__(self, kind: str, value: str) -> PatientToken: ...


class HmacTokenizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("tokenisation key must be at least 16 bytes")
        self._key = key

    def __call__(self, kind: str, value: str) -> PatientToken:
        normal = " ".join(value.split()).upper()
        mac = hmac.digest(self._key, f"{kind}\x1f{normal}".encode(), "sha256")
        return PatientToken("pt_" + base64.b32encode(mac[:15]).decode("ascii").lower())


def fixed_tokenizer() -> HmacTokenizer:
    """A tokenizer with a fixed, public key: for tests and golden files only."""
    return HmacTokenizer(b"revbridge-test-key-not-secret!!")
