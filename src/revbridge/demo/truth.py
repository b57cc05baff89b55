"""What the generator sent, and what revbridge should make of it: the ground truth.

Each generated message carries its ``Expectation``: the terminal state it should end in
(DESIGN.md section 1) and the error work items it should open, one code per item. Totals are per
facility and business date, the date revbridge posts on (FT1-4 service date, BPR16 payment date,
the portal timestamp's date), so they compare with journal lines directly:

- ``charges`` and ``credits`` are FT1-6 CG and CD amounts as sent; ``held_back`` is the part of
  ``charges`` the deliberate faults keep from posting (so gross revenue should move by
  charges - credits - held_back);
- ``remitted`` is BPR02 (or paymentAmount) of every remittance that carries cash, and the claim
  figures beside it (paid, contractual, denied, patient share, PLB interest and recoupment) are
  of those remittances only: a remittance of denials alone pays nothing (BPR01 = H) and posts
  nothing, and is counted in ``notification_only``;
- ``patient_payments`` and ``refunds`` are portal items.

Duplicates add nothing: they are the same money sent twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Channel(StrEnum):
    MLLP = "mllp"  # HL7 v2 to the MLLP listener
    FILE = "file"  # X12 files into the directory source
    HTTP_FHIR = "http-fhir"  # FHIR resources and Bundles to the FHIR route
    HTTP_PORTAL = "http-portal"  # portal JSON to the portal payments route

    @property
    def format_name(self) -> str:
        """The revbridge format (formats/registry.py) of what arrives on the channel."""
        return {"mllp": "hl7v2", "file": "x12", "http-fhir": "fhir", "http-portal": "portal"}[self.value]


class Kind(StrEnum):
    ADT_A01 = "ADT^A01"
    ADT_A04 = "ADT^A04"
    ADT_A08 = "ADT^A08"
    ADT_A03 = "ADT^A03"
    DFT_P03 = "DFT^P03"
    CLAIMS_837I = "837I"
    CLAIMS_837P = "837P"
    REMITTANCE_835 = "835"
    FHIR_CLAIM = "FHIR Claim"
    FHIR_REMITTANCE = "FHIR PaymentReconciliation Bundle"
    PORTAL_PAYMENT = "portal payment"
    PORTAL_REFUND = "portal refund"
    PORTAL_PLAN = "portal payment_plan"


class Status(StrEnum):
    PROCESSED = "processed"
    EXCEPTED = "excepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


class FaultKind(StrEnum):
    RESENT_DFT = "resent_dft"
    DUPLICATE_835 = "duplicate_835"
    UNMAPPED_DEPARTMENT = "unmapped_department"
    UNKNOWN_PAYER = "unknown_payer"
    ERP_OUTAGE = "erp_outage"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    status: Status
    work_items: tuple[str, ...] = ()  # error work item codes it should open, one per item, sorted
    duplicate_of: int | None = None  # index (in its day) of the message it repeats


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    channel: Channel
    kind: Kind
    facility: str  # facility code (facilities.yaml); "" for a payer's 835 that pays several
    at: datetime  # when it is sent, local time
    payload: bytes
    expect: Expectation

    @property
    def format(self) -> str:
        return self.channel.format_name


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    kind: FaultKind
    facility: str
    messages: tuple[int, ...] = ()  # indexes (in its day) of the messages where it surfaces
    surfaces: str  # where it should surface, in words
    code: str = ""  # the work item code it should open ("" for duplicates and the outage)
    value: str = ""  # the unmapped value as sent
    held_back: Decimal = Decimal(0)  # charges it keeps from posting
    start: datetime | None = None  # the ERP outage window (the demo runner applies it)
    end: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    facility: str
    day: date | None  # business date = journal posting date; None in totals of a whole run
    charges: Decimal = Decimal(0)
    credits: Decimal = Decimal(0)
    held_back: Decimal = Decimal(0)
    billed: Decimal = Decimal(0)  # claim totals sent (837 CLM02, FHIR Claim.total)
    remitted: Decimal = Decimal(0)
    claims_paid: Decimal = Decimal(0)
    contractual: Decimal = Decimal(0)
    denied: Decimal = Decimal(0)
    patient_share: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)  # PLB L6, as a positive amount
    recouped: Decimal = Decimal(0)  # PLB WO
    notification_only: int = 0
    patient_payments: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)

    @property
    def posted_revenue(self) -> Decimal:
        """Gross revenue the charges should post: charges - credits - held back."""
        return self.charges - self.credits - self.held_back

    @property
    def cash(self) -> Decimal:
        """Net cash clearing: remittances and patient payments in, refunds out."""
        return self.remitted + self.patient_payments - self.refunds


AMOUNTS = tuple(f.name for f in fields(Totals) if f.name not in ("facility", "day"))


class Tally:
    """Totals as they accumulate while a day is generated (frozen into ``Totals`` at the end)."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, date | None], dict[str, Any]] = {}

    def add(self, facility: str, day: date | None, **amounts: Decimal | int) -> None:
        row = self._sums.setdefault((facility, day), {})
        for name, value in amounts.items():
            row[name] = row.get(name, 0) + value

    def freeze(self) -> tuple[Totals, ...]:
        return tuple(
            replace(Totals(facility=facility, day=day), **row)
            for (facility, day), row in sorted(self._sums.items())
        )


