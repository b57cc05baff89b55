"""Journals in the store and the outbox transitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from revbridge.core.errors import InputError
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import Database, outbox
from revbridge.store import journals as store
from revbridge.store.schema import event_lines, journal_lines

T0 = datetime(2026, 6, 16, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def _journal(n: int = 1, *, keys: bool = True, day: date = date(2026, 6, 15)) -> Journal:
    dims = Dimensions(legal_entity="LE01", facility="F01", cost_center="ED", payer_class="Medicare")

    def line(account: str, role: R, amount: str, key: str) -> JournalLine:
        made = JournalLine.signed(
            account=account,
            role=role,
            amount=Money.of(amount),
            dimensions=dims,
            event_keys=(key,) if keys else (),
        )
        assert made is not None
        return made

    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="LE01",
        currency="USD",
        posting_date=day,
        source_document_key=f"835:P:{n}",
        lines=(
            line("1010", R.CASH_CLEARING, "100.25", f"e{n}a"),
            line("1010", R.CASH_CLEARING, "20.00", f"e{n}b"),
            line("1210", R.AR_PAYER, "-120.25", f"e{n}a"),
        ),
    )
    return realtime_journal(draft)


def _subledger(engine: object, journal: Journal) -> None:
    """The posting stage's event_lines rows behind the journal (one per event and line)."""
    rows = []
    for line in journal.lines:
        for key in line.event_keys:
            d = line.dimensions
            rows.append(
                {
                    "event_key": key,
                    "document_key": journal.reference,
                    "revision": "",
                    "lane": journal.lane.value,
                    "legal_entity": journal.legal_entity,
                    "posting_date": journal.posting_date,
                    "moved_from": None,
                    "account": line.account,
                    "role": line.role.value,
                    "side": line.side.value,
                    "amount_minor": line.amount.to_minor(),
                    "currency": line.amount.currency,
                    "facility": d.facility,
                    "cost_center": d.cost_center,
                    "payer_class": d.payer_class,
                    "service_line": d.service_line,
                    "window_key": None,
                    "journal_id": None,
                    "journal_line_id": None,
                    "received_at": T0,
                    "created_at": T0,
                }
            )
    with engine.transaction() as conn:  # type: ignore[attr-defined]
        conn.execute(event_lines.insert(), rows)


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    engine = Database.open(db_url, null_pool=True)
    yield engine
    engine.close()


def _stage(engine, journal: Journal, *, received: datetime = T0) -> bool:  # type: ignore[no-untyped-def]
    with engine.transaction() as conn:
        return store.stage_journal(conn, journal, connector="embedded", first_received_at=received, now=T0)


def test_stage_is_idempotent_and_stores_minor_units(engine) -> None:  # type: ignore[no-untyped-def]
    journal = _journal(keys=False)
    assert _stage(engine, journal)
    assert not _stage(engine, journal)
    with engine.engine.connect() as conn:
        rows = conn.execute(select(journal_lines).order_by(journal_lines.c.line_no)).all()
    assert [(r.account, r.debit_minor, r.credit_minor) for r in rows] == [
        ("1010", 12025, 0),
        ("1210", 0, 12025),
    ]
    assert store.counts(engine) == {"staged": 1, "submitting": 0, "accepted": 0, "posted": 0, "failed": 0}
    assert store.load(engine, journal.id) == journal


