"""`revbridge export --format parquet` on bad input: one clear line on stderr and a non-zero exit,
before anything is written; an empty store exports three empty datasets with a `--json` summary;
an export that fails part way leaves the partition it was writing as the last export left it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from runtime import build_runtime
from typer.testing import CliRunner

from revbridge.bootstrap import Runtime
from revbridge.cli.app import app, main
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import journals as store


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    yield runtime
    runtime.close()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (
            ["--format", "orc", "--out", "{tmp}/w"],
            "--format must be one of csv, fbdi, beancount, parquet, not 'orc'",
        ),
        (["--format", "parquet", "--out", "{tmp}/a-file"], "is a file, not a directory"),
        (["--format", "parquet", "--out", "{tmp}/w", "--from", "2026-13-01"], "--from must be an ISO date"),
        (
            ["--format", "parquet", "--out", "{tmp}/w", "--from", "2026-06-02", "--to", "2026-06-01"],
            "--from 2026-06-02 is after --to 2026-06-01",
        ),
        (
            ["--format", "parquet", "--out", "{tmp}/w", "--status", "lost"],
            "--status must be posted or staged",
        ),
        (["--format", "parquet", "--out", "{tmp}/blocked"], "cannot write the Parquet export under"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    rt: Runtime,
    tmp_path: Path,
    args: list[str],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "events").write_text("a file where a dataset goes")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    monkeypatch.setenv("REVBRIDGE_HOME", str(rt.settings.home))
    monkeypatch.setattr(sys, "argv", ["revbridge", "export", *argv, "--db", rt.settings.db_url])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code not in (0, None)
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "w").exists(), "nothing is written on bad input"
    assert (tmp_path / "a-file").read_text() == "not a directory"


def test_an_empty_store_exports_empty_datasets(rt: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = CliRunner().invoke(
        app,
        ["export", "--format", "parquet", "--out", str(out), "--json", "--db", rt.settings.db_url],
        env={"REVBRIDGE_HOME": str(rt.settings.home)},
    )
    assert result.exit_code == 0, (result.output, result.exception)
    summary = json.loads(result.stdout)
    assert summary["format"] == "parquet" and summary["out"] == str(out)
    assert summary["datasets"] == {
        name: {"rows": 0, "files": [], "removed": []} for name in ("events", "subledger", "journals")
    }
    assert sorted(p.name for p in out.iterdir()) == ["events", "journals", "subledger"]
    assert not list(out.rglob("*.parquet"))


def _journal(n: int, day: date, currency: str, amount: str) -> Journal:
    dims = Dimensions(legal_entity="MHN", facility="F01", cost_center="CC-4100", payer_class="MEDICARE")
    lines = [
        JournalLine.signed(account=a, role=r, amount=Money.of(x, currency), dimensions=dims)
        for a, r, x in (("1015", R.CASH_CLEARING, amount), ("1211", R.AR_PAYER, f"-{amount}"))
    ]
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="MHN",
        currency=currency,
        posting_date=day,
        source_document_key=f"835:P:{n}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


def _stage(rt: Runtime, *staged: Journal) -> None:
    now = datetime.now(UTC)
    with rt.db.transaction() as conn:
        for journal in staged:
            store.stage_journal(conn, journal, connector="embedded", first_received_at=now, now=now)


def test_a_failed_export_leaves_the_partition_it_was_writing_as_it_was(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    day1, day2 = date(2026, 6, 1), date(2026, 6, 2)
    _stage(rt, _journal(1, day1, "USD", "100.10"), _journal(2, day2, "USD", "200.20"))
    out = tmp_path / "w"
    args = ["revbridge", "export", "--format", "parquet", "--out", str(out), "--status", "staged"]
    monkeypatch.setenv("REVBRIDGE_HOME", str(rt.settings.home))
    monkeypatch.setattr(sys, "argv", [*args, "--db", rt.settings.db_url])
    main()  # returns on success
    day2_part = out / "journals" / "posting_date=2026-06-02" / "part-0.parquet"
    before = day2_part.read_bytes()

    _stage(rt, _journal(3, day2, "KWD", "5.125"))  # three minor digits: DECIMAL(18,2) cannot hold it
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code not in (0, None)
    err = capsys.readouterr().err
    assert "KWD has more digits" in err and len(err.strip().splitlines()) == 1, err
    assert day2_part.read_bytes() == before, "the partition being written is left as it was"
    assert not list(out.rglob("*.tmp")), "the unfinished file is removed"
    lines = pq.read_table(day2_part).to_pylist()
    assert [(r["journal_id"], r["debit"], r["credit"]) for r in lines] == [
        (lines[0]["journal_id"], Decimal("200.20"), Decimal("0.00")),
        (lines[0]["journal_id"], Decimal("0.00"), Decimal("200.20")),
    ]
