"""The database staging-table poller against REAL PostgreSQL and MariaDB source tables: rows in,
messages stored with the mark in the same commit, events out; crashes repeat and dedupe absorbs
the repeat; a bad row is excepted with a located problem and the rows after it still flow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stagingdb
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.core.errors import ConfigurationError, StoreUnavailable
from revbridge.settings import StagingSource
from revbridge.sources.staging import StagingPoller
from revbridge.store import events, queue, staging, workitems
from revbridge.store.schema import message_keys, messages

SUPPORT = Path(__file__).resolve().parents[1] / "support"
SENTINELS = ("SENTINEL-NAME-ZZQ", "SENTINEL-VISIT-ZZQ")
BACKEND_MARKS = {"postgresql": pytest.mark.postgres, "mariadb": pytest.mark.mariadb}


@pytest.fixture(params=[pytest.param(b, marks=BACKEND_MARKS[b]) for b in stagingdb.BACKENDS])
def source(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh source database (one per test) holding the staging table; dropped afterwards."""
    url = stagingdb.create_source(request.param)
    yield url
    stagingdb.drop_source(request.param, url)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'rb.db'}", tmp_path)
    yield runtime
    runtime.close()


@pytest.fixture
def pollers(rt: Runtime) -> Iterator[Callable[[StagingSource], StagingPoller]]:
    """Pollers over ``rt`` whose source connections are closed after the test."""
    made: list[StagingPoller] = []

    def make(config: StagingSource) -> StagingPoller:
        made.append(rt.staging_poller(config))
        return made[-1]

    yield make
    for poller in made:
        poller.close()


def _config(url: str, **overrides: Any) -> StagingSource:
    return StagingSource.model_validate(stagingdb.source_settings(url, **overrides))


def _payloads(rt: Runtime) -> list[bytes]:
    with rt.db.reading() as conn:
        rows = conn.execute(select(messages.c.id, messages.c.key_id, messages.c.payload)).all()
    return [rt.store.open_payload(r.id, r.key_id, r.payload) for r in rows]


def _run(db: str, home: Path, config: StagingSource, mode: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SUPPORT / "staging_procs.py"), db, str(home), config.model_dump_json(), mode],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")]),
            **env,
        },
        text=True,
    )


def test_rows_become_messages_and_events_and_the_mark_advances(
    source: str, rt: Runtime, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(
        source,
        [
            stagingdb.row(1),
            stagingdb.row(2),
            stagingdb.row(3, "PAY"),
            stagingdb.row(4, "ADJ"),
            stagingdb.row(5),
        ],
    )
    poller = pollers(_config(source))
    assert poller.poll_once() == 5
    assert queue.counts(rt.db)["pending"] == 5
    assert staging.read(rt.db, "pas") == "5"
    assert poller.poll_once() == 0  # nothing after the mark
    stagingdb.insert(source, [stagingdb.row(6), stagingdb.row(7, "PAY")])
    assert poller.poll_once() == 2
    assert staging.read(rt.db, "pas") == "7"
    rt.worker().drain()
    assert queue.counts(rt.db)["processed"] == 7
    assert events.count(rt.db, kind="ChargeCaptured") == 4
    assert events.count(rt.db, kind="PatientPaymentReceived") == 2
    assert events.count(rt.db, kind="AdjustmentPosted") == 1
    metrics = rt.metrics.registry
    assert (
        metrics.get_sample_value("revbridge_staging_rows_total", {"source": "pas", "outcome": "received"})
        == 7
    )
    assert metrics.get_sample_value("revbridge_staging_lag_rows", {"source": "pas"}) == 0
    # only mapped columns are read: the patient's name never reaches a stored message
    assert not any(SENTINELS[0].encode() in p for p in _payloads(rt))


def test_the_lag_counts_rows_waiting_beyond_one_batch(
    source: str, rt: Runtime, tmp_path: Path, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 8)])
    poller = pollers(_config(source, batch_size=3))
    assert poller.poll_once() == 3
    assert rt.metrics.registry.get_sample_value("revbridge_staging_lag_rows", {"source": "pas"}) == 4
    configured = build_runtime(rt.settings.db_url, tmp_path, staging_sources=[_config(source)])
    try:
        assert configured.staging_status()["pas"] == {
            "high_water": "3",
            "updated_at": staging.all_marks(rt.db)["pas"]["updated_at"],
            "waiting": 4,
        }
    finally:
        configured.close()


