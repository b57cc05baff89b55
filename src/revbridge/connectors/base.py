"""The connector protocol (DESIGN.md section 7).

A connector posts one balanced ``Journal`` and says what the ERP did with it. It maps every ERP
failure into one of two errors, and nothing else escapes it:
- ``ConnectorUnavailable``: try again later (timeouts, 5xx, 429, a dropped connection). When the
  request may have reached the ERP, ``uncertain`` is True and the outbox will ``lookup`` the
  journal's reference before any re-send: that is how exactly-once survives a lost response.
- ``ConnectorRejected``: the ERP refused the journal itself (a closed period, an unknown account);
  retrying cannot help, so it becomes an ERP_REJECTED work item at once.

Some ERPs answer "accepted, working on it" (Oracle's ESS jobs, the F&O DMF import, NetSuite's
async jobs): such a connector returns a receipt with ``status="accepted"`` whose ``document`` is the
ERP's ticket (job or request id), and has a ``check`` method (``Follows``) the outbox calls until
the ERP says posted or rejected. ERPs with a bulk path take many journals in one upload or batch
(``Bulk``: ``submit_many``/``lookup_many``). A connector that can read the ERP back per reference
has ``read_back`` (``ReadsBack``), which reconciliation compares with what was sent.

The journal id is deterministic and is the external reference the ERP stores with the document.
Payloads carry accounts, amounts, dimensions and the reference: never event keys, claim numbers or
anything else that could identify a patient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from revbridge.core.errors import RevbridgeError
from revbridge.ledger.journal import Journal

POSTED = "posted"
ACCEPTED = "accepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    reference: str  # our journal id, as stored in the ERP
    document: str  # the ERP's document id or number; when accepted, the ERP's ticket (job id)
    status: str = POSTED  # posted | accepted (the ERP took it and is still working)
    posted_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """The ERP refused a journal: its own message and the journal lines it named (our line
    numbers, 1-based), for the ERP_REJECTED work item. ERPs never see PHI, so neither does this."""

    reference: str
    message: str
    lines: tuple[int, ...] = ()
    document: str = ""  # the ticket or upload that was refused, when there is one


Answer = Receipt | Rejection


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpAmount:
    """One line as the ERP holds it, our account number mapped back from the ERP's code."""

    account: str
    debit: Decimal
    credit: Decimal
    currency: str = "USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpJournal:
    """What the ERP holds under one of our references, read back from the ERP itself."""

    reference: str
    document: str
    legal_entity: str
    posting_date: date | None
    lines: tuple[ErpAmount, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Outbound limits per connector (cloud ERPs throttle: DESIGN.md section 7)."""

    rate_per_second: float = 50.0  # token-bucket refill rate
    burst: int = 50  # token-bucket size
    concurrency: int = 4  # calls in flight at once
    max_attempts: int = 8  # then an ERP_UNAVAILABLE work item
    backoff_base: float = 0.5  # seconds; exponential with jitter, capped
    backoff_cap: float = 60.0
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_reset: float = 30.0  # seconds the circuit stays open
    poll_interval: float = 5.0  # seconds between checks of an accepted journal (asynchronous ERPs)
    poll_deadline: float = 3600.0  # an ERP job not finished after this many seconds: a work item


class ConnectorError(RevbridgeError):
    """Base of the two outcomes a connector may raise."""


class ConnectorUnavailable(ConnectorError):
    def __init__(self, message: str, *, retry_after: float | None = None, uncertain: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.uncertain = uncertain


class ConnectorRejected(ConnectorError):
    def __init__(self, message: str, *, lines: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.lines = lines


class Connector(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def limits(self) -> Limits: ...

    def submit(self, journal: Journal) -> Receipt:
        """Post the journal; raise ConnectorUnavailable or ConnectorRejected on failure."""
        ...

    def lookup(self, reference: str) -> Receipt | None:
        """The ERP's document for our reference, or None if the ERP has never seen it."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Follows(Protocol):
    """An asynchronous ERP: ``check`` the accepted receipts (``document`` is the ticket) and return
    the final answer of each the ERP has finished (posted receipt or rejection); a reference left
    out is still being worked on. Raises ConnectorUnavailable when the ERP cannot be asked."""

    def check(self, accepted: Sequence[Receipt]) -> Mapping[str, Answer]: ...


@runtime_checkable
class Bulk(Protocol):
    """An ERP with a bulk path: one upload or batch for up to ``batch_size`` journals.

    ``submit_many`` answers every journal it was given (posted, accepted or rejected) or raises
    ConnectorUnavailable for the whole call (``uncertain`` when the upload may have reached the
    ERP). ``lookup_many`` answers the references the ERP has seen (an earlier upload found by its
    batch name, say) and leaves out those it has never seen."""

    @property
    def batch_size(self) -> int: ...

    def submit_many(self, journals: Sequence[Journal]) -> Mapping[str, Answer]: ...

    def lookup_many(self, references: Sequence[str]) -> Mapping[str, Answer]: ...


@runtime_checkable
class ReadsBack(Protocol):
    """An ERP that can be read back: the journals it holds under these references (those it does
    not hold are left out), for reconciliation."""

    def read_back(self, references: Sequence[str]) -> Mapping[str, ErpJournal]: ...


@runtime_checkable
class Paced(Protocol):
    """A connector that makes several HTTP requests per call takes a token of the outbox's bucket
    for each request itself: ``pace(acquire)`` hands it the bucket (``None`` takes it back)."""

    def pace(self, acquire: Callable[[], bool] | None) -> None: ...
