"""The rulebook: per event kind, which lines to produce, by account role, in which lane, carrying
which dimensions (DESIGN.md section 5). It is configuration, versioned with the master data, so
it lives here; ``rules.apply`` reads it.

Each event kind has a fixed set of line slots (``SLOTS``): the amounts an event of that kind
has to post. A slot names its account role, except where the role comes from a code map (a CAS
adjustment's CARC category, a PLB reason, a patient-accounting adjustment category). The loader
checks slot names, roles and dimensions against this table, so a rulebook cannot name a line the
engine does not know how to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from revbridge.ledger.journal import Lane
from revbridge.ledger.role import AccountRole


class Dimension(StrEnum):
    FACILITY = "facility"
    COST_CENTER = "cost_center"
    PAYER_CLASS = "payer_class"
    SERVICE_LINE = "service_line"


class EventKind(StrEnum):
    CHARGE = "charge"
    CHARGE_REVERSAL = "charge_reversal"
    REMITTANCE = "remittance"
    PATIENT_PAYMENT = "patient_payment"
    PATIENT_REFUND = "patient_refund"
    PAYER_REFUND = "payer_refund"
    ADJUSTMENT = "adjustment"
    CLAIM_SUBMITTED = "claim_submitted"


@dataclass(frozen=True, slots=True)
class SlotShape:
    mapped: bool  # True: the role comes from a code map, the rulebook must not name one
    dimensions: frozenset[Dimension]  # the dimensions an event of this kind can fill
    required: bool = True


_ALL = frozenset(Dimension)
_NO_DEPARTMENT = frozenset({Dimension.FACILITY, Dimension.PAYER_CLASS})

SLOTS: dict[EventKind, dict[str, SlotShape]] = {
    EventKind.CHARGE: {"debit": SlotShape(False, _ALL), "credit": SlotShape(False, _ALL)},
    EventKind.CHARGE_REVERSAL: {"debit": SlotShape(False, _ALL), "credit": SlotShape(False, _ALL)},
    EventKind.REMITTANCE: {
        "cash": SlotShape(False, _NO_DEPARTMENT),  # Dr BPR02
        "receivable": SlotShape(False, _NO_DEPARTMENT),  # Cr paid + mapped adjustments, per claim
        "adjustment": SlotShape(True, _NO_DEPARTMENT),  # Dr the CARC category's role
        "provider_adjustment": SlotShape(True, _NO_DEPARTMENT),  # Dr the PLB reason's role
    },
    EventKind.PATIENT_PAYMENT: {
        "debit": SlotShape(False, _NO_DEPARTMENT),
        "credit": SlotShape(False, _NO_DEPARTMENT),
    },
    EventKind.PATIENT_REFUND: {
        "debit": SlotShape(False, _NO_DEPARTMENT),
        "credit": SlotShape(False, _NO_DEPARTMENT),
    },
    EventKind.PAYER_REFUND: {
        "debit": SlotShape(False, _NO_DEPARTMENT),
        "credit": SlotShape(False, _NO_DEPARTMENT),
    },
    EventKind.ADJUSTMENT: {
        "debit": SlotShape(True, _ALL),  # the adjustment category's role
        "credit_patient": SlotShape(False, _ALL),
        "credit_payer": SlotShape(False, _ALL),
    },
    # No lines by default (claim status lives in the PAS); both slots together configure the
    # unbilled -> billed reclass of revenue-accounting C.3 #4.
    EventKind.CLAIM_SUBMITTED: {
        "debit": SlotShape(False, _NO_DEPARTMENT, required=False),
        "credit": SlotShape(False, _NO_DEPARTMENT, required=False),
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineSpec:
    role: AccountRole | None  # None for mapped slots
    dimensions: frozenset[Dimension]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRule:
    kind: EventKind
    lane: Lane
    slots: tuple[tuple[str, LineSpec], ...]  # sorted by slot name

    def slot(self, name: str) -> LineSpec:
        for slot, spec in self.slots:
            if slot == name:
                return spec
        raise KeyError(f"{self.kind} has no slot {name!r}")

    def has(self, name: str) -> bool:
        return any(slot == name for slot, _spec in self.slots)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rulebook:
    rules: tuple[EventRule, ...]  # one per EventKind, sorted by kind
    # Lines with these roles carry the self-pay payer class whatever the event's payer: a patient
    # receivable is the patient's, even when a payer's remittance moved the balance there.
    patient_roles: frozenset[AccountRole]

    def rule(self, kind: EventKind) -> EventRule:
        for rule in self.rules:
            if rule.kind is kind:
                return rule
        raise KeyError(f"the rulebook has no rule for {kind}")
