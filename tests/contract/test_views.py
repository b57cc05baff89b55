"""The journal and lineage queries behind the faces (store/views) on SQLite and PostgreSQL.

Over the rows ``views_store.fill`` writes (messages in three states and channels, events with and
without a located source, subledger lines, journals in both lanes, work items), each view is
checked against exact figures: journal search, lines in order and the events behind them, what a
message produced and the lines each event booked, sealed payloads and purged ones, message
statuses, the fingerprint kept results are checked against, and an audit entry recorded on its
own. The dashboard's queries are in test_views_dashboard.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from views_store import DAY, NOW, fill, item_row

from revbridge.store import Database, audit
from revbridge.store.schema import journals, work_items
from revbridge.store.views import changes, lineage
from revbridge.store.views import journals as journal_views


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = fill(Database.open(db_url, null_pool=True))
    yield database
    database.close()


def test_journal_search_choices(db: Database) -> None:
    assert journal_views.legal_entities(db) == ("LE1", "LE2")
    assert set(journal_views.with_account(db, "1200")) == {"J1"}
    assert journal_views.with_account(db, "9999") == ()


def test_a_journals_lines_in_order_with_the_events_behind_each(db: Database) -> None:
    lines = journal_views.lines(db, "J1")
    assert [(ln.line_no, ln.account, ln.debit_minor, ln.credit_minor, ln.events) for ln in lines] == [
        (1, "1200", 12500, 0, 1),
        (2, "4000", 0, 12500, 1),
    ]
    assert all(ln.journal_id == "J1" and ln.currency == "USD" and ln.cost_center == "CC1" for ln in lines)
    (batch,) = journal_views.lines(db, "J2")
    assert batch.events == 0
    assert journal_views.lines(db, "nope") == ()


def test_the_events_behind_one_line(db: Database) -> None:
    (first, _second) = journal_views.lines(db, "J1")
    found = journal_views.line_behind(db, "J1", first.id)
    assert found is not None
    assert found.line == first
    assert found.contributions == (
        journal_views.Contribution(
            event_key="F1|2",
            kind="ChargeCaptured",
            occurred_on=DAY,
            message_id="m1",
            side="debit",
            amount_minor=12500,
            currency="USD",
        ),
    )
    assert journal_views.line_behind(db, "J2", first.id) is None  # another journal's line
    assert journal_views.line_behind(db, "J1", 10_000) is None


def test_what_a_message_produced(db: Database) -> None:
    with db.reading() as tx:
        found = lineage.produced(tx, "m1")
        purged = lineage.produced(tx, "m2")
        unknown = lineage.produced(tx, "nope")
    assert unknown is None
    assert found is not None and purged is not None
    m = found.message
    assert (m.id, m.channel, m.format, m.status, m.dedupe_key, m.key_id) == (
        "m1",
        "mllp:adt",
        "hl7v2",
        "processed",
        "NCA|1",
        "k1",
    )
    assert m.received_at == NOW - timedelta(hours=1) and m.purged_at is None and m.payload_available
    assert not purged.message.payload_available and purged.message.purged_at == NOW
    assert [(e.key, e.kind, e.state, e.locator, e.amount_minor, e.currency) for e in found.events] == [
        ("F1|2", "ChargeCaptured", "staged", "FT1[1]-11", 12500, "USD"),
        ("F1|1", "EncounterRegistered", "context", "", None, None),
    ]
    assert found.events[0].occurred_on == DAY and found.events[0].facility == "NCA"


def test_the_lines_each_event_booked(db: Database) -> None:
    with db.reading() as tx:
        found = lineage.booked(tx, ["F1|2", "F1|1"])
        waiting = lineage.booked(tx, ["F9|1"])
        nothing = lineage.booked(tx, [])
    assert [(b.event_key, b.role, b.side, b.amount_minor, b.journal_id) for b in found] == [
        ("F1|2", "ar_payer", "debit", 12500, "J1"),
        ("F1|2", "gross_revenue", "credit", 12500, "J1"),
    ]
    assert all(b.journal_line_id is not None for b in found)
    assert len(waiting) == 4 and {b.journal_id for b in waiting} == {None}
    assert nothing == ()


def test_many_event_keys_are_read_in_chunks(db: Database) -> None:
    keys = ["F1|2", *(f"other|{n}" for n in range(lineage.CHUNK * 2 + 5))]
    with db.reading() as tx:
        assert len(lineage.booked(tx, keys)) == 2


def test_sealed_payloads_and_purged_ones(db: Database) -> None:
    assert lineage.sealed_payload(db, "m1") == lineage.SealedPayload(
        format="hl7v2", key_id="k1", payload=b"sealed m1"
    )
    assert lineage.sealed_payload(db, "m2") == lineage.SealedPayload(format="x12", key_id=None, payload=None)
    assert lineage.sealed_payload(db, "nope") is None


def test_statuses_of_many_messages(db: Database) -> None:
    ids = ["m1", "m3", "nope", *(f"x{n}" for n in range(lineage.CHUNK + 1)), "m2"]
    assert lineage.statuses(db, ids) == {"m1": "processed", "m2": "excepted", "m3": "duplicate"}
    assert lineage.statuses(db, []) == {}


def test_the_fingerprint_changes_with_what_kept_results_read(db: Database) -> None:
    before = changes.fingerprint(db)
    assert changes.fingerprint(db) == before
    with db.engine.begin() as conn:
        conn.execute(update(journals).where(journals.c.id == "J2").values(status="submitting"))
    moved = changes.fingerprint(db)
    assert moved != before
    with db.engine.begin() as conn:
        conn.execute(work_items.insert(), [item_row("NEW_CODE", NOW)])
    assert changes.fingerprint(db) != moved


def test_an_audit_entry_recorded_on_its_own_commits_and_chains(db: Database) -> None:
    entry = audit.record(
        db,
        at=NOW,
        actor="apikey:k",
        action="phi.view",
        target="message/m1",
        details={"bytes": "9"},
        anchor=None,
    )
    assert entry.seq == 1 and entry.details == {"bytes": "9"}
    audit.record(db, at=NOW, actor="apikey:k", action="login", target="token/t", details={}, anchor=None)
    count, findings = audit.check(db)
    assert (count, findings) == (2, [])
    with db.reading() as tx:
        assert [(e.seq, e.action) for e in audit.entries(tx)] == [(1, "phi.view"), (2, "login")]
