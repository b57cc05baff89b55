"""The 835 reader's working state: the header as it fills in, and the claim and line being read.

These are mutable on purpose and never leave the x12 package: a draft becomes a frozen canonical
event (``ClaimAdjudicated``, ``ServiceLinePayment``) the moment its loop closes and balances.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from revbridge.canonical.events import CasAdjustment, ClaimAdjudicated, ServiceLinePayment
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money

_ZERO = Decimal(0)


class RemittanceHeader:
    """BPR, TRN, DTM*405 and the two N1 loops of one 835."""

    def __init__(self, *, received_on: date) -> None:
        self.received_on = received_on
        self.seen_bpr = False
        self.handling = ""  # BPR01
        self.amount: Money | None = None  # BPR02
        self.method = ""  # BPR04
        self.bpr16 = ""
        self.paid_on: date | None = None  # BPR16
        self.produced_on: date | None = None  # DTM*405
        self.trace = ""  # TRN02
        self.originator = ""  # TRN03
        self.payer_name = ""  # 1000A N102
        self.payer_n1 = ""  # 1000A N104
        self.payee = ""  # 1000B N104, the facility as sent

        # Fixed by settle() when the header is over; every event of the transaction shares them.
        self.payer_id = ""
        self.remittance_id = ""
        self.key = ""
        self.occurred_on = received_on

    def settle(self) -> None:
        self.payer_id = self.originator or self.payer_n1
        self.remittance_id = f"{self.payer_id}:{self.trace}"
        self.key = f"x12:835:{self.payer_id}:{self.trace}"
        self.occurred_on = self.paid_on or self.produced_on or self.received_on


class LineDraft:
    __slots__ = (
        "adjustments",
        "cas_total",
        "charge",
        "paid",
        "procedure",
        "revenue_code",
        "service_date",
        "units",
        "where",
    )

    def __init__(
        self,
        where: str,
        procedure: str,
        charge: Money | None,
        paid: Money | None,
        revenue_code: str,
        units: Decimal | None,
    ) -> None:
        self.where = where
        self.procedure = procedure
        self.charge = charge
        self.paid = paid
        self.revenue_code = revenue_code
        self.units = units
        self.service_date: date | None = None
        self.adjustments: list[CasAdjustment] = []
        self.cas_total = _ZERO

    def to_payment(self) -> ServiceLinePayment:
        assert self.charge is not None
        assert self.paid is not None
        return ServiceLinePayment(
            procedure=self.procedure,
            charge=self.charge,
            paid=self.paid,
            units=self.units,
            revenue_code=self.revenue_code,
            service_date=self.service_date,
            adjustments=tuple(self.adjustments),
            locator=self.where,
        )


class ClaimDraft:
    __slots__ = (
        "adjustments",
        "cas_total",
        "charge",
        "clp01",
        "insured",
        "lines",
        "lines_n",
        "paid",
        "patient",
        "payer_claim_id",
        "responsibility",
        "status",
        "where",
    )

    def __init__(
        self,
        where: str,
        clp01: str,
        status: str,
        payer_claim_id: str,
        charge: Money | None,
        paid: Money | None,
        responsibility: Money,
    ) -> None:
        self.where = where
        self.clp01 = clp01
        self.status = status
        self.payer_claim_id = payer_claim_id
        self.charge = charge
        self.paid = paid
        self.responsibility = responsibility
        self.patient: PatientToken | None = None  # NM1*QC identification, tokenised
        self.insured: PatientToken | None = None  # NM1*IL identification, tokenised
        self.adjustments: list[CasAdjustment] = []  # claim-level and line-level, in file order
        self.lines: list[ServiceLinePayment] = []
        self.lines_n = 0
        self.cas_total = _ZERO  # claim-level and line-level

    def to_event(
        self, head: RemittanceHeader, source: SourceRef, key: str, occurrence: int
    ) -> ClaimAdjudicated:
        assert self.charge is not None
        assert self.paid is not None
        return ClaimAdjudicated(
            key=key,
            source=source,
            occurred_on=head.occurred_on,
            facility=head.payee,
            remittance_id=head.remittance_id,
            payer_id=head.payer_id,
            claim_id=self.clp01,
            payer_claim_id=self.payer_claim_id,
            status=self.status,
            patient=self.patient or self.insured,
            charge=self.charge,
            paid=self.paid,
            patient_responsibility=self.responsibility,
            adjustments=tuple(self.adjustments),
            lines=tuple(self.lines),
            occurrence=occurrence,
        )
