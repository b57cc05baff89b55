"""The queries behind the faces (store/views) on SQLite and PostgreSQL.

The store is filled with rows of known values (messages in three states and channels, events
with and without a located source, subledger lines on three posting dates and two currencies,
journals in both lanes, work items of every age), so each view is checked against exact
figures: grouping, filtering by time, role, currency and lane, ordering, the opening balance
before a window of days, lines and the events behind them, sealed payloads and purged ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from revbridge.store import Database, audit
from revbridge.store.schema import event_lines, events, journal_lines, journals, messages, work_items
from revbridge.store.views import changes, dashboard, lineage
from revbridge.store.views import journals as journal_views

NOW = datetime(2026, 6, 16, 9, 0, tzinfo=UTC)
TODAY = datetime(2026, 6, 16, tzinfo=UTC)
DAY = date(2026, 6, 15)


def _message(message_id: str, **values: object) -> dict[str, object]:
    return {
        "id": message_id,
        "channel": "mllp:adt",
        "format": "hl7v2",
        "dedupe_key": None,
        "content_hash": f"hash-{message_id}",
        "key_id": "k1",
        "payload": f"sealed {message_id}".encode(),
        "size": 100,
        "locator": "message[1]",
        "received_at": NOW - timedelta(hours=1),
        "correlation_id": f"corr-{message_id}",
        "status": "processed",
        "attempts": 1,
        "completed_at": NOW - timedelta(minutes=59),
        "duplicate_of": None,
        "purged_at": None,
    } | values


def _event(key: str, message_id: str, **values: object) -> dict[str, object]:
    return {
        "key": key,
        "kind": "ChargeCaptured",
        "message_id": message_id,
        "facility": "NCA",
        "occurred_on": DAY,
        "amount_minor": 12500,
        "currency": "USD",
        "body": json.dumps({"source": {"message_id": message_id, "locator": "FT1[1]-11"}, "charge_id": key}),
        "content_hash": f"hash-{key}",
        "state": "staged",
        "created_at": NOW,
    } | values


def _line(event_key: str, role: str, side: str, amount: int, **values: object) -> dict[str, object]:
    return {
        "event_key": event_key,
        "document_key": event_key,
        "revision": "r1",
        "lane": "realtime",
        "legal_entity": "LE1",
        "posting_date": DAY,
        "account": role.upper(),
        "role": role,
        "side": side,
        "amount_minor": amount,
        "currency": "USD",
        "facility": "NCA",
        "cost_center": "CC1",
        "payer_class": "medicare",
        "service_line": "SL1",
        "journal_id": None,
        "journal_line_id": None,
        "received_at": NOW - timedelta(hours=1),
        "created_at": NOW,
    } | values


def _journal(journal_id: str, **values: object) -> dict[str, object]:
    return {
        "id": journal_id,
        "lane": "realtime",
        "legal_entity": "LE1",
        "posting_date": DAY,
        "reference": journal_id,
        "moved_from": "[]",
        "status": "posted",
        "connector": "embedded",
        "attempts": 1,
        "uncertain": 0,
        "first_received_at": NOW - timedelta(hours=1),
        "created_at": NOW - timedelta(hours=1),
        "posted_at": NOW - timedelta(hours=1) + timedelta(seconds=5),
    } | values


def _journal_line(journal_id: str, line_no: int, account: str, debit: int, credit: int) -> dict[str, object]:
    return {
        "journal_id": journal_id,
        "line_no": line_no,
        "account": account,
        "role": "ar_payer" if debit else "gross_revenue",
        "debit_minor": debit,
        "credit_minor": credit,
        "currency": "USD",
        "facility": "NCA",
        "cost_center": "CC1",
        "payer_class": "medicare",
        "service_line": "SL1",
    }


def _item(code: str, created: datetime, status: str = "open", **values: object) -> dict[str, object]:
    return {
        "code": code,
        "severity": "error",
        "status": status,
        "locator": "FT1[1]-13",
        "message": "test problem",
        "message_id": "m2",
        "details": "{}",
        "fingerprint": f"{code}-{created.isoformat()}",
        "created_at": created,
        "updated_at": created,
    } | values


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url, null_pool=True)
    with database.engine.begin() as conn:
        conn.execute(
            messages.insert(),
            [
                _message("m1", dedupe_key="NCA|1"),
                _message(
                    "m2",
                    channel="file:era.835",
                    format="x12",
                    status="excepted",
                    payload=None,
                    key_id=None,
                    received_at=NOW - timedelta(hours=2),
                    purged_at=NOW,
                ),
                _message(
                    "m3",
                    channel="mllp:dft",
                    status="duplicate",
                    duplicate_of="m1",
                    received_at=TODAY - timedelta(hours=3),
                ),
            ],
        )
        conn.execute(
            events.insert(),
            [
                _event("F1|2", "m1"),
                _event(
                    "F1|1",
                    "m1",
                    kind="EncounterRegistered",
                    state="context",
                    amount_minor=None,
                    currency=None,
                    body=json.dumps({"source": {"message_id": "m1"}}),
                ),
                _event("F9|1", "m2", state="excepted"),
            ],
        )
        conn.execute(
            journals.insert(),
            [
                _journal("J1"),
                _journal("J2", lane="batch", legal_entity="LE2", status="staged", posted_at=None),
                _journal(
                    "J0",
                    posted_at=NOW - timedelta(days=40),
                    first_received_at=NOW - timedelta(days=40, seconds=30),
                ),
            ],
        )
        conn.execute(
            journal_lines.insert(),
            [
                _journal_line("J1", 2, "4000", 0, 12500),
                _journal_line("J1", 1, "1200", 12500, 0),
                _journal_line("J2", 1, "1300", 700, 0),
            ],
        )
        ids = {
            (j, n): i
            for i, j, n in conn.execute(
                select(journal_lines.c.id, journal_lines.c.journal_id, journal_lines.c.line_no)
            )
        }
        conn.execute(
            event_lines.insert(),
            [
                _line("F1|2", "ar_payer", "debit", 12500, journal_id="J1", journal_line_id=ids[("J1", 1)]),
                _line(
                    "F1|2", "gross_revenue", "credit", 12500, journal_id="J1", journal_line_id=ids[("J1", 2)]
                ),
                _line("F9|1", "ar_payer", "debit", 300, lane="batch", posting_date=DAY - timedelta(days=1)),
                _line("F9|1", "ar_payer", "credit", 100, lane="batch", posting_date=DAY - timedelta(days=2)),
                _line("F9|1", "ar_patient", "debit", 1000, posting_date=DAY - timedelta(days=3)),
                _line("F9|1", "ar_payer", "debit", 999, currency="EUR"),
            ],
        )
        conn.execute(
            work_items.insert(),
            [
                _item("MISSING_AMOUNT", NOW - timedelta(hours=2)),
                _item("MISSING_AMOUNT", NOW - timedelta(days=2)),
                _item("UNMAPPED_DEPARTMENT", NOW - timedelta(days=10)),
                _item(
                    "MISSING_AMOUNT", NOW - timedelta(days=5), "resolved", updated_at=NOW - timedelta(days=1)
                ),
            ],
        )
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
        conn.execute(journals.insert(), [_journal("J3", lane="batch", posted_at=NOW - timedelta(minutes=58))])
    with db.reading() as tx:
        recent = dashboard.posting_latencies(tx, since=NOW - timedelta(days=30))
        realtime = dashboard.posting_latencies(tx, lane="realtime")
    assert sorted(recent) == [5.0, 120.0]  # J1 and J3; J0 was posted 40 days ago, J2 not at all
    assert sorted(realtime) == [5.0, 30.0]  # J1 and J0


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
        conn.execute(work_items.insert(), [_item("NEW_CODE", NOW)])
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
