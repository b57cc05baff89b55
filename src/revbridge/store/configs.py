"""Configuration versions in the store: proposed, approved (maker-checker) or rejected.

A version is the canonical JSON of a validated Configuration, its fingerprint and an effective
date. Processing uses the newest approved version already in effect. Every proposal, approval and
rejection is written to the audit chain in the same transaction.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, func, select, update

from revbridge.core.errors import InputError
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.serialisation import from_json, to_json
from revbridge.store import audit
from revbridge.store.database import Database
from revbridge.store.schema import config_versions

PROPOSED = "proposed"
APPROVED = "approved"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    version: int
    status: str
    effective_from: date
    fingerprint: str
    source: str
    note: str
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "status": self.status,
            "effective_from": self.effective_from.isoformat(),
            "fingerprint": self.fingerprint,
            "source": self.source,
            "note": self.note,
            "proposed_by": self.proposed_by,
            "proposed_at": self.proposed_at.isoformat(),
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
        }


def fingerprint(config: Configuration) -> str:
    return hashlib.sha256(to_json(config).encode("utf-8")).hexdigest()


def _version(row: object) -> Version:
    m = row._mapping  # type: ignore[attr-defined]
    return Version(**{k: m[k] for k in Version.__dataclass_fields__})


def propose(
    db: Database,
    config: Configuration,
    *,
    effective_from: date,
    actor: str,
    note: str,
    source: str,
    now: datetime,
    approve: bool,
    anchor: Path | None,
) -> Version:
    """Store a new version; ``approve`` makes it effective at once (no maker-checker)."""
    body = to_json(config)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    with db.transaction() as conn:
        number = (
            int(conn.execute(select(func.coalesce(func.max(config_versions.c.version), 0))).scalar_one()) + 1
        )
        conn.execute(
            config_versions.insert().values(
                version=number,
                status=APPROVED if approve else PROPOSED,
                effective_from=effective_from,
                fingerprint=digest,
                body=body,
                source=source[:512],
                note=note,
                proposed_by=actor,
                proposed_at=now,
                approved_by=actor if approve else None,
                approved_at=now if approve else None,
            )
        )
        details = {"fingerprint": digest, "effective_from": effective_from.isoformat(), "note": note}
        action = "config.apply" if approve else "config.propose"
        audit.append(
            conn,
            at=now,
            actor=actor,
            action=action,
            target=f"config/{number}",
            details=details,
            anchor=anchor,
        )
        row = conn.execute(select(config_versions).where(config_versions.c.version == number)).one()
    return _version(row)


def decide(
    db: Database, number: int, *, approve: bool, actor: str, now: datetime, reason: str, anchor: Path | None
) -> Version:
    """Approve or reject a proposed version. The approver must not be the proposer."""
    with db.transaction() as conn:
        row = conn.execute(select(config_versions).where(config_versions.c.version == number)).first()
        if row is None:
            raise InputError(f"no configuration version {number}")
        if row.status != PROPOSED:
            raise InputError(f"configuration version {number} is {row.status}, not proposed")
        if row.proposed_by == actor:
            raise InputError("maker-checker: a version must be approved by someone other than its proposer")
        status = APPROVED if approve else REJECTED
        conn.execute(
            update(config_versions)
            .where(config_versions.c.version == number)
            .values(status=status, approved_by=actor, approved_at=now)
        )
        audit.append(
            conn,
            at=now,
            actor=actor,
            action=f"config.{'approve' if approve else 'reject'}",
            target=f"config/{number}",
            details={"fingerprint": row.fingerprint, "reason": reason},
            anchor=anchor,
        )
        updated = conn.execute(select(config_versions).where(config_versions.c.version == number)).one()
    return _version(updated)


def versions(db: Database) -> list[Version]:
    with db.reading() as conn:
        return [
            _version(r) for r in conn.execute(select(config_versions).order_by(config_versions.c.version))
        ]


def body(conn: Connection, number: int) -> str:
    text = conn.execute(
        select(config_versions.c.body).where(config_versions.c.version == number)
    ).scalar_one_or_none()
    if text is None:
        raise InputError(f"no configuration version {number}")
    return str(text)


def load_version(db: Database, number: int) -> Configuration:
    with db.reading() as conn:
        text = body(conn, number)
    config, errors = from_json(text)
    if config is None:
        raise InputError(f"stored configuration version {number} no longer validates: {errors[0]}")
    return config


def current_number(conn: Connection, on: date) -> int | None:
    query = select(func.max(config_versions.c.version)).where(
        config_versions.c.status == APPROVED, config_versions.c.effective_from <= on
    )
    value = conn.execute(query).scalar_one_or_none()
    return int(value) if value is not None else None


class ConfigCache:
    """The configuration in effect, re-read only when a newer version has been approved."""

    def __init__(self, db: Database, *, recheck_seconds: float = 1.0) -> None:
        self._db = db
        self._number: int | None = None
        self._config: Configuration | None = None
        # The worker asks for every message; a newly approved version is noticed within a second.
        self._recheck = recheck_seconds
        self._checked: tuple[date, float] | None = None

    def current(self, conn: Connection, on: date, *, fresh: bool = False) -> tuple[int, Configuration] | None:
        recent = (
            self._checked is not None
            and self._checked[0] == on
            and time.monotonic() - self._checked[1] < self._recheck
        )
        if recent and not fresh and self._number is not None and self._config is not None:
            return self._number, self._config
        number = current_number(conn, on)
        self._checked = (on, time.monotonic())
        if number is None:
            return None
        if number != self._number or self._config is None:
            config, errors = from_json(body(conn, number))
            if config is None:
                raise InputError(f"stored configuration version {number} no longer validates: {errors[0]}")
            self._number, self._config = number, config
        return number, self._config
