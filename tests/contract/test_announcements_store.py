"""store/announcements.py on both backends: an announcement is written in the caller's
transaction (rolled back with it), its id is stable (the same announcement, the same id; a
repeatable one numbered by occurrence), and the publisher's claim, lease, retry and mark-sent
hand each unsent announcement to one publisher at a time until it is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from revbridge.store import Database, announcements, migrate
from revbridge.store.announcements import BreakNotice
from revbridge.store.schema import event_outbox

T0 = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database.open(db_url, null_pool=True)
    migrate.upgrade(database)
    return database


def test_an_announcement_commits_and_rolls_back_with_its_transaction(db: Database) -> None:
    with db.transaction() as tx:
        eid = announcements.record(tx, kind="journal.posted", subject="J1", data={"journal_id": "J1"}, now=T0)

    def failing_change() -> None:
        with db.transaction() as tx:
            announcements.record(tx, kind="journal.posted", subject="J2", data={}, now=T0)
            raise RuntimeError("the change it announces failed")

    with pytest.raises(RuntimeError):
        failing_change()
    listed = announcements.listed(db)
    assert [(p.event_id, p.kind, p.subject, p.data) for p in listed] == [
        (eid, "journal.posted", "J1", {"journal_id": "J1"})
    ]
    assert (
        eid
        == announcements.event_id("journal.posted", "J1")
        != announcements.event_id("journal.posted", "J2")
    )


def test_the_same_announcement_keeps_its_id_and_a_repeatable_one_counts_occurrences(db: Database) -> None:
    notice = BreakNotice(
        control="daily",
        subject="2026-06-15 STJ ChargeCaptured",
        message="source 10.00 != journals 9.00",
        expected="10.00",
        actual="9.00",
        difference="-1.00",
        currency="USD",
        event_count=2,
    )
    assert announcements.breaks_found(db, [notice], now=T0) == 1
    assert announcements.breaks_found(db, [notice], now=T0 + timedelta(hours=1)) == 0  # seen again
    with db.transaction() as tx:
        first = announcements.record(
            tx, kind="journal.rejected", subject="J9", data={"n": 1}, now=T0, repeatable=True
        )
    with db.transaction() as tx:
        second = announcements.record(
            tx, kind="journal.rejected", subject="J9", data={"n": 2}, now=T0, repeatable=True
        )
    assert first == announcements.event_id("journal.rejected", "J9", 1)
    assert second == announcements.event_id("journal.rejected", "J9", 2)
    kinds = [p.kind for p in announcements.listed(db)]
    assert kinds == ["reconciliation.broken", "journal.rejected", "journal.rejected"]


def test_a_repeat_after_a_purge_gets_a_number_no_other_occurrence_holds(db: Database) -> None:
    """`revbridge purge` dropped the first of two occurrences: the count is 1 again, but the
    third occurrence must not take the second's number (it would be kept as the second: lost)."""

    def rejected(n: int) -> str:
        with db.transaction() as tx:
            return announcements.record(
                tx, kind="journal.rejected", subject="J9", data={"n": n}, now=T0, repeatable=True
            )

    first, second = rejected(1), rejected(2)
    with db.transaction() as tx:
        tx.execute(delete(event_outbox).where(event_outbox.c.event_id == first))
    third = rejected(3)
    assert third == announcements.event_id("journal.rejected", "J9", 3)
    assert [p.data for p in announcements.listed(db)] == [{"n": 2}, {"n": 3}]
    assert len({first, second, third}) == 3


def test_claims_lease_retry_and_mark_sent(db: Database) -> None:
    with db.transaction() as tx:
        for n in range(3):
            announcements.record(tx, kind="workitem.opened", subject=f"workitem {n}", data={}, now=T0)
    a = announcements.claim(db, owner="a", now=T0, lease=LEASE, limit=2)
    assert [p.subject for p in a] == ["workitem 0", "workitem 1"]
    b = announcements.claim(db, owner="b", now=T0, lease=LEASE, limit=10)
    assert [p.subject for p in b] == ["workitem 2"]  # a's are leased
    assert announcements.mark_sent(db, [p.seq for p in b], owner="a", now=T0) == 0  # not a's lease
    assert announcements.mark_sent(db, [a[0].seq], owner="a", now=T0) == 1
    assert announcements.retry_later(db, a[1], owner="a", at=T0 + timedelta(seconds=5), error="HTTP 500")
    assert announcements.claim(db, owner="c", now=T0 + timedelta(seconds=1), lease=LEASE, limit=10) == []
    again = announcements.claim(db, owner="c", now=T0 + timedelta(seconds=5), lease=LEASE, limit=10)
    assert [(p.subject, p.attempts) for p in again] == [("workitem 1", 1)]
    # b died holding workitem 2: after its lease it is taken over, not lost
    taken = announcements.claim(db, owner="d", now=T0 + LEASE + timedelta(seconds=1), lease=LEASE, limit=10)
    assert [p.subject for p in taken] == ["workitem 2"]
    waiting = announcements.backlog(db)
    assert (waiting.unsent, waiting.oldest) == (2, T0)
