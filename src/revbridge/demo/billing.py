"""What happens to a visit after discharge: its claim, the payer's adjudication, the patient's money.

Adjudication is exact cent arithmetic built to balance the way an 835 must (TR3 1.10.2.1): per
service line the allowed amount is the charge times the payer's allowed share (rounded half to
even), CO-45 is the rest, and the patient's share (PR-1 deductible, PR-3 copay, PR-2 coinsurance)
is allocated line by line out of the allowed amount, so charge - adjustments = paid holds per line
and therefore per claim. A denial (CO-50, CO-197, CO-16) takes a whole claim. A replaced claim is
reversed (CLP02 = 22, every amount negated) and paid again as corrected, with the same patient
share, so the patient's side never changes after the first remittance.

The patient's side (patient.py) follows from the first remittance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from revbridge.demo.draw import Draw
from revbridge.demo.encounter import Charge, Visit, round_cents
from revbridge.demo.patient import PatientMoney, patient_money
from revbridge.demo.system import Facility, Payer

ZERO = Decimal(0)
DENIALS = ("50", "197", "16")  # not medically necessary, no authorization, missing information


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    visit: Visit
    frequency: str  # CLM05-3: 1 original, 7 replacement
    billed_at: datetime
    lines: tuple[Charge, ...]

    @property
    def claim_id(self) -> str:
        return self.visit.number

    @property
    def institutional(self) -> bool:
        return self.visit.timeline.patient_class in ("I", "E")

    @property
    def total(self) -> Decimal:
        return sum((c.amount for c in self.lines), ZERO)

    @property
    def payer(self) -> Payer:
        payer = self.visit.timeline.payer
        assert payer is not None, "only covered visits are billed"
        return payer

    @property
    def by_fhir(self) -> bool:
        """Claimed and remitted by FHIR: the FHIR payer at a facility that sends FHIR."""
        return bool(self.payer.fhir and self.visit.facility.fhir)


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjustment:
    group: str  # CO, PR
    reason: str  # CARC
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LinePayment:
    charge: Charge
    amount: Decimal  # the line's charge as adjudicated (negative in a reversal)
    adjustments: tuple[Adjustment, ...]
    paid: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjudication:
    claim: Claim
    status: str  # CLP02: 1 processed as primary, 22 reversal of a previous payment
    payer_claim_id: str  # CLP07
    paid_on: date
    lines: tuple[LinePayment, ...]
    ratio: Decimal  # the allowed share applied
    shares: tuple[Decimal, Decimal, Decimal]  # deductible, copay, coinsurance

    def _sum(self, group: str, *, denial: bool | None = None) -> Decimal:
        return sum(
            (
                a.amount
                for line in self.lines
                for a in line.adjustments
                if a.group == group and (denial is None or (a.reason in DENIALS) == denial)
            ),
            ZERO,
        )

    @property
    def charge(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), ZERO)

    @property
    def patient_share(self) -> Decimal:
        return self._sum("PR")

    @property
    def contractual(self) -> Decimal:
        return self._sum("CO", denial=False)

    @property
    def denied(self) -> Decimal:
        return self._sum("CO", denial=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    claim: Claim | None
    replacement: Claim | None
    adjudication: Adjudication | None
    reversal: Adjudication | None
    corrected: Adjudication | None
    patient: tuple[PatientMoney, ...]  # the patient's payments, refunds and plans


def _ratio(rng: Draw, payer: Payer) -> Decimal:
    low, high = (int(x * 1000) for x in payer.allowed)
    return Decimal(rng.between(low, high)).scaleb(-3)


def _shares(claim: Claim, rng: Draw, allowed: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Deductible, copay and coinsurance of a claim. The FHIR payer states no coinsurance: R4's
    adjudication codes have none (Blue Button's and CARIN's are not ours to borrow)."""
    payer, patient_class = claim.payer, claim.visit.timeline.patient_class
    deductible = ZERO
    if rng.chance(payer.deductible):
        low, high = (200, 1600) if patient_class == "I" else (50, 500)
        deductible = min(Decimal(rng.between(low * 100, high * 100)).scaleb(-2), allowed)
    copay = min(payer.copay, allowed - deductible) if patient_class != "I" else ZERO
    rate = ZERO if claim.by_fhir else payer.coinsurance
    return deductible, copay, round_cents((allowed - deductible - copay) * rate)


def _lines(claim: Claim, ratio: Decimal, shares: tuple[Decimal, Decimal, Decimal]) -> list[LinePayment]:
    remaining = {"1": shares[0], "3": shares[1], "2": shares[2]}
    found = []
    for charge in claim.lines:
        allowed = round_cents(charge.amount * ratio)
        adjustments = [Adjustment(group="CO", reason="45", amount=charge.amount - allowed)]
        left = allowed
        for reason in ("1", "3", "2"):  # deductible first, then copay, then coinsurance
            take = min(remaining[reason], left)
            remaining[reason] -= take
            left -= take
            adjustments.append(Adjustment(group="PR", reason=reason, amount=take))
        kept = tuple(a for a in adjustments if a.amount)
        found.append(LinePayment(charge=charge, amount=charge.amount, adjustments=kept, paid=left))
    assert not any(remaining.values()), "patient shares never exceed the allowed amount"
    return found


