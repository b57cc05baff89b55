"""The audit log in the store: append inside the caller's transaction, verify on demand.

Appends serialise on the head row (``FOR UPDATE`` on PostgreSQL; SQLite has one writer), so the
chain has no forks even with many API nodes. An optional anchor file outside the database repeats
the head after every append, so a truncation done with database access alone is still caught.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select

from revbridge.security.audit import GENESIS, AuditEntry, Finding, entry_hash, verify
from revbridge.store.database import Database
from revbridge.store.schema import audit_head, audit_log

HEAD_ID = 1


def append(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, str] | None = None,
    anchor: Path | None = None,
) -> AuditEntry:
    query = select(audit_head.c.count, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    head = conn.execute(query).first()
    count, prev = (int(head._mapping["count"]), head._mapping["hash"]) if head is not None else (0, GENESIS)
    clean = {str(k): str(v) for k, v in (details or {}).items()}
    seq = count + 1
    digest = entry_hash(
        seq=seq, at=at, actor=actor, action=action, target=target, details=clean, prev_hash=prev
    )
    conn.execute(
        audit_log.insert().values(
            seq=seq,
            at=at,
            actor=actor[:128],
            action=action[:64],
            target=target[:512],
            details=json.dumps(clean, sort_keys=True),
            prev_hash=prev,
            hash=digest,
        )
    )
    if head is None:
        conn.execute(audit_head.insert().values(id=HEAD_ID, count=seq, hash=digest))
    else:
        conn.execute(audit_head.update().where(audit_head.c.id == HEAD_ID).values(count=seq, hash=digest))
    if anchor is not None:
        _write_anchor(anchor, seq, digest)
    return AuditEntry(
        seq=seq, at=at, actor=actor, action=action, target=target, details=clean, prev_hash=prev, hash=digest
    )


def record(
    db: Database,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, str],
    anchor: Path | None,
) -> AuditEntry:
    """One entry in a transaction of its own, committed before this returns: what the faces
    record as it happens (a sign-in, a token's first use, a view of raw PHI), so a face can
    refuse to go on when the record could not be written. An entry that must commit with other
    writes is appended with ``append`` inside the caller's transaction."""
    with db.transaction() as tx:
        return append(tx, at=at, actor=actor, action=action, target=target, details=details, anchor=anchor)


def _write_anchor(path: Path, count: int, digest: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"count": count, "hash": digest}), encoding="utf-8")
    os.replace(tmp, path)


def entries(conn: Connection) -> Iterator[AuditEntry]:
    for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)):
        yield AuditEntry(
            seq=int(row.seq),
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            details=json.loads(row.details),
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


def check(db: Database, *, anchor: Path | None = None) -> tuple[int, list[Finding]]:
    """(entries checked, findings). Findings are empty when the chain is intact."""
    with db.reading() as conn:
        head = conn.execute(
            select(audit_head.c.count, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
        ).first()
        listed = list(entries(conn))
    head_count, head_hash = (0, None)
    if head is not None:
        head_count, head_hash = int(head._mapping["count"]), head._mapping["hash"]
    findings = verify(listed, head_count=head_count, head_hash=head_hash)
    if anchor is not None and anchor.exists():
        recorded = json.loads(anchor.read_text(encoding="utf-8"))
        if recorded.get("count") != head_count or recorded.get("hash") != head_hash:
            findings.append(
                Finding(
                    None,
                    f"the anchor file records {recorded.get('count')} entries, the database {head_count}",
                )
            )
    return len(listed), findings
