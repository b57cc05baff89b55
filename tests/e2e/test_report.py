"""The analytics reports tie to the journals (issue 18): one demo day (scale 0.05) through the
real intake, workers and posting, then every report's totals are compared with the posted
journals' lines on the matching roles, on SQLite and PostgreSQL; and the command as a user runs
it: JSON, CSV, a readable table that keeps its numbers whole, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from runtime import build_runtime

from revbridge.analytics import Figures, Period
from revbridge.bootstrap import Runtime
from revbridge.demo import generate
from revbridge.pipeline.analytics import Request, run
from revbridge.store import journals, workitems

START = date(2025, 3, 3)
SCALE = 0.05
AR = ("ar_payer", "ar_patient", "ar_unbilled")
ZERO = Decimal(0)


def _fed(db_url: str, home: Path) -> Runtime:
    rt = build_runtime(db_url, home, posting=True)
    for message in generate(start=START, seed=7, scale=SCALE).messages:
        rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
    rt.settle(close_windows=True)
    return rt


@pytest.fixture
def fed(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = _fed(db_url, tmp_path)
    try:
        yield rt
    finally:
        rt.close()


def _report(rt: Runtime, name: str, **dates: date) -> Figures:
    now = rt.clock.now()
    request = Request(
        name=name,
        start=dates.get("start", START),
        end=dates.get("end", START),
        by=Period.DAY,
        now=now,
        sla_seconds=60.0,
        connector_for=rt.connector_for,
    )
    return run(rt.db, request)


def _posted_nets(rt: Runtime) -> dict[tuple[str, str, str, str], Decimal]:
    """(role, facility, cost centre, payer class) -> net, debit positive, of the posted journals."""
    nets: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for stored in journals.list_journals(rt.db, status="posted", limit=100_000):
        assert stored.journal.posting_date == START
        for ln in stored.journal.lines:
            d = ln.dimensions
            nets[(ln.role.value, d.facility, d.cost_center, d.payer_class)] += ln.net.amount
    return nets


def _on(nets: dict[tuple[str, str, str, str], Decimal], role: str, at: int = 0, value: str = "") -> Decimal:
    return sum((v for k, v in nets.items() if k[0] == role and (not at or k[at] == value)), ZERO)


def _sum(figures: Figures, table: str, column: str, **where: str) -> Decimal:
    t = figures.table(table)
    return sum(
        (Decimal(r[column]) for r in t.records() if all(r[k] == v for k, v in where.items())),  # type: ignore[arg-type]
        ZERO,
    )


def test_revenue_ties_to_the_posted_journals(fed: Runtime) -> None:
    nets = _posted_nets(fed)
    figures = _report(fed, "revenue")
    gross = -_on(nets, "gross_revenue")
    assert gross > 0 and _sum(figures, "totals", "gross_charges") == gross
    assert _sum(figures, "totals", "contractual_adjustments") == _on(nets, "contractual_allowance") > 0
    assert _sum(figures, "totals", "denials") == _on(nets, "denial_writeoff") > 0
    assert _sum(figures, "totals", "cash") == _on(nets, "cash_clearing") > 0
    other = sum((_on(nets, r) for r in ("administrative_writeoff", "charity_care", "bad_debt")), ZERO)
    net = gross - _on(nets, "contractual_allowance") - _on(nets, "denial_writeoff") - other
    assert _sum(figures, "totals", "net_revenue") == net
    facilities = {k[1] for k in nets}
    assert len(facilities) > 1
    for facility in facilities:
        assert _sum(figures, "by_facility", "cash", facility=facility) == _on(
            nets, "cash_clearing", 1, facility
        )
        revenue = -_on(nets, "gross_revenue", 1, facility)
        assert _sum(figures, "by_facility", "gross_charges", facility=facility) == revenue
    for cost_center in {k[2] for k in nets if k[0] == "gross_revenue"}:
        revenue = -_on(nets, "gross_revenue", 2, cost_center)
        assert _sum(figures, "by_department", "gross_charges", department=cost_center) == revenue
    for payer_class in {k[3] for k in nets if k[0] == "contractual_allowance"}:
        contractual = _on(nets, "contractual_allowance", 3, payer_class)
        assert (
            _sum(figures, "by_payer_class", "contractual_adjustments", payer_class=payer_class) == contractual
        )
    assert _sum(figures, "by_payer_class", "gross_charges") == gross
    mix = figures.table("payer_mix")
    assert _sum(figures, "payer_mix", "gross_charges") == gross
    assert abs(sum((Decimal(s) for s in mix.column("share")), ZERO) - 1) <= Decimal("0.001")  # type: ignore[arg-type]
    assert "(none)" not in mix.column("payer_class"), "every charge has its receivable's payer class"


def test_denials_and_ar_days_tie_to_the_posted_journals(fed: Runtime) -> None:
    nets = _posted_nets(fed)
    figures = _report(fed, "denials")
    denied = _on(nets, "denial_writeoff")
    assert denied > 0
    assert _sum(figures, "by_payer", "denied") == _sum(figures, "trend", "denied") == denied
    assert _sum(figures, "by_reason", "denied") == _sum(figures, "top_reasons", "denied") == denied
    assert len(figures.table("top_reasons").rows) <= 10
    assert _sum(figures, "by_payer", "denied_claims") >= 1
    assert {str(g) for g in figures.table("by_group").column("group")} <= {"CO", "PR", "OA", "PI", "CR"}

    ar = _report(fed, "ar-days")
    assert _sum(ar, "days_in_ar", "ar_balance") == sum((_on(nets, r) for r in AR), ZERO)
    for payer_class in {k[3] for k in nets if k[0] == "ar_payer"}:
        held = sum((_on(nets, r, 3, payer_class) for r in AR), ZERO)
        assert _sum(ar, "days_in_ar", "ar_balance", payer_class=payer_class or "(none)") == held
    assert _sum(ar, "days_in_ar", "gross_charges") == -_on(nets, "gross_revenue")
    paid = _sum(ar, "collections", "collected")
    assert paid > 0 and paid <= _sum(ar, "collections", "allowed")


def test_operations_counts_every_journal_item_and_day(fed: Runtime) -> None:
    today = datetime.now(UTC).date()
    figures = _report(fed, "operations", start=today, end=today)
    posted = journals.list_journals(fed.db, status="posted", limit=100_000)
    assert (
        _sum(figures, "posting_latency", "journals")
        == _sum(figures, "posting_latency", "posted")
        == len(posted)
    )
    items = workitems.list_items(fed.db, limit=100_000)
    assert _sum(figures, "exceptions", "items_opened") == len(items) > 0
    assert _sum(figures, "open_items", "open") == sum(1 for i in items if i.status == "open")
    assert figures.table("reconciliation").records() == [
        {"day": START.isoformat(), "status": "ties", "breaks": 0}
    ]


def _cli(home: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVBRIDGE_HOME": str(home), "COLUMNS": str(columns)}
    env.pop("REVBRIDGE_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "revbridge", "report", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_command_prints_json_csv_and_whole_numbers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    rt = _fed(url, tmp_path / "home")
    expected = _report(rt, "revenue")
    rt.close()
    day = ("--from", START.isoformat(), "--to", START.isoformat())
    shown = _cli(tmp_path, "revenue", "--db", url, "--json", *day)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == json.loads(json.dumps(expected.as_json()))
    rows = list(csv.DictReader(io.StringIO(_cli(tmp_path, "revenue", "--db", url, "--csv", *day).stdout)))
    totals = [r for r in rows if r["table"] == "totals"]
    assert [r["gross_charges"] for r in totals] == [
        str(v) for v in expected.table("totals").column("gross_charges")
    ]
    table = _cli(tmp_path, "revenue", "--db", url, *day)  # 80 columns, in a pipe
    assert table.returncode == 0, table.stderr
    assert "…" not in table.stdout and max(len(line) for line in table.stdout.splitlines()) <= 80
    for row in expected.table("by_facility").rows:
        assert all(f"{v:,}" in table.stdout for v in row if isinstance(v, Decimal)), row
    helped = _cli(tmp_path, "--help", columns=200)
    assert all(name in helped.stdout for name in ("revenue", "denials", "ar-days", "operations"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("revenue", "--from", "2025-13-01"), "--from must be an ISO date (YYYY-MM-DD), not '2025-13-01'"),
        (
            ("revenue", "--from", "2025-03-04", "--to", "2025-03-03"),
            "--from 2025-03-04 is after --to 2025-03-03",
        ),
        (("denials", "--json", "--csv"), "choose one of --json and --csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_two(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = _cli(tmp_path, *args)
    lines = [ln for ln in result.stderr.splitlines() if ln and not ln.startswith("created a local")]
    assert result.returncode == 2 and lines == [f"revbridge: error: {message}"], result.stderr
