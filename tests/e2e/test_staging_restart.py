"""10,000 staging rows through a poller SIGKILLed mid-way AND a source database server that crashes
and comes back while the next poller runs: every row stored exactly once, and no row marked (status
column, or high-water mark) before its message was committed.

The source database is a PRIVATE server (tests/support/private_db.py) the test may crash: the
shared servers at :5432 and :3306 serve everyone on the machine. revbridge's own store is the
shared PostgreSQL; only the patient-accounting side goes away.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import stagingdb
from private_db import PrivateServer, start_private
from restarted_sources import stored, wait_for
from runtime import build_runtime
from sqlalchemy import func, select

from revbridge.bootstrap import Runtime
from revbridge.settings import StagingSource
from revbridge.store import staging
from revbridge.store.schema import message_keys, messages

SUPPORT = Path(__file__).resolve().parents[1] / "support"
TOTAL = 10_000
BATCH = 100


@pytest.fixture
def store(pg_url: str) -> str:
    """revbridge's store: the session's PostgreSQL database, migrated and emptied."""
    from pgdb import truncate_all

    from revbridge.store import Database, migrate

    db = Database.open(pg_url, null_pool=True)
    migrate.upgrade(db)
    db.close()
    truncate_all(pg_url)
    return pg_url


def _spawn(db: str, home: Path, config: StagingSource, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:  # a file, never a pipe left unread
        return subprocess.Popen(
            [
                sys.executable,
                str(SUPPORT / "staging_procs.py"),
                db,
                str(home),
                config.model_dump_json(),
                "forever",
            ],
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
            },
            stdout=out,
            stderr=out,
        )


def _stored_keys(rt: Runtime) -> set[int]:
    with rt.db.reading() as conn:
        keys = [k for (k,) in conn.execute(select(message_keys.c.dedupe_key))]
    return {int(k.rsplit("/", 1)[1]) for k in keys}


def _marked_only_after_commit(rt: Runtime, url: str, mode: str) -> int:
    """Every row marked so far has its message committed: the marks are read FIRST, the stored
    keys after, so a poller still running can only widen the stored side. Returns the marked count."""
    if mode == "status":
        marked = stagingdb.keys_in_state(url, "done")
    else:
        mark = staging.read(rt.db, "pas")
        marked = set(range(1, int(mark) + 1)) if mark is not None else set()
    missing = marked - _stored_keys(rt)
    assert not missing, f"{len(missing)} rows marked before their messages were stored"
    return len(marked)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(
    ("backend", "mode"),
    [
        pytest.param("postgresql", "key", marks=pytest.mark.postgres),
        pytest.param("mariadb", "status", marks=pytest.mark.mariadb),
    ],
)
def test_10000_rows_with_the_poller_killed_and_the_source_server_restarted_are_each_stored_once(
    backend: str, mode: str, store: str, tmp_path: Path
) -> None:
    server = start_private(backend)
    try:
        stagingdb.create_table(server.url, stagingdb.TABLE)
        stagingdb.insert(server.url, [stagingdb.row(n) for n in range(1, TOTAL + 1)])
        overrides: dict[str, Any] = {"batch_size": BATCH}
        if mode == "status":
            overrides["status_column"] = "state"
        config = StagingSource.model_validate(stagingdb.source_settings(server.url, **overrides))
        rt = build_runtime(store, tmp_path)
        try:
            _crash_and_restart(rt, server, config, mode, tmp_path)
            with rt.db.reading() as conn:
                firsts = conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.status != "duplicate")
                ).scalar_one()
            assert _stored_keys(rt) == set(range(1, TOTAL + 1))
            assert firsts == TOTAL  # every row stored once; a repeat only as a duplicate of it
            if mode == "status":
                assert stagingdb.states(server.url) == {"done": TOTAL}
            else:
                assert staging.read(rt.db, "pas") == str(TOTAL)
        finally:
            rt.close()
    finally:
        server.close()


def _crash_and_restart(
    rt: Runtime, server: PrivateServer, config: StagingSource, mode: str, tmp: Path
) -> None:
    """Poller 1 SIGKILLed at >= 3,000 rows; poller 2 started; the source server crashed at
    >= 1,000 rows more and started again 2 s later; poller 2 must go on by itself to the end."""
    logs = [tmp / "poller-1.log", tmp / "poller-2.log"]
    store_url = rt.settings.db_url
    first = _spawn(store_url, tmp, config, logs[0])
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: stored(rt) >= 3000, 120, "3,000 rows stored by the first poller")
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        killed_at = stored(rt)
        assert 3000 <= killed_at < TOTAL, killed_at  # really mid-way
        _marked_only_after_commit(rt, server.url, mode)
        second = _spawn(store_url, tmp, config, logs[1])
        wait_for(lambda: stored(rt) >= killed_at + 1000, 120, "1,000 more rows stored by the second poller")
        server.crash()
        down_at = stored(rt)
        assert down_at < TOTAL, down_at  # the server went away mid-way
        time.sleep(2)  # the poller's polls fail meanwhile
        assert second.poll() is None, logs[1].read_text(errors="replace")  # still running
        assert stored(rt) <= down_at + BATCH  # at most the batch read before the crash
        server.start()
        _marked_only_after_commit(rt, server.url, mode)
        wait_for(lambda: _marked_only_after_commit(rt, server.url, mode) == TOTAL, 240, "every row marked")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, logs[1].read_text(errors="replace")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    text = logs[1].read_text(errors="replace")
    assert text.count("staging.poll_failed") == 1, text  # one line for the outage, not one a try
    assert text.count("staging.poll_recovered") == 1, text
