"""One audit entry in a transaction of its own: what the faces record as it happens (a sign-in, a
token's first use, a view of raw PHI, a key handed out for the environment).

The chain, its head and its verification are ``store/audit.py``; an entry that must commit with
other writes is appended there inside the caller's transaction. Here the entry is the whole
transaction, committed before the function returns, so a face can refuse to go on when the
record could not be written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from revbridge.security.audit import AuditEntry
from revbridge.store import audit
from revbridge.store.database import Database


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
    with db.transaction() as tx:
        return audit.append(
            tx, at=at, actor=actor, action=action, target=target, details=details, anchor=anchor
        )
