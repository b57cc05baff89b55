"""Builders for canonical events in posting-rule tests; amounts are text, read as exact Decimals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from revbridge.canonical.events import (
    AdjustmentPosted,
    CasAdjustment,
    ChargeCaptured,
    ChargeReversed,
    ClaimAdjudicated,
    PatientPaymentReceived,
    ProviderAdjustment,
    RefundIssued,
    RemittanceReceived,
)
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.ledger.journal import JournalDraft

DAY = date(2024, 3, 15)
MEDICARE_TRN03 = "1512345678"  # MEDICARE-A in the reference configuration
HOPE_NPI = "6543210903"  # MHN-HOPE
STJ_NPI = "5544667733"  # MHN-STJ


def usd(value: str) -> Money:
    return Money.of(value, "USD")


def remittance(
    amount: str,
    *,
    payer: str = MEDICARE_TRN03,
    facility: str = HOPE_NPI,
    cash: bool = True,
    trace: str = "TRACE1",
    currency: str = "USD",
) -> RemittanceReceived:
    return RemittanceReceived(
        key=f"x12:835:{payer}:{trace}",
        source=SourceRef("msg-1", "ST[1]"),
        occurred_on=DAY,
        facility=facility,
        remittance_id=f"{payer}:{trace}",
        payer_id=payer,
        trace=trace,
        handling="I" if cash else "H",
        amount=Money.of(amount, currency),
        carries_cash=cash,
    )


def claim(
    n: int,
    status: str,
    charge: str,
    paid: str,
    *adjustments: tuple[str, str, str],
    payer: str = MEDICARE_TRN03,
    facility: str = HOPE_NPI,
    trace: str = "TRACE1",
    claim_id: str = "",
) -> ClaimAdjudicated:
    cas = tuple(
        CasAdjustment(group=g, reason=r, amount=usd(a), locator=f"ST[1]/2100[{n}]/CAS[{i}]")
        for i, (g, r, a) in enumerate(adjustments, start=1)
    )
    responsibility = sum((Decimal(a) for g, _r, a in adjustments if g == "PR"), Decimal(0))
    cid = claim_id or f"CLAIM{n}"
    return ClaimAdjudicated(
        key=f"x12:835:{payer}:{trace}:{cid}:PCN{n}:{status}:1",
        source=SourceRef("msg-1", f"ST[1]/2100[{n}]"),
        occurred_on=DAY,
        facility=facility,
        remittance_id=f"{payer}:{trace}",
        payer_id=payer,
        claim_id=cid,
        payer_claim_id=f"PCN{n}",
        status=status,
        patient=PatientToken("pt_sentinel_token"),
        charge=usd(charge),
        paid=usd(paid),
        patient_responsibility=Money(responsibility, "USD"),
        adjustments=cas,
    )


def plb(
    n: int,
    reason: str,
    amount: str,
    *,
    payer: str = MEDICARE_TRN03,
    facility: str = HOPE_NPI,
    trace: str = "TRACE1",
) -> ProviderAdjustment:
    return ProviderAdjustment(
        key=f"x12:835:{payer}:{trace}:PLB:{n}",
        source=SourceRef("msg-1", f"ST[1]/PLB[1]-{n}"),
        occurred_on=DAY,
        facility=facility,
        remittance_id=f"{payer}:{trace}",
        payer_id=payer,
        reason=reason,
        amount=usd(amount),
    )


def worked_era() -> list[RemittanceReceived | ClaimAdjudicated | ProviderAdjustment]:
    """DESIGN.md section 5 / revenue-accounting C.4: one Medicare ERA at facility F01."""
    return [
        remittance("595.25"),
        claim(
            1,
            "1",
            "1250.00",
            "650.00",
            ("CO", "45", "450.00"),
            ("PR", "1", "100.00"),
            ("PR", "2", "50.00"),
            claim_id="A",
        ),
        claim(2, "22", "-300.00", "-200.00", ("CO", "45", "-100.00"), claim_id="B"),
        claim(3, "1", "300.00", "180.00", ("CO", "45", "120.00"), claim_id="B"),
        plb(1, "L6", "-5.25"),
        plb(2, "WO", "40.00"),
    ]


def charge(
    n: int,
    amount: str,
    *,
    department: str = "RAD",
    encounter: str = "V100",
    facility: str = "NCA",
    currency: str = "USD",
) -> ChargeCaptured:
    return ChargeCaptured(
        key=f"hl7v2:{facility}:T{n}",
        source=SourceRef("msg-2", f"FT1[{n}]"),
        occurred_on=DAY,
        facility=facility,
        charge_id=f"T{n}",
        encounter=encounter,
        department=department,
        procedure="71046",
        amount=Money.of(amount, currency),
    )


def charge_reversal(
    n: int,
    amount: str,
    *,
    original: str,
    department: str = "",
    facility: str = "NCA",
    encounter: str = "V100",
) -> ChargeReversed:
    return ChargeReversed(
        key=f"hl7v2:{facility}:R{n}",
        source=SourceRef("msg-3", f"FT1[{n}]"),
        occurred_on=DAY,
        facility=facility,
        charge_id=f"R{n}",
        original_charge_id=original,
        encounter=encounter,
        department=department,
        amount=usd(amount),
    )


def patient_payment(amount: str, *, facility: str = "STJ") -> PatientPaymentReceived:
    return PatientPaymentReceived(
        key=f"portal:{facility}:P1",
        source=SourceRef("msg-4", "payments[0]"),
        occurred_on=DAY,
        facility=facility,
        payment_id="P1",
        patient=PatientToken("pt_sentinel_token"),
        method="card",
        amount=usd(amount),
    )


def refund(
    amount: str, *, recipient: str = "patient", payer: str = "", facility: str = "STJ"
) -> RefundIssued:
    return RefundIssued(
        key=f"portal:{facility}:RF1",
        source=SourceRef("msg-5", "refunds[0]"),
        occurred_on=DAY,
        facility=facility,
        refund_id="RF1",
        recipient=recipient,
        payer_id=payer,
        amount=usd(amount),
    )


def adjustment(
    amount: str,
    *,
    code: str = "CHARITY",
    category: str = "",
    against: str = "patient",
    department: str = "",
    encounter: str = "V100",
    facility: str = "NCA",
) -> AdjustmentPosted:
    return AdjustmentPosted(
        key=f"hl7v2:{facility}:AJ1",
        source=SourceRef("msg-6", "FT1[1]"),
        occurred_on=DAY,
        facility=facility,
        adjustment_id="AJ1",
        encounter=encounter,
        code=code,
        category=category,
        against=against,
        department=department,
        amount=usd(amount),
    )


def net_by_role(drafts: tuple[JournalDraft, ...] | list[JournalDraft]) -> dict[str, Decimal]:
    """Debit-positive net per account role over all lines."""
    nets: dict[str, Decimal] = {}
    for draft in drafts:
        for line in draft.lines:
            nets[line.role.value] = nets.get(line.role.value, Decimal(0)) + line.net.amount
    return {role: amount for role, amount in nets.items() if amount != 0}