def test_event_keys_come_back_through_the_subledger(engine) -> None:  # type: ignore[no-untyped-def]
    journal = _journal()
    _subledger(engine, journal)
    _subledger(engine, _journal(2))  # another document's rows stay unlinked
    assert _stage(engine, journal)
    assert store.load(engine, journal.id) == journal
    (stored,) = store.list_journals(engine)
    shape = store.journal_json(stored)
    assert json.loads(json.dumps(shape)) == shape
    assert {
        k: shape[k] for k in ("id", "lane", "legal_entity", "posting_date", "status", "erp_reference")
    } == {
        "id": journal.id,
        "lane": "realtime",
        "legal_entity": "LE01",
        "posting_date": "2026-06-15",
        "status": "staged",
        "erp_reference": None,
    }
    assert shape["lines"] == [
        {
            "account": "1010",
            "role": "cash_clearing",
            "debit": "120.25",
            "credit": "0.00",
            "currency": "USD",
            "dimensions": {
                "facility": "F01",
                "cost_center": "ED",
                "payer_class": "Medicare",
                "service_line": "",
            },
            "event_keys": ["e1a", "e1b"],
        },
        {
            "account": "1210",
            "role": "ar_payer",
            "debit": "0.00",
            "credit": "120.25",
            "currency": "USD",
            "dimensions": {
                "facility": "F01",
                "cost_center": "ED",
                "payer_class": "Medicare",
                "service_line": "",
            },
            "event_keys": ["e1a"],
        },
    ]
    with engine.engine.connect() as conn:
        unlinked = conn.execute(
            select(event_lines.c.event_key).where(event_lines.c.journal_id.is_(None))
        ).all()
    assert sorted(k for (k,) in unlinked) == ["e2a", "e2a", "e2b"]


def test_list_filters_and_unknown_ids(engine) -> None:  # type: ignore[no-untyped-def]
    for n, day in ((1, date(2026, 6, 1)), (2, date(2026, 6, 20)), (3, date(2026, 7, 2))):
        _stage(engine, _journal(n, keys=False, day=day))
    assert len(store.list_journals(engine, date_from=date(2026, 6, 10), date_to=date(2026, 6, 30))) == 1
    assert len(store.list_journals(engine, status="staged", legal_entity="LE01", lane="realtime")) == 3
    assert store.list_journals(engine, legal_entity="LE02") == []
    assert store.get(engine, "nope") is None
    with pytest.raises(InputError, match="no journal"):
        store.load(engine, "nope")
    with pytest.raises(InputError, match="unknown journal status"):
        store.list_journals(engine, status="sent")