def adjudicate(
    rng: Draw,
    claim: Claim,
    paid_on: date,
    payer_claim_id: str,
    *,
    may_deny: bool,
    like: Adjudication | None = None,
) -> Adjudication:
    """The payer's decision on ``claim``; ``like`` is the adjudication a corrected claim repeats
    (same allowed share, same patient share)."""
    denial = rng.pick(DENIALS) if rng.chance(0.04) else ""
    ratio = like.ratio if like is not None else _ratio(rng, claim.payer)
    if denial and may_deny and like is None:
        lines = tuple(
            LinePayment(
                charge=c,
                amount=c.amount,
                adjustments=(Adjustment(group="CO", reason=denial, amount=c.amount),),
                paid=ZERO,
            )
            for c in claim.lines
        )
        shares = (ZERO, ZERO, ZERO)
    else:
        allowed = sum((round_cents(c.amount * ratio) for c in claim.lines), ZERO)
        shares = like.shares if like is not None else _shares(claim, rng, allowed)
        lines = tuple(_lines(claim, ratio, shares))
    return Adjudication(
        claim=claim,
        status="1",
        payer_claim_id=payer_claim_id,
        paid_on=paid_on,
        lines=lines,
        ratio=ratio,
        shares=shares,
    )


def reverse(original: Adjudication, paid_on: date) -> Adjudication:
    lines = tuple(
        LinePayment(
            charge=line.charge,
            amount=-line.amount,
            adjustments=tuple(
                Adjustment(group=a.group, reason=a.reason, amount=-a.amount) for a in line.adjustments
            ),
            paid=-line.paid,
        )
        for line in original.lines
    )
    return Adjudication(
        claim=original.claim,
        status="22",
        payer_claim_id=original.payer_claim_id,
        paid_on=paid_on,
        lines=lines,
        ratio=original.ratio,
        shares=original.shares,
    )


def settle(rng: Draw, visit: Visit) -> Settlement:
    """Claims, adjudications and patient money of one visit, drawn from its stream after ``visit``."""
    line = visit.timeline
    payer = line.payer
    claim = replacement = None
    adjudication = reversal = corrected = None
    if payer is not None and line.billed_at is not None and line.paid_on is not None:
        credited = visit.credited
        billed = [c for b in visit.batches if not b.after_billing for c in b.lines if not c.credit]
        claim = Claim(
            visit=visit,
            frequency="1",
            billed_at=line.billed_at,
            lines=tuple(c for c in billed if c.transaction_id not in credited),
        )
        prefix = payer.isa_id[:3]
        adjudication = adjudicate(
            rng,
            claim,
            line.paid_on,
            f"{prefix}{claim.claim_id}1",
            may_deny=not claim.by_fhir and line.rebilled_at is None,
        )
        if line.rebilled_at is not None and line.repaid_on is not None:
            late = [c for b in visit.batches if b.after_billing for c in b.lines]
            replacement = Claim(
                visit=visit, frequency="7", billed_at=line.rebilled_at, lines=claim.lines + tuple(late)
            )
            reversal = reverse(adjudication, line.repaid_on)
            corrected = adjudicate(
                rng,
                replacement,
                line.repaid_on,
                f"{prefix}{claim.claim_id}2",
                may_deny=False,
                like=adjudication,
            )
    return Settlement(
        claim=claim,
        replacement=replacement,
        adjudication=adjudication,
        reversal=reversal,
        corrected=corrected,
        patient=tuple(patient_money(rng, visit, adjudication)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderAdjustment:
    """A PLB adjustment pair; positive reduces the payment (recoupment), negative adds (interest)."""

    reason: str  # L6 interest, WO overpayment recovery
    reference: str
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Remittance:
    """One payment from one payer to one facility: an 835 transaction set or a FHIR
    PaymentReconciliation with its ClaimResponses."""

    payer: Payer
    facility: Facility
    paid_on: date
    trace: str  # TRN02 / paymentIdentifier
    claims: tuple[Adjudication, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def amount(self) -> Decimal:
        paid = sum((c.paid for c in self.claims), ZERO)
        return paid - sum((p.amount for p in self.provider_adjustments), ZERO)

    @property
    def carries_cash(self) -> bool:
        """A remittance of denials only pays nothing: BPR01 = H, notification only."""
        return self.amount != 0


def provider_adjustments(rng: Draw, claims: tuple[Adjudication, ...]) -> tuple[ProviderAdjustment, ...]:
    """Interest on a late claim (L6, negative) and an overpayment recovery (WO) now and then,
    never so large that the payment would not be positive."""
    paid = sum((c.paid for c in claims), ZERO)
    found = []
    if paid > 0 and rng.chance(0.25):
        claim = rng.pick(claims)
        interest = Decimal(rng.between(50, 3500)).scaleb(-2)
        found.append(ProviderAdjustment(reason="L6", reference=claim.claim.claim_id, amount=-interest))
    if paid > 500 and rng.chance(0.12):
        recovered = Decimal(rng.between(4000, min(40000, int(paid * 50)))).scaleb(-2)
        reference = f"OVP{rng.between(100000, 999999)}"
        found.append(ProviderAdjustment(reason="WO", reference=reference, amount=recovered))
    return tuple(found)
