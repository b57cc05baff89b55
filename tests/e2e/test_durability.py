"""Crash and concurrency tests with real processes and SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime
from sqlalchemy import func, select

from revbridge.store import events, queue
from revbridge.store.messages import Arrival
from revbridge.store.schema import messages

SUPPORT = Path(__file__).resolve().parents[1] / "support"
ENV = {**os.environ, "PYTHONPATH": str(SUPPORT)}


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SUPPORT / "procs.py"), *args], stdout=subprocess.PIPE, text=True, env=ENV
    )


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def test_a_process_killed_right_after_accept_returned_has_lost_nothing(db_url: str, tmp_path: Path) -> None:
    proc = _spawn("accept", db_url, str(tmp_path), "CHARGE killed 12.34")
    assert proc.stdout is not None
    message_id = proc.stdout.readline().strip()
    _kill(proc)
    assert message_id
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        with rt.db.reading() as conn:
            row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
        assert rt.store.open_payload(row.id, row.key_id, row.payload) == b"CHARGE killed 12.34"
        rt.worker().drain()
        assert events.count(rt.db) == 1
    finally:
        rt.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_share_5000_messages_without_processing_any_twice(
    pg_url: str, tmp_path: Path
) -> None:
    from pgdb import truncate_all

    truncate_all(pg_url)
    rt = build_runtime(pg_url, tmp_path, formats=FORMATS)
    try:
        rt.store.accept_many(
            [
                Arrival(channel="test", format="lines", payload=f"CHARGE e{n} 1.00".encode())
                for n in range(5000)
            ]
        )
    finally:
        rt.close()
    outs = [tmp_path / "w1.txt", tmp_path / "w2.txt"]
    procs = [_spawn("work", pg_url, str(tmp_path), f"w{n}", str(out), "60") for n, out in enumerate(outs)]
    for p in procs:
        assert p.wait(timeout=300) == 0
        assert p.stdout is not None
        p.stdout.close()
    done = [out.read_text().split() for out in outs]
    assert all(done), "both workers should have taken part"
    assert len(done[0]) + len(done[1]) == 5000
    assert not set(done[0]) & set(done[1])
    rt = build_runtime(pg_url, tmp_path, formats=FORMATS)
    try:
        assert events.count(rt.db) == 5000
        assert rt.status()["messages"]["processed"] == 5000
    finally:
        rt.close()


@pytest.mark.slow
def test_a_worker_killed_mid_batch_leaves_nothing_stuck_past_its_lease(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        rt.store.accept_many(
            [
                Arrival(channel="test", format="lines", payload=f"SLEEP 0.1\nCHARGE s{n} 1".encode())
                for n in range(40)
            ]
        )
    finally:
        rt.close()
    out = tmp_path / "killed.txt"
    proc = _spawn("work", db_url, str(tmp_path), "doomed", str(out), "2")
    rt = build_runtime(db_url, tmp_path, formats=FORMATS, lease_seconds=2)
    try:
        leased = 0
        deadline = time.monotonic() + 30
        while not leased and time.monotonic() < deadline:  # kill it while it holds a batch
            with rt.db.reading() as conn:
                leased = conn.execute(
                    select(func.count()).select_from(messages).where(messages.c.status == "processing")
                ).scalar_one()
            time.sleep(0.05)
        _kill(proc)
        assert leased > 0, "the worker never claimed a batch"
        deadline = time.monotonic() + 30
        while queue.pending_count(rt.db) and time.monotonic() < deadline:
            rt.worker(owner="rescuer").run_once()
            time.sleep(0.2)
        assert rt.status()["messages"]["processed"] == 40
        assert events.count(rt.db) == 40
    finally:
        rt.close()


def test_a_sentinel_patient_name_never_reaches_the_database_files(db_url: str, tmp_path: Path) -> None:
    sentinel = "Sentinel-Ottoline-Brackwater"
    rt = build_runtime(db_url, tmp_path, formats=FORMATS)
    try:
        rt.store.accept(
            Arrival(channel="test", format="lines", payload=f"CHARGE s1 5\nNAME {sentinel}".encode())
        )
        rt.store.accept(Arrival(channel="test", format="lines", payload=f"RAISE\nNAME {sentinel}".encode()))
        rt.worker().drain()
    finally:
        rt.close()
    if db_url.startswith("sqlite"):
        files = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
        assert any(p.name.endswith("-wal") for p in files) or files
        for path in files:
            assert sentinel.encode() not in path.read_bytes(), path.name
    else:
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump is needed to dump the PostgreSQL tables"
        url = db_url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run([pg_dump, "--data-only", url], capture_output=True, check=True).stdout
        assert b"CHARGE" not in dump  # payloads are sealed, so not even the instructions show
        assert sentinel.encode() not in dump
