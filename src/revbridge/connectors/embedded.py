"""The embedded connector: revbridge's own general ledger, in the store's database.

The default ERP target (DESIGN.md section 7) and the reference the others are compared with. The
ledger itself (documents, entries, the trial balance, the closed-period refusal and the unique
reference that makes a second submit return the first document) lives in
``store/general_ledger.py``; this port maps its answers to receipts and its failures to the
connector errors the outbox understands.
"""

from __future__ import annotations

from collections.abc import Sequence

from revbridge.connectors.base import (
    Answer,
    ConnectorRejected,
    ConnectorUnavailable,
    Limits,
    Receipt,
    Rejection,
)
from revbridge.core.clock import Clock
from revbridge.core.errors import StoreConflict, StoreError
from revbridge.ledger.journal import Journal
from revbridge.store import Database, general_ledger
from revbridge.store.general_ledger import ClosedPeriod, GlDocument

# One writer on SQLite anyway; a high rate because the "ERP" is a local table.
DEFAULT_LIMITS = Limits(rate_per_second=5000.0, burst=5000, concurrency=1, backoff_base=0.2, backoff_cap=10.0)
# Journals per bulk post: one transaction (one fsync) for all of them. Small enough that on
# SQLite intake, which goes first, never waits long behind it for the one writer.
BATCH_SIZE = 50


class EmbeddedLedger:
    def __init__(
        self, db: Database, *, clock: Clock, limits: Limits = DEFAULT_LIMITS, name: str = "embedded"
    ) -> None:
        self._name = name
        self._db = db
        self._clock = clock
        self._limits = limits

    @property
    def name(self) -> str:
        return self._name

    @property
    def limits(self) -> Limits:
        return self._limits

    def submit(self, journal: Journal) -> Receipt:
        try:
            posted = general_ledger.post(self._db, journal, now=self._clock.now())
        except StoreConflict as exc:
            raise ConnectorUnavailable(f"embedded ledger: {exc}", uncertain=True) from None
        except StoreError as exc:
            raise ConnectorUnavailable(f"embedded ledger unavailable: {exc}", uncertain=True) from None
        if isinstance(posted, ClosedPeriod):  # a ledger refuses postings into a closed period
            raise ConnectorRejected(f"period {posted.period} of {posted.legal_entity} is closed")
        return _receipt(posted)

    @property
    def batch_size(self) -> int:
        return BATCH_SIZE

    def submit_many(self, journals: Sequence[Journal]) -> dict[str, Answer]:
        """The outbox's bulk path: the round's journals of one legal entity in one transaction,
        each answered as ``submit`` would answer it (a closed period is that journal's refusal)."""
        try:
            posted = general_ledger.post_many(self._db, journals, now=self._clock.now())
        except StoreError as exc:
            raise ConnectorUnavailable(f"embedded ledger unavailable: {exc}", uncertain=True) from None
        answers: dict[str, Answer] = {}
        for reference, result in posted.items():
            if isinstance(result, ClosedPeriod):
                message = f"period {result.period} of {result.legal_entity} is closed"
                answers[reference] = Rejection(reference=reference, message=message)
            else:
                answers[reference] = _receipt(result)
        return answers

    def lookup_many(self, references: Sequence[str]) -> dict[str, Answer]:
        try:
            found = general_ledger.find_many(self._db, references)
        except StoreError as exc:
            raise ConnectorUnavailable(f"embedded ledger unavailable: {exc}") from None
        return {reference: _receipt(document) for reference, document in found.items()}

    def lookup(self, reference: str) -> Receipt | None:
        try:
            found = general_ledger.find(self._db, reference)
        except StoreError as exc:
            raise ConnectorUnavailable(f"embedded ledger unavailable: {exc}") from None
        return _receipt(found) if found is not None else None

    def close(self) -> None:
        """The database belongs to the runtime; nothing of ours to release."""


def _receipt(document: GlDocument) -> Receipt:
    return Receipt(reference=document.reference, document=document.document, posted_at=document.posted_at)
