"""Fixtures every suite shares. Suites add their own conftest.py next to their tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_corpus() -> Path:
    """REVBRIDGE_CORPUS, else ../shared/corpus beside the checkout, else beside the repository a
    local clone was made from (a throw-away clone in /tmp still finds the shared corpus)."""
    if os.environ.get("REVBRIDGE_CORPUS"):
        return Path(os.environ["REVBRIDGE_CORPUS"]).resolve()
    beside = (REPO.parent / "shared" / "corpus").resolve()
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(
            ["git", "-C", str(REPO), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return beside
    if origin and Path(origin).is_dir():
        found = (Path(origin).resolve().parent / "shared" / "corpus").resolve()
        if found.is_dir():
            return found
    return beside


CORPUS = _find_corpus()
SUPPORT = Path(__file__).resolve().parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

from pgdb import create_pg_database, drop_pg_database, truncate_all  # noqa: E402


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared third-party corpus (../shared/corpus); golden tests read it in place."""
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}; set REVBRIDGE_CORPUS")
    return CORPUS


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One PostgreSQL database for the session, migrated; tests clean their own rows."""
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend: the store contract runs on both."""
    from revbridge.store import Database, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = Database.open(url, null_pool=True)
    migrate.upgrade(engine)
    engine.close()
    if request.param == "postgresql":
        truncate_all(url)
    return url
