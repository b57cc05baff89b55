"""The records analytics reads: what the store holds about posted journals, adjudicated and
submitted claims, receivables, journal timings and work items. Frozen values with Decimal money;
the store builds them, the report functions only read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PostedLine:
    """The debits and credits of posted journal lines sharing one day and dimension set."""

    day: date  # the journal's posting date
    legal_entity: str
    facility: str
    department: str  # cost centre ("" where the role carries none, e.g. cash)
    payer_class: str
    role: str
    currency: str
    debit: Decimal
    credit: Decimal

    @property
    def net(self) -> Decimal:
        return self.debit - self.credit


@dataclass(frozen=True, slots=True, kw_only=True)
class CasTriple:
    group: str  # CO, PR, OA, PI, CR
    reason: str  # CARC
    amount: Decimal
    role: str | None  # the account role its category posts to (None: informational)


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjudicated:
    """One ClaimAdjudicated event (an 835 CLP loop) with what its posted journal lines booked."""

    day: date  # occurred_on (the payment date)
    facility: str  # as booked ("" when nothing of it is in a posted journal yet)
    payer: str  # the payer's code in master data (the id as sent when it is not mapped)
    payer_class: str
    claim_id: str  # used to match the 837; never shown
    status: str  # CLP02
    currency: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: tuple[CasTriple, ...]
    booked: tuple[tuple[str, Decimal], ...]  # (role, net debit-positive) on posted journals

    def booked_on(self, role: str) -> Decimal:
        return sum((amount for r, amount in self.booked if r == role), Decimal(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """One ClaimSubmitted event (an 837 CLM or a FHIR Claim)."""

    day: date
    claim_id: str
    payer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivableBalance:
    """Receivables the journals dated through a day hold, per legal entity, payer class, role."""

    legal_entity: str
    payer_class: str
    role: str
    currency: str
    amount: Decimal  # debit positive


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalTiming:
    lane: str  # realtime | batch
    status: str
    posting_date: date
    first_received_at: datetime
    posted_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFact:
    """A work item's code and life: no message text, no locator (they may quote the source)."""

    code: str
    severity: str
    status: str  # open | resolved | ignored
    created_at: datetime
    closed_at: datetime | None
