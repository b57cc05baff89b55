"""Key rotation and re-encryption of stored payloads.

Rotation adds a key to the key file and makes it active; the audit entry and the file change go
together (the entry commits only after the file is in place). Old keys stay in the ring, so every
row stays readable.

Re-encryption moves rows still sealed under old keys to the active key. It is resumable by
construction: the rows left to do are exactly those whose ``key_id`` is not the active key, so a
job that stops (Ctrl-C, a crash) starts again and finds fewer. Each batch is read, opened and
re-sealed outside any write transaction; then one short transaction writes the batch, each row
guarded by its old key id, so a row purged or re-sealed by someone else meanwhile is skipped, not
overwritten. Intake keeps running meanwhile: new rows arrive under the active key and are not
touched, and the write lock is held only for the updates. A row that does not open (tampered, or
its key is missing) is reported and left as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, func, select, update

from revbridge.core.errors import DecryptionError, InputError
from revbridge.security.keys import NONCE_BYTES, Keyring, read_key_file, write_key_file
from revbridge.store import audit
from revbridge.store.database import Database
from revbridge.store.schema import messages

# Written only while the row still has its old key and a payload: a row purged or re-sealed by
# someone else between our read and our write is skipped, never overwritten.
_GUARDED_UPDATE = (
    update(messages)
    .where(
        messages.c.id == bindparam("m_id"),
        messages.c.key_id == bindparam("m_old"),
        messages.c.payload.is_not(None),
    )
    .values(key_id=bindparam("m_key"), payload=bindparam("m_blob"))
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RekeyReport:
    active: str
    moved: int
    skipped: int  # changed by someone else (purged, re-sealed) between our read and our write
    failed: tuple[str, ...]  # message ids whose payload does not open: tampered, or key missing
    remaining: dict[str, int]  # rows per old key id still to do after this run

    def as_json(self) -> dict[str, object]:
        return {
            "active": self.active,
            "moved": self.moved,
            "skipped": self.skipped,
            "failed": list(self.failed),
            "remaining": self.remaining,
        }


def rows_by_key(db: Database) -> dict[str, int]:
    """Stored payloads per key id (purged rows hold no payload and are not counted)."""
    with db.reading() as conn:
        rows = conn.execute(
            select(messages.c.key_id, func.count())
            .where(messages.c.payload.is_not(None))
            .group_by(messages.c.key_id)
        )
        return {str(kid): int(n) for kid, n in rows}


def rotate(
    db: Database,
    *,
    key_file: Path,
    key_id: str | None,
    actor: str,
    now: datetime,
    anchor: Path | None,
) -> Keyring:
    """Add a new key to the key file and make it active; returns the new ring."""
    if not key_file.exists():
        raise InputError(f"no key file at {key_file}")
    ring = read_key_file(key_file)
    new_id = key_id or ring.next_key_id()
    rotated = ring.with_new_key(new_id)
    with db.transaction() as conn:
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="key.rotate",
            target=f"key/{new_id}",
            details={"previous": ring.active, "mode": "file", "keys": str(len(rotated.keys))},
            anchor=anchor,
        )
        write_key_file(key_file, rotated)
    return rotated


def retire(
    db: Database, *, key_file: Path, key_id: str, actor: str, now: datetime, anchor: Path | None
) -> Keyring:
    """Remove a key no stored payload uses any more (after a complete re-encryption)."""
    ring = read_key_file(key_file)
    smaller = ring.without_key(key_id)
    still = rows_by_key(db).get(key_id, 0)
    if still:
        raise InputError(f"{still} stored payloads are still sealed under {key_id!r}: run `keys reencrypt`")
    with db.transaction() as conn:
        audit.append(
            conn, at=now, actor=actor, action="key.retire", target=f"key/{key_id}", details={}, anchor=anchor
        )
        write_key_file(key_file, smaller)
    return smaller


def reencrypt(
    db: Database,
    keyring: Keyring,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> RekeyReport:
    ring = keyring.latest()
    active = ring.active
    target = ring.keys[active]
    moved = skipped = 0
    failed: list[str] = []
    cursor = ""
    while True:
        with db.reading() as conn:
            batch = conn.execute(
                select(messages.c.id, messages.c.key_id, messages.c.payload)
                .where(
                    messages.c.payload.is_not(None),
                    messages.c.key_id != active,
                    messages.c.id > cursor,
                )
                .order_by(messages.c.id)
                .limit(batch_size)
            ).all()
        if not batch:
            break
        cursor = batch[-1].id
        sealed: list[tuple[str, str, bytes]] = []
        for row in batch:
            if row.key_id not in ring.keys and row.key_id in keyring.latest().keys:
                skipped += 1  # sealed under a key newer than this run's: leave it
                continue
            try:
                plain = keyring.open(row.key_id, bytes(row.payload), aad=row.id)
            except DecryptionError:
                failed.append(row.id)
                continue
            nonce = os.urandom(NONCE_BYTES)
            blob = nonce + AESGCM(target).encrypt(nonce, plain, row.id.encode("utf-8"))
            sealed.append((row.id, row.key_id, blob))
        if sealed:
            with db.transaction() as conn:
                # One statement, many rows: rowcount is the number written (SQLite and psycopg sum it).
                result = conn.execute(
                    _GUARDED_UPDATE,
                    [{"m_id": m, "m_old": old, "m_key": active, "m_blob": blob} for m, old, blob in sealed],
                )
            moved += result.rowcount
            skipped += len(sealed) - result.rowcount
        if progress is not None:
            progress(len(batch))
    remaining = {kid: n for kid, n in rows_by_key(db).items() if kid != active}
    return RekeyReport(active=active, moved=moved, skipped=skipped, failed=tuple(failed), remaining=remaining)


def record_run(db: Database, report: RekeyReport, *, actor: str, now: datetime, anchor: Path | None) -> None:
    with db.transaction() as conn:
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="key.reencrypt",
            target=f"key/{report.active}",
            details={
                "moved": str(report.moved),
                "skipped": str(report.skipped),
                "failed": str(len(report.failed)),
                "remaining": str(sum(report.remaining.values())),
            },
            anchor=anchor,
        )
