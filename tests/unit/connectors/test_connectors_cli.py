"""`revbridge trial-balance` and `revbridge export`, over a store whose journals the outbox posted to
the embedded ledger. The beancount export loads in beancount's own loader and its balances equal
the trial balance."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from runtime import build_runtime
from typer.testing import CliRunner

from revbridge.bootstrap import Runtime
from revbridge.cli.app import app, main
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import journals as store
from revbridge.store.general_ledger import trial_balance


def _journal(n: int, le: str, day: date) -> Journal:
    dims = Dimensions(legal_entity=le, facility="F01", cost_center="CC-4100", payer_class="MEDICARE")
    specs = (
        ("1015", R.CASH_CLEARING, f"{100 + n}.10"),
        ("4510", R.CONTRACTUAL_ALLOWANCE, "40.00"),
        ("1211", R.AR_PAYER, f"-{140 + n}.10"),
    )
    lines = [JournalLine.signed(account=a, role=r, amount=Money.of(x), dimensions=dims) for a, r, x in specs]
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=le,
        currency="USD",
        posting_date=day,
        source_document_key=f"835:P:{n}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, posting=True)
    yield runtime
    runtime.close()


def _stage(rt: Runtime, journals: list[Journal]) -> None:
    now = datetime.now(UTC)
    with rt.db.transaction() as conn:
        for journal in journals:
            store.stage_journal(conn, journal, connector="embedded", first_received_at=now, now=now)


def _post(rt: Runtime, journals: list[Journal]) -> None:
    _stage(rt, journals)
    dispatcher = rt.dispatcher()
    try:
        dispatcher.drain()
    finally:
        dispatcher.close()
    assert store.counts(rt.db)["posted"] >= len(journals)


def _cli(rt: Runtime, *args: str) -> str:
    db = rt.settings.db_url
    result = CliRunner().invoke(app, [*args, "--db", db], env={"REVBRIDGE_HOME": str(rt.settings.home)})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


POSTED = [
    _journal(1, "MHN", date(2026, 5, 30)),
    _journal(2, "MHN", date(2026, 6, 2)),
    _journal(3, "MHS", date(2026, 6, 3)),
]


def test_trial_balance_json_and_table(rt: Runtime) -> None:
    _post(rt, POSTED)
    rows = json.loads(_cli(rt, "trial-balance", "--json"))
    assert {(r["legal_entity"], r["account"]): r["balance"] for r in rows} == {
        ("MHN", "1015"): "203.20",
        ("MHN", "1211"): "-283.20",
        ("MHN", "4510"): "80.00",
        ("MHS", "1015"): "103.10",
        ("MHS", "1211"): "-143.10",
        ("MHS", "4510"): "40.00",
    }
    june = json.loads(_cli(rt, "trial-balance", "--json", "--legal-entity", "MHN", "--period", "2026-06"))
    assert [(r["account"], r["debit"], r["credit"]) for r in june] == [
        ("1015", "102.10", "0.00"),
        ("1211", "0.00", "142.10"),
        ("4510", "40.00", "0.00"),
    ]
    table = _cli(rt, "trial-balance", "--legal-entity", "MHS")
    assert "Trial balance: MHS" in table and "total" in table and "143.10" in table


def _beancount_balances(text: str) -> dict[tuple[str, str], Decimal]:
    entries, errors, _options = loader.load_string(text)
    assert errors == []
    result: dict[tuple[str, str], Decimal] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                _root, le, account = posting.account.split(":")
                result[(le, account)] = result.get((le, account), Decimal(0)) + posting.units.number
    return result


def test_beancount_export_loads_and_equals_the_embedded_trial_balance(rt: Runtime, tmp_path: Path) -> None:
    _post(rt, POSTED)
    out = tmp_path / "export"
    summary = json.loads(
        _cli(rt, "export", "--connector", "file", "--format", "beancount", "--out", str(out), "--json")
    )
    assert (summary["journals"], summary["lines"], summary["status"]) == (3, 9, "posted")
    text = (out / "journals.beancount").read_text()
    expected = {(row.legal_entity, row.account): row.balance.amount for row in trial_balance(rt.db)}
    assert _beancount_balances(text) == expected


def test_csv_and_fbdi_exports(rt: Runtime, tmp_path: Path) -> None:
    _post(rt, POSTED)
    out = tmp_path / "export"
    _cli(rt, "export", "--format", "csv", "--out", str(out), "--legal-entity", "MHN", "--from", "2026-06-01")
    rows = list(csv.DictReader(io.StringIO((out / "journals.csv").read_text())))
    assert {r["journal_id"] for r in rows} == {POSTED[1].id}
    assert sum(Decimal(r["debit"]) - Decimal(r["credit"]) for r in rows) == 0
    settings = tmp_path / "file.yaml"
    settings.write_text("fbdi:\n  ledger_ids: {MHN: '300000001'}\n  source: Revbridge\n")
    _cli(
        rt, "export", "--format", "fbdi", "--out", str(out), "--connector-settings", str(settings),
        "--ledger-id", "MHS=300000002",
    )  # fmt: skip
    with zipfile.ZipFile(out / "GlInterface.zip") as archive:
        lines = list(csv.reader(io.StringIO(archive.read("GlInterface.csv").decode())))
    assert len(lines) == 9
    assert {(r[1], r[3]) for r in lines} == {("300000001", "Revbridge"), ("300000002", "Revbridge")}


def test_staged_journals_export_on_request_and_nothing_matching_writes_nothing(
    rt: Runtime, tmp_path: Path
) -> None:
    _stage(rt, POSTED[:1])
    out = tmp_path / "export"
    empty = json.loads(_cli(rt, "export", "--format", "csv", "--out", str(out), "--json"))
    assert (empty["journals"], empty["file"]) == (0, None)
    assert not out.exists()
    staged = json.loads(
        _cli(rt, "export", "--format", "csv", "--out", str(out), "--status", "staged", "--json")
    )
    assert staged["journals"] == 1 and Path(staged["file"]).is_file()
    assert store.counts(rt.db)["staged"] == 1  # exporting changes no journal's state


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["trial-balance", "--period", "2026-13"], "a period is YYYY-MM"),
        (["export", "--format", "xlsx", "--out", "x"], "--format must be one of"),
        (["export", "--format", "csv", "--out", "x", "--connector", "tryton"], "only the file connector"),
        (["export", "--format", "fbdi", "--out", "x", "--ledger-id", "MHN"], "LEGAL_ENTITY=LEDGER_ID"),
        (["export", "--format", "csv", "--out", "x", "--from", "June"], "--from must be an ISO date"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(
    rt: Runtime,
    args: list[str],
    reason: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REVBRIDGE_HOME", str(rt.settings.home))
    monkeypatch.setattr(sys, "argv", ["revbridge", *args, "--db", rt.settings.db_url])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code not in (0, None)
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1
