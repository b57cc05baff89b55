"""The demo day with its go-live opening position (issue 18 item 4): the day's remittances and
patient payments settle visits charged before the window, so without opening balances the AR
roll-forward shows negative receivables. With the opening position the demo derives from its own
generator, every roll-forward row ends non-negative, the opening sits in the opening column (the
roll-forward from the beginning and the one for the day alike), and reconciliation ties."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.demo import generate
from revbridge.demo.opening import as_of, load_opening
from revbridge.pipeline import reconciliation
from revbridge.reconcile.report import Report
from revbridge.store import journals

START = date(2025, 3, 3)
SCALE = 0.05
SEED = 7
ZERO = Decimal(0)


def _day(rt: Runtime, *, opening: bool) -> tuple[Report, Report]:
    traffic = generate(start=START, seed=SEED, scale=SCALE)
    if opening:
        loaded = load_opening(rt.db, traffic, now=rt.clock.now())
        assert loaded.new and {item.legal_entity for item in loaded.loads} == {"MHN", "MHS"}
        assert as_of(traffic) == START - timedelta(days=1)
    for message in traffic.messages:
        rt.intake.receive(message.payload, channel=f"{message.channel}:demo", format=message.format)
    rt.settle(close_windows=True)
    now = rt.clock.now()
    whole = reconciliation.report(rt.db, day=None, now=now, in_flight=timedelta(minutes=30))
    day = reconciliation.report(rt.db, day=START, now=now, in_flight=timedelta(minutes=30))
    return whole, day


def test_without_opening_balances_the_demo_day_has_negative_receivables(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        whole, _day_report = _day(rt, opening=False)
    finally:
        rt.close()
    assert any(row.closing.amount < ZERO for row in whole.ar.rows)


def test_with_opening_balances_no_receivable_ends_negative_and_it_ties(db_url: str, tmp_path: Path) -> None:
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        whole, day = _day(rt, opening=True)
        opening_journals = [
            j
            for j in journals.list_journals(rt.db, limit=100_000)
            if j.journal.reference.startswith("golive:")
        ]
        again = load_opening(rt.db, generate(start=START, seed=SEED, scale=SCALE), now=rt.clock.now())
    finally:
        rt.close()
    assert whole.ties, [str(b) for b in whole.breaks][:5]
    assert day.ties, [str(b) for b in day.breaks][:5]
    assert not again.new, "the same opening position loads once"
    assert len(opening_journals) == 2
    assert all(j.status == "posted" for j in opening_journals), "the outbox posts the opening journal"
    for report in (whole, day):
        rows = report.ar.rows
        assert rows
        for row in rows:
            assert row.closing.amount >= ZERO, (row.legal_entity, row.payer_class, row.closing)
            assert row.computed == row.closing
        assert sum((r.opening.amount for r in rows), ZERO) > 0, "the opening position is the opening column"
    # From the beginning, the opening position is no movement: the opening column holds it all.
    by_row = {(r.legal_entity, r.payer_class): r for r in whole.ar.rows}
    day_rows = {(r.legal_entity, r.payer_class): r for r in day.ar.rows}
    for key, row in day_rows.items():
        assert by_row[key].opening == row.opening, key
