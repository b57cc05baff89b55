"""The patient's money: point-of-service copays, statement payments, payment plans and refunds.

It follows the first remittance (billing.py): a point-of-service copay larger than the final
patient share is refunded; a balance is paid in full, in part, or through a payment plan whose
first installment arrives with it; some balances are simply not paid within the horizon. A
self-pay visit's statement is its whole bill. Every amount is in cents, as the portal sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from revbridge.demo.draw import Draw
from revbridge.demo.encounter import Visit, round_cents

if TYPE_CHECKING:
    from revbridge.demo.billing import Adjudication

ZERO = Decimal(0)
METHODS = (("card", 60), ("ach", 20), ("wallet", 15), ("check", 5))


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientMoney:
    kind: str  # payment | refund | payment_plan (the portal item types)
    id: str
    visit: Visit
    at: datetime
    amount: Decimal  # the payment or refund; a plan's total
    method: str = ""
    installments: int = 0
    original_payment_id: str = ""


def _when(rng: Draw, day: date) -> datetime:
    return datetime.combine(day, time()) + timedelta(minutes=rng.between(7 * 60, 23 * 60 - 1))


def _method(rng: Draw) -> str:
    return rng.weighted(METHODS)


def patient_money(rng: Draw, visit: Visit, adjudication: Adjudication | None) -> list[PatientMoney]:
    line = visit.timeline
    found: list[PatientMoney] = []
    copay = _point_of_service(rng, visit)
    if copay is not None:
        found.append(copay)
    if line.statement_on is None:
        return found
    if line.payer is None:
        owed = sum((c.amount for c in visit.charges if c.transaction_id not in visit.credited), ZERO)
    elif adjudication is not None:
        owed = adjudication.patient_share - (copay.amount if copay is not None else ZERO)
    else:
        return found
    return found + _statement(rng, visit, line.statement_on, owed)


def _point_of_service(rng: Draw, visit: Visit) -> PatientMoney | None:
    """The estimated copay collected at registration, by card."""
    line = visit.timeline
    if not line.point_of_service or line.payer is None:
        return None
    copay = line.payer.copay if line.patient_class == "O" else max(line.payer.copay, Decimal(150))
    at = line.registered_at + timedelta(minutes=rng.between(5, 25))
    return PatientMoney(kind="payment", id=_pos_id(visit), visit=visit, at=at, amount=copay, method="card")


def _pos_id(visit: Visit) -> str:
    return f"P{visit.number}-0"


def _statement(rng: Draw, visit: Visit, statement_on: date, owed: Decimal) -> list[PatientMoney]:
    """What follows the first statement: a refund of a copay above the patient's share, or the
    balance paid in full, in part, through a plan, or not at all within the horizon."""
    line, number = visit.timeline, visit.number
    pay_lag, plan_lag, refund_lag = line.patient_lags
    # Drawn before the balance is looked at: moving it would change every later draw, and so
    # the traffic a seed gives.
    draw = rng.fraction()
    if owed < 0:
        at = _when(rng, statement_on + timedelta(days=refund_lag))
        refund = PatientMoney(
            kind="refund",
            id=f"R{number}-1",
            visit=visit,
            at=at,
            amount=-owed,
            original_payment_id=_pos_id(visit),
        )
        return [refund]
    if owed == 0:
        return []
    full, plan, part = (0.30, 0.35, 0.15) if line.payer is None else (0.60, 0.10, 0.15)
    if owed < 300:
        plan = 0.0  # nobody sets up a plan for a small balance
    if draw < plan:
        return _payment_plan(rng, visit, _when(rng, statement_on + timedelta(days=plan_lag)), owed)
    if draw < plan + full:
        amount = owed
    elif draw < plan + full + part:
        amount = round_cents(owed / 2)
    else:
        return []
    at = _when(rng, statement_on + timedelta(days=pay_lag))
    return [
        PatientMoney(
            kind="payment", id=f"P{number}-1", visit=visit, at=at, amount=amount, method=_method(rng)
        )
    ]


def _payment_plan(rng: Draw, visit: Visit, at: datetime, owed: Decimal) -> list[PatientMoney]:
    """The plan and its first installment, which arrives with it."""
    installments = rng.between(3, 12) if visit.timeline.payer is not None else rng.between(6, 24)
    first = round_cents(owed / installments)
    plan = PatientMoney(
        kind="payment_plan", id=f"L{visit.number}", visit=visit, at=at, amount=owed, installments=installments
    )
    payment = PatientMoney(
        kind="payment",
        id=f"P{visit.number}-1",
        visit=visit,
        at=at + timedelta(minutes=1),
        amount=first,
        method=_method(rng),
    )
    return [plan, payment]
