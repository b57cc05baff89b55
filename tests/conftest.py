"""Fixtures every suite shares. Suites add their own conftest.py next to their tests."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("REVBRIDGE_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
SUPPORT = Path(__file__).resolve().parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

PG_ADMIN_URL = os.environ.get("REVBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared third-party corpus (../shared/corpus); golden tests read it in place."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}; set REVBRIDGE_CORPUS")
    return CORPUS


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


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One PostgreSQL database for the session, migrated; tests clean their own rows."""
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def _truncate_all(url: str) -> None:
    from revbridge.store.schema import metadata

    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend: the store contract runs on both."""
    from revbridge.store import migrate
    from revbridge.store.engine import make_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url, null_pool=True)
    migrate.upgrade(engine)
    engine.dispose()
    if request.param == "postgresql":
        _truncate_all(url)
    yield url
