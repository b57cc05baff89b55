"""What each journal was built from (store/views/journal_sources.py) on SQLite and PostgreSQL:
descriptions of remittance, replayed, claim-response, patient-payment and batch journals, the
choices and results of the source kind and payer filters, the filtered list's totals, and the
newest-first order of the journals page. A sentinel patient in a remittance's body is never read
into a description."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from views_store import DAY, NOW, event_row, journal_line_row, journal_row, message_row

from revbridge.store import Database, journals
from revbridge.store.schema import batch_windows, events, journal_lines, messages
from revbridge.store.schema import journals as journal_table
from revbridge.store.views import journal_sources as sources
from revbridge.store.views.journal_sources import Payer, Source, Total

ERA = "x12:835:P1:TRACE1"
PAYMENT = "portal:NCA/payment/PAY1"
WINDOW = "batch:LE1:2026-06-15T08:00:00+00:00"
SENTINEL = "ZZPHI-SENTINEL"


def _fill(db: Database) -> Database:
    era_body = {
        "type": "RemittanceReceived",
        "payer_id": "P1",
        "payer_name": "ACME HEALTH",
        "trace": "TRACE1",
        "method": "CHK",
        "patient": SENTINEL,
        "member": SENTINEL,
    }
    payment_body = {"type": "PatientPaymentReceived", "method": "card", "patient": SENTINEL}
    with db.engine.begin() as conn:
        conn.execute(messages.insert(), [message_row("m1")])
        conn.execute(
            events.insert(),
            [
                event_row(ERA, "m1", kind="RemittanceReceived", body=json.dumps(era_body)),
                event_row(PAYMENT, "m1", kind="PatientPaymentReceived", body=json.dumps(payment_body)),
            ],
        )
        conn.execute(
            batch_windows.insert(),
            [
                {
                    "key": WINDOW,
                    "legal_entity": "LE1",
                    "opened_at": NOW - timedelta(hours=1),
                    "line_count": 7,
                    "closed_at": NOW - timedelta(minutes=45),
                }
            ],
        )
        conn.execute(
            journal_table.insert(),
            [
                journal_row("J-ERA", reference=ERA, posting_date=DAY - timedelta(days=2)),
                journal_row("J-REPLAY", reference=f"{ERA}#r1", posting_date=DAY - timedelta(days=1)),
                journal_row("J-CLAIMS", reference="remittance:P2:T2", posting_date=DAY - timedelta(days=3)),
                journal_row("J-PAY", reference=PAYMENT, created_at=NOW - timedelta(minutes=30)),
                journal_row(
                    "J-BATCH", lane="batch", reference=WINDOW, created_at=NOW - timedelta(minutes=40)
                ),
                journal_row(
                    "J-GONE", reference="portal:NCA/payment/PURGED", posting_date=DAY - timedelta(days=9)
                ),
            ],
        )
        conn.execute(
            journal_lines.insert(),
            [
                journal_line_row("J-ERA", 1, "1010", 10000, 0),
                journal_line_row("J-ERA", 2, "1200", 0, 10000),
                journal_line_row("J-REPLAY", 1, "1010", 250, 0),
                journal_line_row("J-REPLAY", 2, "1200", 0, 250),
                journal_line_row("J-BATCH", 1, "1200", 700, 0),
                journal_line_row("J-BATCH", 2, "4000", 0, 700),
                *(
                    journal_line_row(jid, n, account, amount if n == 1 else 0, amount if n == 2 else 0)
                    for jid, amount in (("J-CLAIMS", 100), ("J-PAY", 200), ("J-GONE", 300))
                    for n, account in ((1, "1010"), (2, "1300"))
                ),
            ],
        )
    return db


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = _fill(Database.open(db_url, null_pool=True))
    yield database
    database.close()


def _references(db: Database) -> list[tuple[str, str, str]]:
    return [(s.journal.id, s.journal.lane.value, s.journal.reference) for s in journals.list_journals(db)]


def test_each_journal_described_by_its_source(db: Database) -> None:
    found = sources.describe(db, _references(db))
    era = Source(kind="remittance", payer_id="P1", payer_name="ACME HEALTH", trace="TRACE1", method="CHK")
    assert found["J-ERA"] == era
    assert found["J-REPLAY"] == era
    assert found["J-CLAIMS"] == Source(kind="remittance", payer_id="P2", trace="T2")
    assert found["J-PAY"] == Source(kind="PatientPaymentReceived", method="card")
    assert found["J-BATCH"] == Source(
        kind="batch",
        window_opened=NOW - timedelta(hours=1),
        window_closed=NOW - timedelta(minutes=45),
        window_lines=7,
    )
    assert "J-GONE" not in found  # its event was purged: described by its lane on the page
    assert SENTINEL not in repr(found)


def test_the_filters_choices(db: Database) -> None:
    assert sources.kinds(db) == ("PatientPaymentReceived", "batch", "remittance")
    assert sources.payers(db) == (Payer(id="P1", name="ACME HEALTH"), Payer(id="P2", name=""))


@pytest.mark.parametrize(
    ("kind", "payer", "expected"),
    [
        ("remittance", "", {"J-ERA", "J-REPLAY", "J-CLAIMS"}),
        ("", "P1", {"J-ERA", "J-REPLAY"}),
        ("remittance", "P2", {"J-CLAIMS"}),
        ("batch", "", {"J-BATCH"}),
        ("PatientPaymentReceived", "", {"J-PAY"}),
        ("batch", "P1", set()),
        ("", "P9", set()),
    ],
)
def test_journals_by_source_kind_and_payer(db: Database, kind: str, payer: str, expected: set[str]) -> None:
    assert set(sources.with_source(db, kind=kind, payer=payer)) == expected


def test_totals_of_a_filtered_list(db: Database) -> None:
    assert sources.totals(db) == (6, (Total(currency="USD", debit_minor=11550, credit_minor=11550),))
    assert sources.totals(db, ids=["J-ERA", "J-REPLAY"]) == (
        2,
        (Total(currency="USD", debit_minor=10250, credit_minor=10250),),
    )
    assert sources.totals(db, lane="batch") == (
        1,
        (Total(currency="USD", debit_minor=700, credit_minor=700),),
    )
    assert sources.totals(db, status="failed") == (0, ())


def test_newest_first(db: Database) -> None:
    order = [s.journal.id for s in journals.list_journals(db, newest_first=True)]
    # Posting date descending; on the same day the later-staged journal first.
    assert order == ["J-PAY", "J-BATCH", "J-REPLAY", "J-ERA", "J-CLAIMS", "J-GONE"]
    assert [s.journal.id for s in journals.list_journals(db, newest_first=True, limit=2, offset=2)] == [
        "J-REPLAY",
        "J-ERA",
    ]
