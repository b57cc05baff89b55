"""store/sap_confirmations.py on both backends: SAP's confirmation of a journal is kept once per
submission however often SAP delivers it, the first answer stands, and each is found by message
id with the answers of every submission of the journal, first received first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from revbridge.store import Database, sap_confirmations
from revbridge.store.sap_confirmations import SapConfirmation

T0 = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)


def _confirmation(request_id: str, outcome: str = "posted", **changes: object) -> SapConfirmation:
    values: dict[str, object] = {
        "message_id": "5e0a1f4470fa67bb1e058d57bfa3434e",
        "request_id": request_id,
        "outcome": outcome,
        "accounting_document": "1000000042" if outcome == "posted" else "0000000000",
        "company_code": "1010",
        "fiscal_year": "2026",
        "notes": ("Document posted successfully",)
        if outcome == "posted"
        else ("Account 9999 does not exist",),
    }
    return SapConfirmation(**{**values, **changes})  # type: ignore[arg-type]


def test_a_confirmation_is_kept_once_and_the_first_answer_stands(db_url: str) -> None:
    db = Database.open(db_url, null_pool=True)
    try:
        refused = _confirmation("R1", "rejected")
        assert sap_confirmations.record(db, [refused], now=T0) == [refused.message_id]
        again = _confirmation("R1", "posted")  # the same submission cannot change its answer
        assert sap_confirmations.record(db, [again], now=T0 + timedelta(seconds=1)) == []
        later = _confirmation("R2", "posted")  # a later submission of the journal, after a fix
        assert sap_confirmations.record(db, [later], now=T0 + timedelta(seconds=2)) == [later.message_id]
        found = sap_confirmations.find(db, [refused.message_id, "unknown"])
        assert list(found) == [refused.message_id]
        first, second = found[refused.message_id]
        assert (first.request_id, first.outcome, first.deliveries, first.notes) == (
            "R1",
            "rejected",
            2,
            ("Account 9999 does not exist",),
        )
        assert (second.request_id, second.outcome, second.accounting_document) == (
            "R2",
            "posted",
            "1000000042",
        )
    finally:
        db.close()


def test_an_outcome_is_posted_or_rejected() -> None:
    with pytest.raises(ValueError, match="posted or rejected"):
        _confirmation("R1", "maybe")