def test_claim_leases_and_the_owner_alone_finishes(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = _journal(1, keys=False), _journal(2, keys=False)
    _stage(engine, a)
    _stage(engine, b)
    claims = outbox.claim(engine, owner="w1", now=T0, lease=LEASE, limit=10)
    assert sorted(c.id for c in claims) == sorted([a.id, b.id])
    assert all(not c.uncertain and c.attempts == 0 and c.first_received_at == T0 for c in claims)
    assert outbox.claim(engine, owner="w2", now=T0, lease=LEASE, limit=10) == []
    with engine.transaction() as conn:
        assert not outbox.mark_posted(conn, a.id, owner="w2", document="D1", connector="x", now=T0)
        assert outbox.mark_posted(conn, a.id, owner="w1", document="D1", connector="x", now=T0)
        assert outbox.retry_later(
            conn,
            b.id,
            owner="w1",
            at=T0 + timedelta(seconds=30),
            attempts=1,
            uncertain=True,
            connector="x",
            error="500",
        )
    posted = store.get(engine, a.id)
    assert posted is not None and (posted.status, posted.erp_document, posted.posted_at) == (
        "posted",
        "D1",
        T0,
    )
    assert outbox.claim(engine, owner="w1", now=T0 + timedelta(seconds=29), lease=LEASE, limit=10) == []
    (retry,) = outbox.claim(engine, owner="w1", now=T0 + timedelta(seconds=30), lease=LEASE, limit=10)
    assert (retry.id, retry.attempts, retry.uncertain) == (b.id, 1, True)
    with engine.transaction() as conn:
        assert outbox.mark_failed(
            conn, b.id, owner="w1", attempts=2, uncertain=True, connector="x", error="gone"
        )
    assert store.counts(engine) == {"staged": 0, "submitting": 0, "accepted": 0, "posted": 1, "failed": 1}
    with engine.transaction() as conn:
        assert outbox.requeue(conn, [a.id, b.id], now=T0) == 1  # only failed journals go back
    again = store.get(engine, b.id)
    assert again is not None and (again.status, again.attempts, again.uncertain) == ("staged", 0, True)


def test_an_expired_lease_is_taken_over_as_uncertain(engine) -> None:  # type: ignore[no-untyped-def]
    journal = _journal(keys=False)
    _stage(engine, journal)
    (first,) = outbox.claim(engine, owner="dead", now=T0, lease=LEASE, limit=1)
    assert not first.uncertain
    assert outbox.claim(engine, owner="w2", now=T0 + LEASE - timedelta(seconds=1), lease=LEASE, limit=1) == []
    (taken,) = outbox.claim(engine, owner="w2", now=T0 + LEASE + timedelta(seconds=1), lease=LEASE, limit=1)
    assert taken.uncertain  # the dead owner may have reached the ERP
    with engine.transaction() as conn:
        assert not outbox.mark_posted(conn, journal.id, owner="dead", document="D", connector="x", now=T0)


def test_release_gives_journals_back_without_an_attempt(engine) -> None:  # type: ignore[no-untyped-def]
    journal = _journal(keys=False)
    _stage(engine, journal)
    outbox.claim(engine, owner="w1", now=T0, lease=LEASE, limit=1)
    with engine.transaction() as conn:
        assert outbox.release(conn, [journal.id], owner="w1", at=T0 + timedelta(seconds=5)) == 1
        assert outbox.release(conn, [], owner="w1", at=T0) == 0
    stored = store.get(engine, journal.id)
    assert stored is not None and (stored.status, stored.attempts) == ("staged", 0)
    assert outbox.claim(engine, owner="w1", now=T0 + timedelta(seconds=4), lease=LEASE, limit=1) == []
    assert len(outbox.claim(engine, owner="w1", now=T0 + timedelta(seconds=5), lease=LEASE, limit=1)) == 1


def test_an_accepted_journal_is_checked_under_a_lease_and_ends_posted_or_failed(engine) -> None:  # type: ignore[no-untyped-def]
    a, b = _journal(1, keys=False), _journal(2, keys=False)
    _stage(engine, a)
    _stage(engine, b)
    outbox.claim(engine, owner="w1", now=T0, lease=LEASE, limit=10)
    check_at = T0 + timedelta(seconds=5)
    with engine.transaction() as conn:
        for journal in (a, b):
            assert outbox.mark_accepted(
                conn,
                journal.id,
                owner="w1",
                ticket=f"JOB-{journal.id[:4]}",
                connector="x",
                now=T0,
                check_at=check_at,
            )
    accepted = store.get(engine, a.id)
    assert accepted is not None and (accepted.status, accepted.erp_ticket, accepted.uncertain) == (
        "accepted",
        f"JOB-{a.id[:4]}",
        True,
    )
    assert outbox.claim(engine, owner="w2", now=check_at, lease=LEASE, limit=10) == []  # never re-sent
    assert (
        outbox.claim_checks(engine, owner="w2", now=check_at - timedelta(seconds=1), lease=LEASE, limit=10)
        == []
    )
    checks = outbox.claim_checks(engine, owner="w2", now=check_at, lease=LEASE, limit=10)
    assert sorted(c.id for c in checks) == sorted([a.id, b.id])
    assert all(c.ticket and c.accepted_at == T0 for c in checks)
    assert outbox.claim_checks(engine, owner="w3", now=check_at, lease=LEASE, limit=10) == []  # leased
    with engine.transaction() as conn:
        assert not outbox.mark_posted(conn, a.id, owner="w3", document="D1", connector="x", now=check_at)
        assert outbox.mark_posted(conn, a.id, owner="w2", document="D1", connector="x", now=check_at)
        assert outbox.check_later(conn, b.id, owner="w2", at=check_at + timedelta(seconds=10), error="503")
    posted = store.get(engine, a.id)
    assert posted is not None and (posted.status, posted.erp_document, posted.uncertain) == (
        "posted",
        "D1",
        False,
    )
    waiting = store.get(engine, b.id)
    assert waiting is not None and (waiting.status, waiting.last_error) == ("accepted", "503")
    (again,) = outbox.claim_checks(
        engine, owner="w2", now=check_at + timedelta(seconds=10), lease=LEASE, limit=10
    )
    with engine.transaction() as conn:
        assert outbox.mark_failed(
            conn, again.id, owner="w2", attempts=1, uncertain=True, connector="x", error="never"
        )
    assert store.counts(engine) == {"staged": 0, "submitting": 0, "accepted": 0, "posted": 1, "failed": 1}
