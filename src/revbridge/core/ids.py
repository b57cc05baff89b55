"""Identifiers: time-ordered ids for stored rows, deterministic ids for journals.

Message ids are made by the caller (not the database) so the encrypted payload can bind its own
row id as associated data before the row exists, and so group commit needs no round trip per row.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from typing import NewType

MessageId = NewType("MessageId", str)
EventKey = NewType("EventKey", str)
PatientToken = NewType("PatientToken", str)

IdSource = Callable[[], str]

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A UUIDv7 string (RFC 9562): 48-bit milliseconds, then a counter and randomness.

    Monotonic within one process, so ids sort in arrival order.
    """
    global _last_ms, _seq
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:
                ms += 1
                _seq = 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_message_id() -> MessageId:
    return MessageId(uuid7())


def digest(*parts: str, length: int = 32) -> str:
    """A stable hex digest of the parts, for deterministic ids (journal references)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:length]


def content_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()
