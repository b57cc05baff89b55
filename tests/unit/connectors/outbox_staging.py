"""Journals staged in the outbox for the dispatcher's tests (test_connectors_outbox.py against the
HTTP ERP, test_connectors_outbox_scripted.py against a scripted connector), and the quick limits
both give their connectors.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from revbridge.connectors.base import Limits
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R
from revbridge.store import Database
from revbridge.store import journals as store

FAST = Limits(rate_per_second=1000, burst=100, concurrency=2, backoff_base=0.01, backoff_cap=0.05)


def journal(n: int, *, le: str = "LE01") -> Journal:
    """A two-line realtime journal (a patient's payment), distinct per ``n``."""
    dims = Dimensions(legal_entity=le, facility="F01")
    lines = [
        JournalLine.signed(account="1010", role=R.CASH_CLEARING, amount=Money.of(f"{n}.25"), dimensions=dims),
        JournalLine.signed(account="1220", role=R.AR_PATIENT, amount=Money.of(f"-{n}.25"), dimensions=dims),
    ]
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=le,
        currency="USD",
        posting_date=date(2026, 6, 15),
        source_document_key=f"payment:{n}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


def stage(engine: Database, count: int, *, now: datetime | None = None, le: str = "LE01") -> list[Journal]:
    """Journals 1..``count`` staged for the ``rest`` connector, received 3 s before they were staged."""
    made = [journal(n, le=le) for n in range(1, count + 1)]
    at = now or datetime.now(UTC)
    with engine.transaction() as conn:
        for j in made:
            store.stage_journal(
                conn, j, connector="rest", first_received_at=at - timedelta(seconds=3), now=at
            )
    return made
