"""The audit chain detects every kind of tampering, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from revbridge.security.audit import entry_hash
from revbridge.store import Database, audit
from revbridge.store.schema import audit_head, audit_log

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def chain(db_url: str, tmp_path: Path) -> tuple[Database, Path]:
    engine = Database.open(db_url, null_pool=True)
    anchor = tmp_path / "anchor.json"
    for n in range(1, 11):
        with engine.transaction() as conn:
            audit.append(
                conn,
                at=T0 + timedelta(minutes=n),
                actor=f"key{n % 3}",
                action="workitem.resolve",
                target=f"item/{n}",
                details={"reason": f"fixed mapping {n}"},
                anchor=anchor,
            )
    return engine, anchor


def test_an_intact_chain_verifies(chain: tuple[Database, Path]) -> None:
    engine, anchor = chain
    count, findings = audit.check(engine, anchor=anchor)
    assert count == 10 and findings == []


def _edit_details(c):  # type: ignore[no-untyped-def]
    c.execute(update(audit_log).where(audit_log.c.seq == 5).values(details='{"reason": "nothing to see"}'))


def _edit_actor(c):  # type: ignore[no-untyped-def]
    c.execute(update(audit_log).where(audit_log.c.seq == 2).values(actor="someone-else"))


def _edit_time(c):  # type: ignore[no-untyped-def]
    c.execute(update(audit_log).where(audit_log.c.seq == 7).values(at=T0 - timedelta(days=1)))


def _delete_middle(c):  # type: ignore[no-untyped-def]
    c.execute(delete(audit_log).where(audit_log.c.seq == 5))


def _reorder(c):  # type: ignore[no-untyped-def]
    c.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=-3))
    c.execute(update(audit_log).where(audit_log.c.seq == 4).values(seq=3))
    c.execute(update(audit_log).where(audit_log.c.seq == -3).values(seq=4))


def _truncate_tail(c):  # type: ignore[no-untyped-def]
    c.execute(delete(audit_log).where(audit_log.c.seq > 8))


def _truncate_and_fix_head(c):  # type: ignore[no-untyped-def]
    row = c.execute(audit_log.select().where(audit_log.c.seq == 8)).one()
    c.execute(delete(audit_log).where(audit_log.c.seq > 8))
    c.execute(update(audit_head).values(count=8, hash=row.hash))


def _forge_with_rehash(c):  # type: ignore[no-untyped-def]
    row = c.execute(audit_log.select().where(audit_log.c.seq == 6)).one()
    forged = entry_hash(
        seq=6,
        at=row.at,
        actor="intruder",
        action=row.action,
        target=row.target,
        details={"reason": "forged"},
        prev_hash=row.prev_hash,
    )
    c.execute(
        update(audit_log)
        .where(audit_log.c.seq == 6)
        .values(actor="intruder", details='{"reason": "forged"}', hash=forged)
    )


def _wipe_everything(c):  # type: ignore[no-untyped-def]
    c.execute(delete(audit_log))
    c.execute(delete(audit_head))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_edit_details, "edited"),
        (_edit_actor, "edited"),
        (_edit_time, "edited"),
        (_delete_middle, "out of sequence"),
        (_reorder, "does not follow"),
        (_truncate_tail, "truncated"),
        (_truncate_and_fix_head, "anchor file"),
        (_forge_with_rehash, "does not follow"),
        (_wipe_everything, "anchor file"),
    ],
)
def test_tampering_is_detected(
    chain: tuple[Database, Path], tamper: Callable[..., None], expected: str
) -> None:
    engine, anchor = chain
    with engine.transaction() as conn:
        tamper(conn)
    _, findings = audit.check(engine, anchor=anchor)
    assert findings, "tampering went unnoticed"
    assert any(expected in str(f) for f in findings), [str(f) for f in findings]
