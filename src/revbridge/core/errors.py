"""The small exception tree. Raise only for bugs and infrastructure failures; bad input is a
Problem value. Messages here must be PHI-free: they reach logs."""

from __future__ import annotations


class RevbridgeError(Exception):
    """Base of every error revbridge raises on purpose."""


class InputError(RevbridgeError):
    """The user asked for something that cannot be done (missing file, unknown format)."""


class ConfigurationError(RevbridgeError):
    """Settings or configuration files are invalid."""


class StoreError(RevbridgeError):
    """The durable store failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached (or is locked past its timeout)."""


class StoreConflict(StoreError):
    """A unique key was taken by a concurrent writer: read again and decide."""


class DecryptionError(StoreError):
    """A stored payload cannot be decrypted: wrong key, missing key or tampered ciphertext."""


class LimitExceeded(RevbridgeError):
    """An input exceeded a configured bound (frame size, body size, element length)."""