def merge(rows: tuple[Totals, ...]) -> tuple[Totals, ...]:
    """Totals of the same facility and date (sent on different days) added together."""
    tally = Tally()
    for row in rows:
        tally.add(row.facility, row.day, **{name: getattr(row, name) for name in AMOUNTS})
    return tally.freeze()


@dataclass(frozen=True, slots=True, kw_only=True)
class Day:
    day: date
    messages: tuple[Message, ...]  # in the order they are sent; indexes are what faults name
    totals: tuple[Totals, ...]  # of the messages sent this day, per facility and business date
    faults: tuple[Fault, ...]

    def counts(self) -> Counter[tuple[str, str]]:
        """Messages by channel and kind."""
        return Counter((m.channel.value, m.kind.value) for m in self.messages)

    def statuses(self) -> Counter[str]:
        return Counter(m.expect.status.value for m in self.messages)

    def work_items(self) -> Counter[str]:
        return Counter(code for m in self.messages for code in m.expect.work_items)


@dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    start: date
    seed: int
    scale: float
    days: tuple[Day, ...]

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(m for d in self.days for m in d.messages)

    @property
    def faults(self) -> tuple[Fault, ...]:
        return tuple(f for d in self.days for f in d.faults)

    def totals(self) -> tuple[Totals, ...]:
        return merge(tuple(t for d in self.days for t in d.totals))

    def by_facility(self) -> dict[str, Totals]:
        """The whole run per facility, every business date added up (``day`` is None)."""
        tally = Tally()
        for row in self.totals():
            tally.add(row.facility, None, **{name: getattr(row, name) for name in AMOUNTS})
        return {row.facility: row for row in tally.freeze()}

    def counts(self) -> Counter[tuple[str, str]]:
        return sum((d.counts() for d in self.days), Counter())

    def statuses(self) -> Counter[str]:
        return sum((d.statuses() for d in self.days), Counter())

    def work_items(self) -> Counter[str]:
        return sum((d.work_items() for d in self.days), Counter())

    def summary(self) -> dict[str, object]:
        """The ground truth as plain JSON-ready data (amounts as decimal strings)."""
        return {
            "start": self.start.isoformat(),
            "days": len(self.days),
            "seed": self.seed,
            "scale": self.scale,
            "messages": len(self.messages),
            "by_channel_and_kind": {f"{c} {k}": n for (c, k), n in sorted(self.counts().items())},
            "by_status": dict(sorted(self.statuses().items())),
            "work_items": dict(sorted(self.work_items().items())),
            "faults": [
                {
                    "kind": f.kind.value,
                    "facility": f.facility,
                    "surfaces": f.surfaces,
                    "code": f.code,
                    "value": f.value,
                    "held_back": str(f.held_back),
                    "window": [f.start.isoformat(), f.end.isoformat()] if f.start and f.end else None,
                }
                for f in self.faults
            ],
            "totals": [
                {"facility": t.facility, "day": str(t.day), **{n: str(getattr(t, n)) for n in AMOUNTS}}
                for t in self.totals()
            ],
        }
