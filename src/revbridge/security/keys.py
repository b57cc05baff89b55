"""The keyring: AES-256-GCM keys for raw payloads and the HMAC key for patient tokens.

Every stored payload records the id of the key that sealed it and binds its own row id as
associated data, so a ciphertext moved to another row, or edited, fails to open. Rotation adds a
key and makes it active; old keys stay in the ring until a re-encryption job has moved every row.

The embedded default writes a local key file (mode 0600) on first use and says so once.
Production passes keys by environment (``REVBRIDGE_KEYS=kid:base64,...``) or by a file it manages.

A ring loaded from a key file follows that file: when ``revbridge keys rotate`` (another process)
replaces it, running services start sealing with the new active key within a second, and a
payload sealed under a key id they have not seen makes them re-read the file at once. So a
re-encryption job can run while intake runs without stranding a worker on a key it lacks. Keys
are only ever added this way, never forgotten. Rings from the environment do not follow anything:
rotating them means a restart.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    follow: _KeyFileFollower | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise ConfigurationError(f"active key {self.active!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise ConfigurationError(f"key {kid!r} must be 32 bytes for AES-256-GCM")

    def current(self) -> Keyring:
        """This ring as its key file said at the last look, at most a second ago."""
        return self.follow.current(self) if self.follow is not None else self

    def latest(self) -> Keyring:
        """This ring as its key file says it is right now (itself when it follows no file)."""
        return self.follow.current(self, force=True) if self.follow is not None else self

    def seal(self, plaintext: bytes, aad: str) -> tuple[str, bytes]:
        ring = self.current()
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(ring.keys[ring.active]).encrypt(nonce, plaintext, aad.encode("utf-8"))
        return ring.active, nonce + sealed

    def open(self, key_id: str, blob: bytes, aad: str) -> bytes:
        key = self.current().keys.get(key_id)
        if key is None and self.follow is not None:
            key = self.follow.current(self, force=True).keys.get(key_id)
        if key is None:
            raise DecryptionError(f"payload sealed with key {key_id!r}, which is not in the keyring")
        if len(blob) < NONCE_BYTES + 16:
            raise DecryptionError(f"payload of {aad} is truncated: tampered or damaged")
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
        if not KEY_ID.fullmatch(key_id):
            raise ConfigurationError("a key id is 1-64 letters, digits, '-', '_' or '.'")
        return Keyring({**self.keys, key_id: AESGCM.generate_key(bit_length=256)}, key_id, self.token_key)

    def without_key(self, key_id: str) -> Keyring:
        if key_id == self.active:
            raise ConfigurationError(f"key {key_id!r} is the active key and cannot be retired")
        if key_id not in self.keys:
            raise ConfigurationError(f"key {key_id!r} is not in the keyring")
        return Keyring({k: v for k, v in self.keys.items() if k != key_id}, self.active, self.token_key)

    def next_key_id(self) -> str:
        """k1, k2, ...: one past the highest numbered id in the ring."""
        numbers = [int(m.group(1)) for kid in self.keys if (m := re.fullmatch(r"k(\d+)", kid))]
        return f"k{max(numbers, default=0) + 1}"


KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class _KeyFileFollower:
    """The mutable part of a ring that follows its key file; checks the file at most once a second
    unless asked to (an unknown key id)."""

    def __init__(self, path: Path, *, pinned_active: str | None, interval: float = 1.0) -> None:
        self._path = path
        self._pinned = pinned_active
        self._interval = interval
        self._lock = threading.Lock()
        self._stamp = _stamp(path)
        self._checked = time.monotonic()
        self._ring: Keyring | None = None

    def current(self, base: Keyring, *, force: bool = False) -> Keyring:
        now = time.monotonic()
        if not force and now - self._checked < self._interval:
            return self._ring or base
        with self._lock:
            self._checked = now
            stamp = _stamp(self._path)
            if stamp is None or stamp == self._stamp:
                return self._ring or base
            try:
                fresh = read_key_file(self._path)
            except ConfigurationError:
                return self._ring or base  # keep what works; the next change is read again
            self._stamp = stamp
            known = self._ring or base
            active = self._pinned if self._pinned is not None and self._pinned in fresh.keys else fresh.active
            # The token key never changes underneath running code: tokens must stay comparable.
            self._ring = Keyring({**known.keys, **fresh.keys}, active, base.token_key)
            return self._ring


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    # write_key_file replaces the file, so the inode changes even when time and size do not.
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


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
        follower = _KeyFileFollower(key_file, pinned_active=active)
        ring = read_key_file(key_file)
        return (
            Keyring(
                ring.keys,
                active or ring.active,
                _unb64(token_key, "REVBRIDGE_TOKEN_KEY") if token_key else ring.token_key,
                follower,
            ),
            False,
        )
    if not create:
        raise ConfigurationError(f"no encryption keys: {key_file} does not exist and REVBRIDGE_KEYS is unset")
    ring = new_keyring()
    write_key_file(key_file, ring)
    return Keyring(
        ring.keys, ring.active, ring.token_key, _KeyFileFollower(key_file, pinned_active=None)
    ), True
