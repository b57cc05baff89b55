"""Migration 0006 on PostgreSQL keeps every row, each in its month, goes on with the event ids
where they were, and downgrades to the unpartitioned tables; on SQLite it does nothing and there
are no months to drop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pgdb import create_pg_database, drop_pg_database
from sqlalchemy import insert, select, text

from revbridge.core.errors import InputError
from revbridge.store import Database, horizon, migrate, partitions
from revbridge.store.schema import events, message_keys, messages, metadata

JAN = datetime(2025, 1, 15, 12, tzinfo=UTC)
FEB = datetime(2025, 2, 10, 12, tzinfo=UTC)


@pytest.fixture
def url() -> Iterator[str]:
    found = create_pg_database("rbpartmig")
    yield found
    drop_pg_database(found)


def test_sqlite_has_no_months_to_drop(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 's.db'}", null_pool=True)
    try:
        migrate.upgrade(db)
        with pytest.raises(InputError):
            horizon.inspect(db, horizon=date(2025, 1, 1))
        with db.reading() as conn:
            assert not partitions.is_partitioned(conn, "messages")
            assert not partitions.is_partitioned_events(conn)
    finally:
        db.close()


def _alembic(db: Database, action: str, revision: str) -> None:
    cfg = migrate._config()
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


@pytest.mark.postgres
def test_the_migration_keeps_existing_rows_and_downgrades(url: str) -> None:
    db = Database.open(url, null_pool=True)
    try:
        migrate.upgrade(db, "0005")
        with db.transaction() as conn:
            for n, when in enumerate((JAN, FEB), start=1):
                conn.execute(insert(messages), [_message(f"m{n}", when)])
                conn.execute(
                    insert(message_keys),
                    [{"dedupe_key": f"k{n}", "message_id": f"m{n}", "content_hash": "h"}],
                )
                conn.execute(insert(events), [_event(f"e{n}", f"m{n}", when)])
        migrate.upgrade(db)
        with db.reading() as conn:
            placed = dict(conn.execute(text("SELECT id, tableoid::regclass::text FROM messages")).all())
            assert placed == {"m1": "messages_p2025_01", "m2": "messages_p2025_02"}
            found = conn.execute(
                text("SELECT key, tableoid::regclass::text, id FROM events ORDER BY id")
            ).all()
            assert [(k, home) for k, home, _ in found] == [
                ("e1", "events_p2025_01"),
                ("e2", "events_p2025_02"),
            ]
            keyed = conn.execute(
                select(partitions.event_keys.c.key, partitions.event_keys.c.message_id)
            ).all()
            assert sorted(keyed) == [("e1", "m1"), ("e2", "m2")]
        with db.transaction() as conn:  # ids go on from where they were
            new_id = conn.execute(
                insert(events).returning(events.c.id), [_event("e3", "m2", FEB)]
            ).scalar_one()
        assert new_id > found[-1][2]
        _alembic(db, "downgrade", "0005")
        with db.reading() as conn:
            assert not partitions.is_partitioned(conn, "messages")
            assert sorted(conn.execute(select(messages.c.id)).scalars()) == ["m1", "m2"]
            assert sorted(conn.execute(select(events.c.key)).scalars()) == ["e1", "e2", "e3"]
        with db.engine.connect() as conn:  # tables later migrations add are not there yet
            at_0005 = MigrationContext.configure(conn, opts={"include_object": _held})
            assert compare_metadata(at_0005, metadata) == []
        migrate.upgrade(db)  # and back up again on what the downgrade left
        with db.reading() as conn:
            assert partitions.is_partitioned(conn, "messages")
            assert sorted(conn.execute(select(events.c.key)).scalars()) == ["e1", "e2", "e3"]
    finally:
        db.close()


# What migrations after 0005 change in the tables 0005 has: messages.priority and its index
# replace ix_messages_status_next (0012), so neither side of that swap is compared at 0005.
_LATER = {
    ("column", "priority"),
    ("index", "ix_messages_status_priority_id"),
    ("index", "ix_messages_status_next"),
}


def _held(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """Compare a table only where the database has it (a table a later migration adds is not
    there at 0005); its columns and indexes are compared wherever the table is, but for what a
    later migration changed in it (_LATER)."""
    if (kind, name) in _LATER:
        return False
    return not (kind == "table" and not reflected and compare_to is None)


def _message(mid: str, when: datetime) -> dict[str, object]:
    return {
        "id": mid,
        "channel": "test",
        "format": "lines",
        "dedupe_key": None,
        "content_hash": "h",
        "size": 1,
        "locator": "",
        "received_at": when,
        "correlation_id": mid,
        "status": "processed",
        "attempts": 1,
    }


def _event(key: str, mid: str, when: datetime) -> dict[str, object]:
    return {
        "key": key,
        "kind": "ChargeCaptured",
        "message_id": mid,
        "facility": "F01",
        "occurred_on": when.date(),
        "body": "{}",
        "content_hash": "h",
        "state": "recorded",
        "created_at": when + timedelta(seconds=1),
    }
