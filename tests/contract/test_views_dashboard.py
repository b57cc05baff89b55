"""The dashboard's queries (store/views/dashboard) on SQLite and PostgreSQL.

Over the rows ``views_store.fill`` writes, each query is checked against exact figures: grouping
of messages, journals and open work items, filtering by time, role, currency and lane, the opening
balance before a window of days, work item spans and posting latencies. The journal and lineage
views are in test_views.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from views_store import DAY, NOW, TODAY, fill, journal_row

from revbridge.store import Database
from revbridge.store.schema import event_lines, journals
from revbridge.store.views import dashboard


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = fill(Database.open(db_url, null_pool=True))
    yield database
    database.close()


AGES = (("< 1 day", NOW - timedelta(days=1)), ("1-3 days", NOW - timedelta(days=3)))


def _tallies(found: tuple[dashboard.Tally, ...]) -> set[tuple[str, str, int]]:
    return {(t.group, t.state, t.count) for t in found}


def test_message_and_journal_counts_are_grouped_by_what_the_page_shows(db: Database) -> None:
    with db.reading() as tx:
        today = dashboard.messages_by_format(tx, since=TODAY)
        channels = dashboard.messages_by_channel(tx)
        lanes = dashboard.journals_by_lane(tx)
    assert _tallies(today) == {("hl7v2", "processed", 1), ("x12", "excepted", 1)}  # m3 came yesterday
    assert _tallies(channels) == {
        ("mllp:adt", "processed", 1),
        ("file:era.835", "excepted", 1),
        ("mllp:dft", "duplicate", 1),
    }
    assert _tallies(lanes) == {("realtime", "posted", 2), ("batch", "staged", 1)}


def test_open_items_fall_into_the_age_buckets_given(db: Database) -> None:
    with db.reading() as tx:
        found = dashboard.open_items_by_age(tx, ages=AGES, oldest="> 3 days")
    assert _tallies(found) == {
        ("MISSING_AMOUNT", "< 1 day", 1),
        ("MISSING_AMOUNT", "1-3 days", 1),
        ("UNMAPPED_DEPARTMENT", "> 3 days", 1),
    }


def test_the_main_currency_is_the_one_most_lines_are_in(db: Database) -> None:
    with db.reading() as tx:
        assert dashboard.main_currency(tx) == "USD"
    with db.engine.begin() as conn:
        conn.execute(event_lines.delete())
    with db.reading() as tx:
        assert dashboard.main_currency(tx) is None


def test_daily_flows_keep_the_last_days_and_the_balance_before_them(db: Database) -> None:
    with db.reading() as tx:
        ar = dashboard.daily_flows(tx, roles=("ar_payer", "ar_patient"), currency="USD", days=3)
        payer = dashboard.daily_flows(tx, roles=("ar_payer",), currency="USD", days=30)
        none = dashboard.daily_flows(tx, roles=("cash_clearing",), currency="USD", days=30)
    assert ar.opening_minor == 1000  # the ar_patient debit three days back, before the window
    assert [(d.day, d.debit_minor, d.credit_minor) for d in ar.days] == [
        (DAY - timedelta(days=2), 0, 100),
        (DAY - timedelta(days=1), 300, 0),
        (DAY, 12500, 0),  # the EUR line is another currency
    ]
    assert payer.opening_minor == 0
    assert [d.day for d in payer.days] == [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    assert none == dashboard.Flows(opening_minor=0, days=())


def test_item_spans_close_only_items_that_are_not_open(db: Database) -> None:
    with db.reading() as tx:
        spans = dashboard.item_spans(tx)
    assert sorted((s.created_at, s.closed_at) for s in spans) == [
        (NOW - timedelta(days=10), None),
        (NOW - timedelta(days=5), NOW - timedelta(days=1)),
        (NOW - timedelta(days=2), None),
        (NOW - timedelta(hours=2), None),
    ]


def test_posting_latencies_by_time_and_lane(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            journals.insert(), [journal_row("J3", lane="batch", posted_at=NOW - timedelta(minutes=58))]
        )
    with db.reading() as tx:
        recent = dashboard.posting_latencies(tx, since=NOW - timedelta(days=30))
        realtime = dashboard.posting_latencies(tx, lane="realtime")
    assert sorted(recent) == [5.0, 120.0]  # J1 and J3; J0 was posted 40 days ago, J2 not at all
    assert sorted(realtime) == [5.0, 30.0]  # J1 and J0


def test_posting_latencies_by_source_tell_a_payers_file_from_a_patients_payment(db: Database) -> None:
    posted = NOW - timedelta(minutes=30)
    with db.engine.begin() as conn:
        conn.execute(
            journals.insert(),
            [
                journal_row("P1", reference="portal:STJ/payment/P1-0", posted_at=posted),
                journal_row(
                    "X1", reference="x12:ISA 000000101/ST 0001", posted_at=posted + timedelta(seconds=9)
                ),
                journal_row("X2", reference="x12:ISA 000000101/ST 0002", lane="batch", posted_at=posted),
            ],
        )
    with db.reading() as tx:
        found = dashboard.posting_latencies_by_source(tx, since=NOW - timedelta(minutes=31), lane="realtime")
    # received an hour ago: posted 30 minutes later, and 9 s after that; X2 is in the batch lane
    assert found == {"portal": (1800.0,), "x12": (1809.0,)}
