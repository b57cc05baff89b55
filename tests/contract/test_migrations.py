"""The Alembic migrations build exactly the tables schema.py declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revbridge.store import Database, migrate
from revbridge.store.schema import metadata


def test_migrations_match_the_schema(db_url: str) -> None:
    engine = Database.open(db_url, null_pool=True)
    try:
        assert migrate.is_current(engine)
        with engine.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.close()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = Database.open(db_url, null_pool=True)
    try:
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.close()
