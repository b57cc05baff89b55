"""The keyring: AES-256-GCM keys for raw payloads and the HMAC key for patient tokens.

Every stored payload records the id of the key that sealed it and binds its own row id as
associated data, so a ciphertext moved to another row, or edited, fails to open. Rotation adds a
key and makes it active; old keys stay in the ring until a re-encryption job has moved every row.

The embedded default writes a local key file (mode 0600) on first use and says so once.
Production passes keys by environment (``REVBRIDGE_KEYS=kid:base64,...``) or by a file it manages.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from revbridge.core.errors import ConfigurationError, DecryptionError
from revbridge.core.tokens import HmacTokenizer

NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Keyring:
    keys: Mapping[str, bytes]
    active: str
    token_key: bytes

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ConfigurationError(f"active key {self.active!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise ConfigurationError(f"key {kid!r} must be 32 bytes for AES-256-GCM")

    def seal(self, plaintext: bytes, aad: str) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext, aad.encode("utf-8"))
        return self.active, nonce + sealed

    def open(self, key_id: str, blob: bytes, aad: str) -> bytes:
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"payload sealed with key {key_id!r}, which is not in the keyring")
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError(
                f"payload of {aad} failed authentication under key {key_id!r}: tampered or misplaced"
            ) from None

    def tokenizer(self) -> HmacTokenizer:
        return HmacTokenizer(self.token_key)

    def with_new_key(self, key_id: str) -> Keyring:
        if key_id in self.keys:
            raise ConfigurationError(f"key id {key_id!r} already exists")
        return Keyring({**self.keys, key_id: AESGCM.generate_key(bit_length=256)}, key_id, self.token_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ConfigurationError(f"{what} is not valid base64") from None


def parse_key_list(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, material = item.partition(":")
        if not sep or not kid:
            raise ConfigurationError("REVBRIDGE_KEYS must look like 'kid:base64key,kid2:base64key'")
        keys[kid] = _unb64(material, f"key {kid!r}")
    return keys


def write_key_file(path: Path, ring: Keyring) -> None:
    data = {
        "active": ring.active,
        "keys": {kid: _b64(key) for kid, key in ring.keys.items()},
        "token_key": _b64(ring.token_key),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_key_file(path: Path) -> Keyring:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = {kid: _unb64(v, f"key {kid!r}") for kid, v in data["keys"].items()}
        return Keyring(keys, data["active"], _unb64(data["token_key"], "token key"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"key file {path} is unreadable: {type(exc).__name__}") from None


def new_keyring(key_id: str = "k1") -> Keyring:
    return Keyring({key_id: AESGCM.generate_key(bit_length=256)}, key_id, os.urandom(32))


def load_keyring(
    *,
    key_file: Path,
    keys_spec: str | None,
    active: str | None,
    token_key: str | None,
    create: bool,
) -> tuple[Keyring, bool]:
    """The keyring from the environment or the key file; returns (ring, created_now)."""
    if keys_spec:
        keys = parse_key_list(keys_spec)
        if not keys:
            raise ConfigurationError("REVBRIDGE_KEYS holds no keys")
        chosen = active or next(reversed(list(keys)))
        if not token_key:
            raise ConfigurationError("REVBRIDGE_TOKEN_KEY is required when keys come from REVBRIDGE_KEYS")
        return Keyring(keys, chosen, _unb64(token_key, "REVBRIDGE_TOKEN_KEY")), False
    if key_file.exists():
        ring = read_key_file(key_file)
        if active and active != ring.active:
            ring = Keyring(ring.keys, active, ring.token_key)
        if token_key:
            ring = Keyring(ring.keys, ring.active, _unb64(token_key, "REVBRIDGE_TOKEN_KEY"))
        return ring, False
    if not create:
        raise ConfigurationError(f"no encryption keys: {key_file} does not exist and REVBRIDGE_KEYS is unset")
    ring = new_keyring()
    write_key_file(key_file, ring)
    return ring, True
