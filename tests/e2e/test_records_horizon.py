"""The records horizon end to end on PostgreSQL: a month of real traffic (HL7 ADT + DFT and corpus
835s through intake, the workers, the posting stage and the outbox to the embedded ledger) is
refused while its work items are open and its periods open, then dropped, and reconciliation of
the whole store reports after the drop exactly what it reported before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pgdb import create_pg_database, drop_pg_database
from runtime import build_runtime
from sqlalchemy import func, select, text
from test_reconcile import _fill, _report

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.ledger.period import PeriodStatus
from revbridge.store import horizon, periods, workitems
from revbridge.store.schema import event_lines, journals

pytestmark = pytest.mark.postgres

MARCH = datetime(2024, 3, 1, 12, tzinfo=UTC)
APRIL = date(2024, 4, 1)


@pytest.fixture
def posted(tmp_path: Path, corpus: Path) -> Iterator[Runtime]:
    url = create_pg_database("rbhorizon")
    rt = build_runtime(url, tmp_path, posting=True, clock=FixedClock(MARCH))
    try:
        _fill(rt, corpus)
        yield rt
    finally:
        rt.close()
        drop_pg_database(url)


def _breaks(rt: Runtime) -> list[str]:
    return sorted(str(b) for b in _report(rt).breaks)


def test_a_dropped_month_leaves_reconciliation_as_it_was(posted: Runtime) -> None:
    now = posted.clock.now()
    refused = horizon.drop_months(posted.db, horizon=APRIL, now=now, actor="t", anchor=None)
    assert refused.dropped == ()
    assert set(refused.months[0].blockers) == {"open_work_items", "open_periods"}
    with posted.db.transaction() as conn:
        items = [i.id for i in workitems.list_items(posted.db, status="open")]
        workitems.close(conn, items, status="ignored", actor="t", reason="test", now=now)
        months = conn.execute(
            select(journals.c.legal_entity, func.to_char(journals.c.posting_date, "YYYY-MM")).distinct()
        ).all()
    for entity, month in months:
        periods.set_status(posted.db, entity, month, PeriodStatus.CLOSED, actor="t", now=now, anchor=None)
    before = _breaks(posted)
    lines = _count(posted, "event_lines")
    report = horizon.drop_months(posted.db, horizon=APRIL, now=now, actor="t", anchor=None)
    assert [m.month for m in report.dropped] == [date(2024, 3, 1)]
    assert report.dropped[0].messages == 7 and report.dropped[0].events > 0
    assert _count(posted, "messages") == 0 and _count(posted, "events") == 0
    assert _count(posted, "event_lines") == lines
    assert _breaks(posted) == before
    with posted.db.reading() as conn:
        assert conn.execute(select(func.count()).select_from(event_lines)).scalar_one() == lines


def _count(rt: Runtime, table: str) -> int:
    with rt.db.reading() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
