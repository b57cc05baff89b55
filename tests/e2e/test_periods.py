"""Closed periods: a posting dated in a closed month follows the configured policy
(the reference configuration moves it to the first open day and keeps the original date)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from runtime import build_runtime

from revbridge.ledger.period import PeriodStatus
from revbridge.store import audit, journals, periods

ERA = "x12_835/lfh_x12__medicare-part-a.835"  # paid 2002-09-13


def test_a_remittance_dated_in_a_closed_month_moves_to_the_first_open_day(
    db_url: str, tmp_path: Path, corpus: Path
) -> None:
    rt = build_runtime(db_url, tmp_path, posting=True)
    try:
        legal_entities = {"MHN", "MHS"}
        for entity in legal_entities:
            periods.set_status(
                rt.db,
                entity,
                "2002-09",
                PeriodStatus.CLOSED,
                actor="test:controller",
                now=rt.clock.now(),
                anchor=rt.settings.resolved_audit_anchor,
            )
        rt.intake.receive((corpus / ERA).read_bytes(), channel="test")
        rt.settle(close_windows=True)
        (posted,) = journals.list_journals(rt.db)
        assert posted.journal.legal_entity in legal_entities
        assert posted.journal.posting_date == date(2002, 10, 1)
        assert posted.journal.moved_from == (date(2002, 9, 13),)
        assert audit.check(rt.db, anchor=rt.settings.resolved_audit_anchor)[1] == []
        listed = periods.list_periods(rt.db)
        assert {(p["legal_entity"], p["period"], p["status"]) for p in listed} == {
            (e, "2002-09", "closed") for e in legal_entities
        }
    finally:
        rt.close()
