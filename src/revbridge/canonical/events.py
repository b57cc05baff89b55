"""Canonical events (DESIGN.md section 3).

Every event carries:
- ``key``: its business idempotency key, unique in the store (DFT: sending facility + FT1
  transaction id; 835: payer + TRN02 + CLP01 + CLP07 + CLP02 + occurrence);
- ``source``: the stored message and the locator of the segment it came from;
- ``occurred_on``: the business date (service date, payment date);
- ``facility``: the facility *as sent* (MSH-4, PV1-3.4, the 835 payee NPI, a FHIR provider
  reference); master data maps it to a facility code and legal entity. Formats never guess.

Patients appear only as ``PatientToken``. Values that master data maps (department, payer id,
adjustment reason) are kept as sent. Money is ``Money``; signs are as the sender meant them and
each field documents its convention. Nothing else lives in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money

# ---- parts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    payer_id: str  # as sent (IN1-3 / Coverage.payor); mapped to a payer class by master data
    plan: str = ""
    priority: int = 1  # 1 = primary
    member: PatientToken | None = None  # tokenised member id


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimLine:
    line_number: int
    procedure: str = ""  # CPT/HCPCS/NDC as sent, modifiers joined with ":"
    revenue_code: str = ""
    charge: Money
    units: Decimal = Decimal(1)
    service_date: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CasAdjustment:
    """One adjustment triple of a CAS segment (or a FHIR adjudication). Positive reduces payment."""

    group: str  # CO, PR, OA, PI, CR
    reason: str  # CARC
    amount: Money
    quantity: Decimal | None = None
    locator: str = ""  # "ST[1]/2100[2]/2110[1]/CAS[1]-2"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceLinePayment:
    procedure: str  # SVC01 composite, as "HC:99213:26"
    charge: Money  # SVC02
    paid: Money  # SVC03
    units: Decimal | None = None  # SVC05
    revenue_code: str = ""  # SVC04
    service_date: date | None = None
    adjustments: tuple[CasAdjustment, ...] = ()
    locator: str = ""


# ---- context events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterRegistered:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    encounter: str  # PV1-19 visit number / Encounter.id
    patient: PatientToken
    guarantor: PatientToken | None = None
    patient_class: str = ""  # PV1-2: I, O, E, ...
    department: str = ""  # PV1-10 hospital service or the point of care, as sent
    admitted_on: date | None = None
    discharged_on: date | None = None
    coverages: tuple[Coverage, ...] = ()
    trigger: str = ""  # A01, A04, A05, P01, Encounter


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterUpdated:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    encounter: str
    patient: PatientToken
    guarantor: PatientToken | None = None
    patient_class: str = ""
    department: str = ""
    admitted_on: date | None = None
    discharged_on: date | None = None
    coverages: tuple[Coverage, ...] = ()
    trigger: str = ""  # A08, A03, A13


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterCancelled:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    encounter: str
    patient: PatientToken
    trigger: str = ""  # A11


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageUpdated:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    patient: PatientToken
    encounter: str = ""
    coverages: tuple[Coverage, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentPlanUpdated:
    """A patient payment plan was set up or changed (portal). Context only: it posts nothing."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    plan_id: str
    patient: PatientToken
    encounter: str = ""
    total: Money
    installments: int = 0
    status: str = "active"