def test_a_crash_between_commit_and_status_update_repeats_without_duplicates(
    source: str, rt: Runtime, tmp_path: Path, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 21)])
    config = _config(source, status_column="state")
    proc = _run(
        f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, config, "once", REVBRIDGE_FAULTS="staging.after_commit=1"
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert queue.counts(rt.db)["pending"] == 20  # committed before the process died ...
    assert stagingdb.states(source) == {"ready": 20}  # ... the source rows not yet marked done
    assert pollers(config).poll_once() == 20  # read again: every one a duplicate
    assert stagingdb.states(source) == {"done": 20}
    counts = queue.counts(rt.db)
    assert (counts["pending"], counts["duplicate"]) == (20, 20)
    with rt.db.reading() as conn:
        firsts = {i for (i,) in conn.execute(select(messages.c.id).where(messages.c.status == "pending"))}
        repeats = [
            d
            for (d,) in conn.execute(select(messages.c.duplicate_of).where(messages.c.status == "duplicate"))
        ]
    assert sorted(repeats) == sorted(firsts)  # each repeat answered with its original
    rt.worker().drain()
    assert events.count(rt.db) == 20
    assert (
        rt.metrics.registry.get_sample_value(
            "revbridge_staging_rows_total", {"source": "pas", "outcome": "duplicate"}
        )
        == 20
    )


def test_a_bad_row_is_excepted_with_a_located_problem_and_the_next_rows_flow(
    source: str, rt: Runtime, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(
        source,
        [
            stagingdb.row(1),
            stagingdb.row(2, amount=None),
            stagingdb.row(3, visit_no=SENTINELS[1] + " !"),
            stagingdb.row(4, "XYZ"),
            stagingdb.row(5),
            stagingdb.row(6, "PAY"),
        ],
    )
    poller = pollers(_config(source))
    assert poller.poll_once() == 6
    rt.worker().drain()
    counts = queue.counts(rt.db)
    assert (counts["processed"], counts["excepted"]) == (3, 3)
    items = workitems.list_items(rt.db)
    where = {(i.code, i.locator) for i in items}
    assert ("MISSING_AMOUNT", "billing_stage[2].amount") in where
    assert ("INVALID_VALUE", "billing_stage[3].encounter") in where
    assert ("UNSUPPORTED_TRANSACTION", "billing_stage[4].kind") in where
    for item in items:
        text = json.dumps(item.as_json())
        assert not any(s in text for s in SENTINELS)
        assert "MRN0" not in text
    with rt.db.reading() as conn:
        reasons = " ".join(str(r) for (r,) in conn.execute(select(messages.c.terminal_reason)))
    assert not any(s in reasons for s in SENTINELS)
    assert staging.read(rt.db, "pas") == "6"


def test_rows_sharing_a_group_value_are_one_message_and_a_split_group_waits(
    source: str, rt: Runtime, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(
        source,
        [
            stagingdb.row(1, visit_no="A"),
            stagingdb.row(2, visit_no="A"),
            stagingdb.row(3, visit_no="B"),
            stagingdb.row(4, visit_no="B"),
            stagingdb.row(5, visit_no="B"),
        ],
    )
    poller = pollers(_config(source, group_column="visit_no", batch_size=4))
    assert poller.poll_once() == 2  # rows 3 and 4 of group B may go on: held back
    assert staging.read(rt.db, "pas") == "2"
    assert poller.poll_once() == 3
    with rt.db.reading() as conn:
        keys = sorted(k for (k,) in conn.execute(select(message_keys.c.dedupe_key)))
    assert keys == ["staging:billing_stage/1..2", "staging:billing_stage/3..5"]
    rt.worker().drain()
    assert events.count(rt.db, kind="ChargeCaptured") == 5


def test_serve_polls_the_configured_tables_until_events_are_recorded(source: str, tmp_path: Path) -> None:
    from revbridge.service.runner import Service

    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 31)])
    runtime = build_runtime(f"sqlite:///{tmp_path / 'serve.db'}", tmp_path, staging_sources=[_config(source)])
    service = Service(runtime, http=False, mllp=False, directory=False, post=False, workers=1)
    service.start()
    try:
        deadline = time.monotonic() + 60
        while events.count(runtime.db) < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert events.count(runtime.db) == 30
        assert staging.read(runtime.db, "pas") == "30"
    finally:
        service.stop()
        runtime.close()


