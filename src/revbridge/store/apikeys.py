"""API keys: shown once at creation, stored only as a SHA-256 hash of their secret.

A key looks like ``rb_<id>_<secret>``; the id finds the row, the secret (32 random bytes) is
compared by hash in constant time. Secrets are high-entropy, so a plain hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update

from revbridge.security.roles import Role, parse_roles
from revbridge.store import audit
from revbridge.store.database import Database
from revbridge.store.schema import api_keys


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    roles: tuple[Role, ...]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create(
    db: Database, *, name: str, roles: tuple[Role, ...], now: datetime, actor: str, anchor: Path | None
) -> tuple[ApiKey, str]:
    """Create a key and audit its creation in the same transaction; the token is returned once."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with db.transaction() as conn:
        conn.execute(
            api_keys.insert().values(
                id=key_id,
                name=name,
                role=",".join(r.value for r in roles),
                secret_hash=_hash(secret),
                created_at=now,
                revoked_at=None,
            )
        )
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="apikey.create",
            target=f"apikey/{key_id}",
            details={"name": name, "roles": ",".join(r.value for r in roles)},
            anchor=anchor,
        )
    return ApiKey(key_id, name, roles), f"rb_{key_id}_{secret}"


def verify(db: Database, token: str) -> ApiKey | None:
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != "rb" or not key_id or not secret:
        return None
    with db.reading() as conn:
        row = conn.execute(
            select(api_keys.c.name, api_keys.c.role, api_keys.c.secret_hash).where(
                api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
            )
        ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return ApiKey(key_id, row.name, parse_roles(row.role))


def revoke(db: Database, key_id: str, *, now: datetime) -> bool:
    with db.transaction() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return result.rowcount == 1


def list_keys(db: Database) -> list[dict[str, object]]:
    with db.reading() as conn:
        rows = conn.execute(
            select(
                api_keys.c.id, api_keys.c.name, api_keys.c.role, api_keys.c.created_at, api_keys.c.revoked_at
            ).order_by(api_keys.c.created_at)
        )
        return [dict(r._mapping) for r in rows]
