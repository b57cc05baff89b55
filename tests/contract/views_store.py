"""A store filled for the contract tests of the faces' queries (store/views): test_views.py and
test_views_dashboard.py.

Rows of known values, written as rows: messages in three states and channels (one purged), events
with and without a located source, subledger lines on three posting dates and two currencies,
journals in both lanes (one posted 40 days ago), and work items of every age, one resolved.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, select

from revbridge.store import Database
from revbridge.store.schema import event_lines, events, journal_lines, journals, messages, work_items

NOW = datetime(2026, 6, 16, 9, 0, tzinfo=UTC)
TODAY = datetime(2026, 6, 16, tzinfo=UTC)
DAY = date(2026, 6, 15)


def fill(database: Database) -> Database:
    """Every row the view tests count on, in one transaction."""
    with database.engine.begin() as conn:
        _messages_and_events(conn)
        _journals(conn)
        _event_lines(conn)
        _work_items(conn)
    return database


def _messages_and_events(conn: Connection) -> None:
    conn.execute(
        messages.insert(),
        [
            message_row("m1", dedupe_key="NCA|1"),
            message_row(
                "m2",
                channel="file:era.835",
                format="x12",
                status="excepted",
                payload=None,
                key_id=None,
                received_at=NOW - timedelta(hours=2),
                purged_at=NOW,
            ),
            message_row(
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
            event_row("F1|2", "m1"),
            event_row(
                "F1|1",
                "m1",
                kind="EncounterRegistered",
                state="context",
                amount_minor=None,
                currency=None,
                body=json.dumps({"source": {"message_id": "m1"}}),
            ),
            event_row("F9|1", "m2", state="excepted"),
        ],
    )


def _journals(conn: Connection) -> None:
    conn.execute(
        journals.insert(),
        [
            journal_row("J1"),
            journal_row("J2", lane="batch", legal_entity="LE2", status="staged", posted_at=None),
            journal_row(
                "J0",
                posted_at=NOW - timedelta(days=40),
                first_received_at=NOW - timedelta(days=40, seconds=30),
            ),
        ],
    )
    conn.execute(
        journal_lines.insert(),
        [
            journal_line_row("J1", 2, "4000", 0, 12500),
            journal_line_row("J1", 1, "1200", 12500, 0),
            journal_line_row("J2", 1, "1300", 700, 0),
        ],
    )


def _event_lines(conn: Connection) -> None:
    """F1|2's two lines on J1's lines; F9|1's waiting ones on three dates and in EUR."""
    ids = {
        (j, n): i
        for i, j, n in conn.execute(
            select(journal_lines.c.id, journal_lines.c.journal_id, journal_lines.c.line_no)
        )
    }
    conn.execute(
        event_lines.insert(),
        [
            line_row("F1|2", "ar_payer", "debit", 12500, journal_id="J1", journal_line_id=ids[("J1", 1)]),
            line_row(
                "F1|2", "gross_revenue", "credit", 12500, journal_id="J1", journal_line_id=ids[("J1", 2)]
            ),
            line_row("F9|1", "ar_payer", "debit", 300, lane="batch", posting_date=DAY - timedelta(days=1)),
            line_row("F9|1", "ar_payer", "credit", 100, lane="batch", posting_date=DAY - timedelta(days=2)),
            line_row("F9|1", "ar_patient", "debit", 1000, posting_date=DAY - timedelta(days=3)),
            line_row("F9|1", "ar_payer", "debit", 999, currency="EUR"),
        ],
    )


def _work_items(conn: Connection) -> None:
    conn.execute(
        work_items.insert(),
        [
            item_row("MISSING_AMOUNT", NOW - timedelta(hours=2)),
            item_row("MISSING_AMOUNT", NOW - timedelta(days=2)),
            item_row("UNMAPPED_DEPARTMENT", NOW - timedelta(days=10)),
            item_row(
                "MISSING_AMOUNT", NOW - timedelta(days=5), "resolved", updated_at=NOW - timedelta(days=1)
            ),
        ],
    )


def message_row(message_id: str, **values: object) -> dict[str, object]:
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


def event_row(key: str, message_id: str, **values: object) -> dict[str, object]:
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


def line_row(event_key: str, role: str, side: str, amount: int, **values: object) -> dict[str, object]:
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


def journal_row(journal_id: str, **values: object) -> dict[str, object]:
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


def journal_line_row(
    journal_id: str, line_no: int, account: str, debit: int, credit: int
) -> dict[str, object]:
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


def item_row(code: str, created: datetime, status: str = "open", **values: object) -> dict[str, object]:
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
