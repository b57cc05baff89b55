"""The connector protocol (DESIGN.md section 7).

A connector posts one balanced ``Journal`` and says what the ERP did with it. It maps every ERP
failure into one of two errors, and nothing else escapes it:
- ``ConnectorUnavailable``: try again later (timeouts, 5xx, 429, a dropped connection). When the
  request may have reached the ERP, ``uncertain`` is True and the outbox will ``lookup`` the
  journal's reference before any re-send: that is how exactly-once survives a lost response.
- ``ConnectorRejected``: the ERP refused the journal itself (a closed period, an unknown account);
  retrying cannot help, so it becomes an ERP_REJECTED work item at once.

The journal id is deterministic and is the external reference the ERP stores with the document.
Payloads carry accounts, amounts, dimensions and the reference: never event keys, claim numbers or
anything else that could identify a patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from revbridge.core.errors import RevbridgeError
from revbridge.ledger.journal import Journal


@dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    reference: str  # our journal id, as stored in the ERP
    document: str  # the ERP's own document id or number
    status: str = "posted"  # posted | pending (asynchronous ERPs)
    posted_at: datetime | None = None


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


class ConnectorError(RevbridgeError):
    """Base of the two outcomes a connector may raise."""


class ConnectorUnavailable(ConnectorError):
    def __init__(self, message: str, *, retry_after: float | None = None, uncertain: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.uncertain = uncertain


class ConnectorRejected(ConnectorError):
    pass


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