# ---- posting events ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeCaptured:
    key: str
    source: SourceRef
    occurred_on: date  # the service date (FT1-4)
    facility: str
    charge_id: str  # FT1-2 transaction id / ChargeItem.id
    encounter: str
    patient: PatientToken | None = None
    department: str  # FT1-13 as sent
    procedure: str = ""  # FT1-25 or FT1-7
    revenue_code: str = ""
    quantity: Decimal = Decimal(1)
    amount: Money  # extended amount, positive


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeReversed:
    """A charge credit (FT1-6 CD, a negative quantity, ChargeItem entered-in-error)."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    charge_id: str
    original_charge_id: str = ""  # the charge it reverses, when the sender names it
    encounter: str
    patient: PatientToken | None = None
    department: str
    procedure: str = ""
    revenue_code: str = ""
    quantity: Decimal = Decimal(1)  # positive magnitude
    amount: Money  # positive: the revenue removed


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimSubmitted:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    claim_id: str  # CLM01 / Claim.id
    payer_id: str
    patient: PatientToken | None = None
    claim_type: str = ""  # professional, institutional, pharmacy, oral
    frequency: str = "1"  # CLM05-3: 1 original, 7 replacement, 8 void
    total: Money  # CLM02 / Claim.total
    lines: tuple[ClaimLine, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RemittanceReceived:
    key: str
    source: SourceRef
    occurred_on: date  # payment date (BPR16)
    facility: str  # payee as sent (N1*PE identification)
    remittance_id: str  # payer + TRN02
    payer_id: str  # TRN03 / N1*PR identification
    payer_name: str = ""
    trace: str = ""  # TRN02, the EFT/check trace number
    handling: str = ""  # BPR01: C, D, H, I, P, U, X
    method: str = ""  # BPR04: ACH, CHK, FWT, BOP, NON
    amount: Money  # BPR02
    carries_cash: bool = True  # False for notification-only (BPR01 = H)
    claim_count: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimAdjudicated:
    """One CLP loop (or a ClaimResponse/EOB). Amounts are signed as sent: a reversal
    (status 22) carries negative charge, paid and adjustments."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    remittance_id: str
    payer_id: str
    claim_id: str  # CLP01 patient control number
    payer_claim_id: str = ""  # CLP07
    status: str  # CLP02
    patient: PatientToken | None = None
    charge: Money  # CLP03
    paid: Money  # CLP04
    patient_responsibility: Money  # CLP05
    adjustments: tuple[CasAdjustment, ...] = ()  # claim- and service-level, every triple
    lines: tuple[ServiceLinePayment, ...] = ()
    occurrence: int = 1  # the n-th CLP with the same key parts in this transaction

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAdjustment:
    """One PLB adjustment pair. Positive amounts reduce the payment (recoupment), negative ones
    increase it (interest)."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    remittance_id: str
    payer_id: str
    reason: str  # PLB03-1: L6, WO, FB, 72, CS, ...
    reference: str = ""  # PLB03-2
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientPaymentReceived:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    payment_id: str
    encounter: str = ""
    patient: PatientToken | None = None
    method: str = ""  # card, ach, cash, check
    amount: Money  # positive


@dataclass(frozen=True, slots=True, kw_only=True)
class RefundIssued:
    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    refund_id: str
    recipient: str = "patient"  # patient | payer
    payer_id: str = ""
    encounter: str = ""
    patient: PatientToken | None = None
    original_payment_id: str = ""
    amount: Money  # positive: cash going out


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjustmentPosted:
    """A patient-accounting adjustment (DFT FT1-6 AJ, FHIR): charity, bad debt, small balance..."""

    key: str
    source: SourceRef
    occurred_on: date
    facility: str
    adjustment_id: str
    encounter: str = ""
    patient: PatientToken | None = None
    code: str  # the transaction code as sent (FT1-7); master data maps it to a category
    category: str = ""  # when the sender states the category itself
    against: str = "patient"  # patient | payer: which receivable it reduces
    department: str = ""
    amount: Money  # positive reduces the receivable


ContextEvent = (
    EncounterRegistered | EncounterUpdated | EncounterCancelled | CoverageUpdated | PaymentPlanUpdated
)
PostingEvent = (
    ChargeCaptured
    | ChargeReversed
    | ClaimSubmitted
    | RemittanceReceived
    | ClaimAdjudicated
    | ProviderAdjustment
    | PatientPaymentReceived
    | RefundIssued
    | AdjustmentPosted
)
CanonicalEvent = ContextEvent | PostingEvent

EVENT_TYPES: dict[str, type[CanonicalEvent]] = {
    cls.__name__: cls
    for cls in (
        EncounterRegistered,
        EncounterUpdated,
        EncounterCancelled,
        CoverageUpdated,
        PaymentPlanUpdated,
        ChargeCaptured,
        ChargeReversed,
        ClaimSubmitted,
        RemittanceReceived,
        ClaimAdjudicated,
        ProviderAdjustment,
        PatientPaymentReceived,
        RefundIssued,
        AdjustmentPosted,
    )
}
