"""The Alembic migrations build exactly the tables schema.py declares, on both backends; on
PostgreSQL migration 0006 partitions messages and events by month, and the differences that makes
are exactly the ones store/partitions.py names."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revbridge.store import Database, migrate
from revbridge.store.partitions import default_name, existing_months
from revbridge.store.schema import metadata

# What PostgreSQL's partitioning changes (store/partitions.py): the unique event key and its index
# move to event_keys (events keeps a plain index on key), and no foreign key can point at the
# partitioned messages table.
PARTITIONED = {
    ("remove_table", "event_keys"),
    ("remove_index", "ix_events_key"),
    ("add_constraint", "events.key"),
    ("add_fk", "fk_events_message_id_messages"),
    ("add_fk", "fk_message_keys_message_id_messages"),
}


def _named(diff: Any) -> tuple[str, str]:
    kind, thing = diff[0], diff[1]
    if kind == "add_constraint":
        return kind, ",".join(f"{c.table.name}.{c.name}" for c in thing.columns)
    return kind, str(thing.name)


def test_migrations_match_the_schema(db_url: str) -> None:
    engine = Database.open(db_url, null_pool=True)
    try:
        assert migrate.is_current(engine)
        with engine.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert compare_metadata(MigrationContext.configure(conn), metadata) == []
                return
            months = {t: existing_months(conn, t) for t in ("messages", "events")}
            partitions = {default_name(t) for t in months} | {
                f"{t}_p{m:%Y_%m}" for t, found in months.items() for m in found
            }

            def include(name: str | None, type_: str, parent: object) -> bool:
                return not (type_ == "table" and name in partitions)

            context = MigrationContext.configure(conn, opts={"include_name": include})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.close()
    assert all(months.values())
    assert sorted(_named(d) for d in diffs) == sorted(PARTITIONED)


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = Database.open(db_url, null_pool=True)
    try:
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.close()