def test_status_shows_each_source_mark_and_rows_waiting(
    source: str, rt: Runtime, tmp_path: Path, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    import yaml

    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 6)])
    config = _config(source, batch_size=3)
    assert pollers(config).poll_once() == 3
    gone = _config("postgresql+psycopg://nobody@127.0.0.1:1/none", name="gone")
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump({"staging_sources": [config.model_dump(mode="json"), gone.model_dump(mode="json")]}),
        encoding="utf-8",
    )
    args = [
        sys.executable,
        "-m",
        "revbridge",
        "status",
        "--db",
        rt.settings.db_url,
        "--settings",
        str(settings),
    ]
    env = {**os.environ, "REVBRIDGE_HOME": str(tmp_path), "COLUMNS": "200"}
    shown = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)["staging"]
    assert (report["pas"]["high_water"], report["pas"]["waiting"]) == ("3", 2)
    assert report["gone"] == {
        "high_water": None,
        "updated_at": None,
        "waiting": None,
        "error": "StoreUnavailable",
    }
    text = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert "staging pas: high-water 3, waiting 2" in text.stdout
    assert "staging gone: high-water None, waiting unknown (StoreUnavailable)" in text.stdout


def test_key_mode_commits_the_mark_with_the_messages_so_a_kill_after_commit_repeats_nothing(
    source: str, rt: Runtime, tmp_path: Path, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 21)])
    config = _config(source)
    proc = _run(
        f"sqlite:///{tmp_path / 'rb.db'}", tmp_path, config, "once", REVBRIDGE_FAULTS="ack.after_commit=1"
    )
    assert proc.wait(timeout=120) == -signal.SIGKILL  # died right after the commit, before anything else
    assert queue.counts(rt.db)["pending"] == 20
    assert staging.read(rt.db, "pas") == "20"  # the mark was in that same commit
    assert pollers(config).poll_once() == 0
    assert queue.counts(rt.db)["duplicate"] == 0


def test_a_mapped_column_the_table_lacks_is_one_clear_line(
    source: str, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    columns = stagingdb.source_settings(source)["columns"]
    columns["payment"]["method"] = "tender_type"
    poller = pollers(_config(source, columns=columns))
    with pytest.raises(
        ConfigurationError, match=r"^staging table billing_stage has no column\(s\) tender_type$"
    ):
        poller.poll_once()
    with pytest.raises(ConfigurationError, match=r"^staging table nope does not exist in the source$"):
        pollers(_config(source, table="nope")).poll_once()


def test_the_password_comes_from_the_named_environment_variable(
    source: str, pollers: Callable[[StagingSource], StagingPoller], monkeypatch: pytest.MonkeyPatch
) -> None:
    poller = pollers(_config(source, password_env="PAS_TEST_PASSWORD"))
    monkeypatch.delenv("PAS_TEST_PASSWORD", raising=False)
    with pytest.raises(ConfigurationError, match=r"^staging source pas: PAS_TEST_PASSWORD is not set$"):
        poller.poll_once()
    stagingdb.insert(source, [stagingdb.row(1)])
    if "mysql" in source:  # MariaDB's root has no password here: a wrong one is refused, so it is sent
        monkeypatch.setenv("PAS_TEST_PASSWORD", "Wrong-Pw-ZZQ")
        with pytest.raises(StoreUnavailable) as refused:
            poller.poll_once()
        assert "Wrong-Pw-ZZQ" not in str(refused.value)
    monkeypatch.setenv("PAS_TEST_PASSWORD", "")
    assert poller.poll_once() == 1


def test_the_poller_keeps_trying_until_the_table_can_be_read(
    source: str, rt: Runtime, pollers: Callable[[StagingSource], StagingPoller]
) -> None:
    import threading

    poller = pollers(_config(source, table="late_stage"))
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # several polls fail: the table is not there yet
        assert queue.counts(rt.db)["pending"] == 0
        stagingdb.create_table(source, "late_stage")
        stagingdb.insert(source, [stagingdb.row(n) for n in range(1, 4)], "late_stage")
        deadline = time.monotonic() + 30
        while queue.counts(rt.db)["pending"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert queue.counts(rt.db)["pending"] == 3
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert staging.read(rt.db, "pas") == "3"
    failures = rt.metrics.registry.get_sample_value(
        "revbridge_staging_poll_failures_total", {"source": "pas", "error": "ConfigurationError"}
    )
    assert failures is not None and failures >= 1  # every failed try counted
