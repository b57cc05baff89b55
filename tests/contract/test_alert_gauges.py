"""The gauges the SLO alerts read at scrape time, on SQLite and PostgreSQL: the age of the oldest
open work item by severity and the unprocessed backlog, as the engine's own registry reports them
(the store answers, not a counter one process kept)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lineformat import FORMATS
from runtime import build_runtime

from revbridge.bootstrap import Runtime
from revbridge.core.clock import FixedClock
from revbridge.store import workitems
from revbridge.store.messages import Arrival
from revbridge.store.workitems import NewItem

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
OLDEST = "revbridge_work_item_oldest_open_seconds"


@pytest.fixture
def rt(db_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = build_runtime(db_url, tmp_path, formats=FORMATS, clock=FixedClock(T0 + timedelta(hours=3)))
    yield runtime
    runtime.close()


def _item(n: int, severity: str) -> NewItem:
    return NewItem(
        code="UNMAPPED_DEPARTMENT",
        severity=severity,
        locator=f"FT1[{n}]-13",
        message="department RAD9 is not mapped",
        message_id=None,
        event_key=None,
        facility=None,
        details=(),
        fingerprint=f"fp-{n}",
        due_at=None,
    )


def test_oldest_open_item_age_by_severity_ignores_closed_items(rt: Runtime) -> None:
    assert workitems.oldest_open_by_severity(rt.db, now=T0) == {}
    with rt.db.transaction() as tx:
        workitems.insert(tx, [_item(1, "error"), _item(2, "warning")], now=T0)
        workitems.insert(tx, [_item(3, "error")], now=T0 + timedelta(hours=1))
    first = workitems.list_items(rt.db)[0]
    assert (first.severity, first.created_at) == ("error", T0)
    with rt.db.transaction() as tx:
        workitems.close(tx, [first.id], status=workitems.RESOLVED, actor="kim", reason="mapped", now=T0)
    found = workitems.oldest_open_by_severity(rt.db, now=T0 + timedelta(hours=2))
    assert found == {"error": 3600.0, "warning": 7200.0}


def test_the_registry_reads_backlog_and_item_age_at_scrape_time(rt: Runtime) -> None:
    registry = rt.metrics.registry
    assert registry.get_sample_value("revbridge_message_backlog") == 0
    assert registry.get_sample_value(OLDEST, {"severity": "error"}) == 0  # none open: 0, not absent
    arrival = Arrival(channel="t", format="lines", payload=b"CHARGE c1 1", dedupe_key="")
    rt.store.accept(arrival)
    rt.store.accept(replace(arrival, payload=b"CHARGE c2 1"))
    with rt.db.transaction() as tx:
        workitems.insert(tx, [_item(1, "error")], now=T0)
    assert registry.get_sample_value("revbridge_message_backlog") == 2
    assert registry.get_sample_value(OLDEST, {"severity": "error"}) == 3 * 3600
    assert registry.get_sample_value(OLDEST, {"severity": "warning"}) == 0
    rt.worker().drain()
    assert registry.get_sample_value("revbridge_message_backlog") == 0
