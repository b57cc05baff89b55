"""Batch windows shared by worker processes on PostgreSQL (issue 16): joining writes nothing on
the window's row, so joiners do not queue on it, and the posting loop never closes a window while
lines joining it are uncommitted, nor lets lines join a window it is closing.

Each "process" is a connection of its own in a thread; waits are bounded so a lock that should not
block fails the test instead of hanging it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pgdb import truncate_all

from revbridge.core.money import Money
from revbridge.ledger import Dimensions, JournalDraft, JournalLine, Lane
from revbridge.ledger.role import AccountRole
from revbridge.store import Database, migrate, subledger, windows

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    engine = Database.open(pg_url, null_pool=True)
    migrate.upgrade(engine)
    engine.close()
    truncate_all(pg_url)
    database = Database.open(pg_url)
    try:
        yield database
    finally:
        database.close()


def _draft(key: str) -> JournalDraft:
    dims = Dimensions(legal_entity="MHN", facility="F1", payer_class="MEDICARE")
    lines = (
        JournalLine.signed(
            account="1210",
            role=AccountRole.AR_PAYER,
            amount=Money.of("5.00"),
            dimensions=dims,
            event_keys=(key,),
        ),
        JournalLine.signed(
            account="4000",
            role=AccountRole.GROSS_REVENUE,
            amount=-Money.of("5.00"),
            dimensions=dims,
            event_keys=(key,),
        ),
    )
    return JournalDraft(
        lane=Lane.BATCH,
        legal_entity="MHN",
        currency="USD",
        posting_date=date(2026, 3, 2),
        source_document_key=key,
        lines=tuple(line for line in lines if line is not None),
    )


def _join_and_hold(db: Database, key: str, joined: threading.Event, release: threading.Event) -> list[str]:
    """In a thread: join MHN's window with one draft's lines, then hold the transaction open."""
    found: list[str] = []

    def run() -> None:
        with db.transaction() as tx:
            window = windows.join(tx, "MHN", now=T0)
            subledger.insert_lines(tx, _draft(key), journal_id=None, window=window, received_at=T0, now=T0)
            found.append(window)
            joined.set()
            assert release.wait(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert joined.wait(10), "a join waited on another joiner's transaction"
    return found


def test_joiners_do_not_wait_for_each_other_and_the_closer_skips_their_window(db: Database) -> None:
    with db.transaction() as tx:
        key = windows.join(tx, "MHN", now=T0)  # the open window, committed
    release = threading.Event()
    first, second = threading.Event(), threading.Event()
    try:
        a = _join_and_hold(db, "c1", first, release)
        b = _join_and_hold(db, "c2", second, release)  # would time out if joining locked the row
        assert a[0] == b[0] == key
        with db.transaction() as tx:
            # Lines joining it are not committed: the posting loop must not take it now.
            assert windows.open_windows(tx) == []
    finally:
        release.set()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while datetime.now(UTC) < deadline:
        with db.transaction() as tx:
            found = windows.open_windows(tx)
            if found and found[0].line_count == 4:
                break
    assert [(w.key, w.line_count) for w in found] == [(key, 4)]  # both drafts' lines, counted


def test_lines_never_join_a_window_being_closed(db: Database) -> None:
    with db.transaction() as tx:
        key = windows.join(tx, "MHN", now=T0)
    joined: list[str] = []
    with db.transaction() as closer:
        assert [w.key for w in windows.open_windows(closer)] == [key]  # locked for closing

        def join() -> None:
            with db.transaction() as tx:
                joined.append(windows.join(tx, "MHN", now=T0 + timedelta(seconds=1)))

        thread = threading.Thread(target=join, daemon=True)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "a join went ahead while the window was being closed"
        windows.close(closer, key, now=T0, line_count=0)
    thread.join(10)
    assert joined and joined[0] != key  # it waited, then opened a new window
    with db.transaction() as tx:
        assert [w.key for w in windows.open_windows(tx)] == [joined[0]]
