"""PostgreSQL test databases: created fresh per test session or run, dropped afterwards."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("REVBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def create_pg_database(prefix: str = "rbtest") -> str:
    """Create a fresh PostgreSQL database and return its URL; the caller drops it."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not usable: {type(exc).__name__}: {exc}")
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def truncate_all(url: str) -> None:
    from revbridge.store.partitions import pg_metadata
    from revbridge.store.schema import metadata

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [*metadata.sorted_tables, *pg_metadata.sorted_tables]  # event_keys: PostgreSQL only
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
