"""`revbridge export --format parquet` (issue 18) over a small simulated demo day, on SQLite and
PostgreSQL: DuckDB reads the three Hive-partitioned datasets back and their totals tie to the
store (debits and credits per legal entity and posting date to the posted journals, subledger
sides to the subledger rows, the event count to the events); money comes back DECIMAL(18,2),
dates DATE, timestamps in UTC; exporting again replaces partitions instead of adding rows, and a
date range writes (and prunes) only its own partitions."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from runtime import build_runtime
from sqlalchemy import func, select
from typer.testing import CliRunner

from revbridge.cli.app import app
from revbridge.connectors import warehouse
from revbridge.demo import generate
from revbridge.store import Database, events, journals
from revbridge.store.schema import event_lines

START = date(2025, 3, 3)
SCALE = 0.01
DAYS = 2  # two posting dates, so a date range has partitions to leave alone


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> str:
    """A store holding one small demo day, settled and posted to the embedded ledger."""
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        for message in generate(start=START, days=DAYS, seed=11, scale=SCALE).messages:
            rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
        rt.settle(close_windows=True)
    finally:
        rt.close()
    return db_url


def _export(db_url: str, home: Path, out: Path, *args: str) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(out), "--json", "--db", db_url, *args],
        env={"REVBRIDGE_HOME": str(home)},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    summary: dict[str, dict[str, object]] = json.loads(result.stdout)["datasets"]
    return summary


def _glob(out: Path, name: str) -> str:
    return f"read_parquet('{out / name}/**/*.parquet', hive_partitioning=true)"


def _store_journal_sides(db: Database) -> dict[tuple[str, date], tuple[Decimal, Decimal]]:
    sides: dict[tuple[str, date], tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for stored in journals.list_journals(db, status=journals.POSTED, limit=100_000):
        j = stored.journal
        debit, credit = sides[(j.legal_entity, j.posting_date)]
        for line in j.lines:
            amount = line.amount.amount
            debit, credit = (
                (debit + amount, credit) if line.side.value == "debit" else (debit, credit + amount)
            )
        sides[(j.legal_entity, j.posting_date)] = (debit, credit)
    return dict(sides)


def _store_subledger(db: Database) -> dict[tuple[str, date, str], Decimal]:
    c = event_lines.c
    query = select(c.legal_entity, c.posting_date, c.side, func.sum(c.amount_minor)).group_by(
        c.legal_entity, c.posting_date, c.side
    )
    with db.engine.connect() as conn:
        return {(le, day, side): Decimal(minor) / 100 for le, day, side, minor in conn.execute(query)}


def test_the_parquet_export_ties_to_the_store(store: str, tmp_path: Path) -> None:
    out = tmp_path / "warehouse"
    summary = _export(store, tmp_path, out)
    db = Database.open(store, null_pool=True)
    try:
        journal_truth = _store_journal_sides(db)
        subledger_truth = _store_subledger(db)
        event_count = events.count(db)
    finally:
        db.close()
    assert journal_truth and subledger_truth and event_count > 0
    con = duckdb.connect()
    rows = con.execute(
        "SELECT legal_entity, posting_date, sum(debit), sum(credit)"
        f" FROM {_glob(out, 'journals')} GROUP BY 1, 2"
    ).fetchall()
    assert {(le, day): (debit, credit) for le, day, debit, credit in rows} == journal_truth
    assert all(debit == credit for debit, credit in journal_truth.values()), "journals balance"
    rows = con.execute(
        "SELECT legal_entity, posting_date, side, sum(amount)"
        f" FROM {_glob(out, 'subledger')} GROUP BY 1, 2, 3"
    ).fetchall()
    assert {(le, day, side): total for le, day, side, total in rows} == subledger_truth
    assert con.execute(f"SELECT count(*) FROM {_glob(out, 'events')}").fetchone() == (event_count,)
    assert summary["events"]["rows"] == event_count

    types = {
        name: kind
        for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {_glob(out, 'journals')}").fetchall()
    }
    assert types["debit"] == types["credit"] == "DECIMAL(18,2)"
    assert types["posting_date"] == "DATE" and types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    days = sorted(day for _, day in journal_truth)
    assert sorted(p.parent.name for p in (out / "journals").glob("*/part-0.parquet")) == sorted(
        {f"posting_date={d.isoformat()}" for d in days}
    )

    again = _export(store, tmp_path, out)  # the same directory: partitions replaced, not appended
    assert {n: d["rows"] for n, d in again.items()} == {n: d["rows"] for n, d in summary.items()}
    for name in ("events", "subledger", "journals"):
        count = con.execute(f"SELECT count(*) FROM {_glob(out, name)}").fetchone()
        assert count == (summary[name]["rows"],), name
    assert not list(out.rglob("*.tmp")), "no temporary file is left behind"


def test_a_date_range_writes_and_prunes_only_its_partitions(store: str, tmp_path: Path) -> None:
    out = tmp_path / "warehouse"
    _export(store, tmp_path, out)
    written = sorted(p.parent.name for p in (out / "journals").glob("*/part-0.parquet"))
    assert len(written) >= 2, written
    first = date.fromisoformat(written[0].split("=")[1])
    stale = out / "journals" / "posting_date=1999-12-31" / "part-0.parquet"  # no longer in the store
    stale.parent.mkdir()
    stale.write_bytes((out / "journals" / written[0] / "part-0.parquet").read_bytes())
    outside = _export(store, tmp_path, out, "--from", first.isoformat(), "--to", first.isoformat())
    assert outside["journals"]["files"] == [str(out / "journals" / written[0] / "part-0.parquet")]
    assert stale.exists(), "a partition outside the range is left alone"
    everything = _export(store, tmp_path, out, "--to", first.isoformat())
    assert everything["journals"]["removed"] == [str(stale)]
    assert not stale.parent.exists()
    after = sorted(p.parent.name for p in (out / "journals").glob("*/part-0.parquet"))
    assert after == written


def test_small_batches_stream_into_the_same_datasets(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 rows (partitions span batches, batches span partitions) export what one big
    batch does, appended as row groups to each partition's open file."""
    whole, streamed = tmp_path / "whole", tmp_path / "streamed"
    _export(store, tmp_path, whole)
    monkeypatch.setattr(warehouse, "BATCH", 7)
    _export(store, tmp_path, streamed)
    con = duckdb.connect()
    for name in ("events", "subledger", "journals"):
        query = "SELECT * EXCLUDE (posting_date), posting_date FROM {} ORDER BY ALL"
        assert (
            con.execute(query.format(_glob(streamed, name))).fetchall()
            == con.execute(query.format(_glob(whole, name))).fetchall()
        ), name
    groups = [pq.ParquetFile(p).num_row_groups for p in (streamed / "subledger").rglob("*.parquet")]
    assert max(groups) > 1 and all(
        pq.ParquetFile(p).num_row_groups == 1 for p in (whole / "subledger").rglob("*.parquet")
    )
