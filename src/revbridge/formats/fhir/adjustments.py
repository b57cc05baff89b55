"""Amounts of a ClaimResponse or ExplanationOfBenefit in CAS terms (see adjudication.py).

``Sums`` rounds every Money to the payment's currency and reports a foreign currency as a problem
instead of letting Money arithmetic raise. ``adjustments_and_lines`` turns what the sender stated
into CAS adjustments: copay -> PR-3, deductible (and unallocated deductible) -> PR-1, coinsurance
-> PR-2, submitted above eligible (allowed) -> CO-45, per item, plus a patient share stated only
at claim level. Nothing is invented to make charge - adjustments = paid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from revbridge.canonical.events import CasAdjustment, ServiceLinePayment
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.fhir.reader import Amount, code_of
from revbridge.formats.fhir.scope import Scope

if TYPE_CHECKING:
    from revbridge.formats.fhir.adjudication import Adjudicated, AdjudicatedItem, Total

SUBMITTED = frozenset({"submitted", "line_sbmtd_chrg_amt"})
ELIGIBLE = frozenset({"eligible", "line_alowd_chrg_amt"})
BENEFIT = frozenset({"benefit", "line_prvdr_pmt_amt"})
# category -> CARC (group PR): the patient's share.
PATIENT_SHARE = {
    "copay": "3",
    "deductible": "1",
    "unallocdeduct": "1",
    "line_coinsrnc_amt": "2",
    "line_bene_ptb_ddctbl_amt": "1",
}


class Sums:
    """Rounded money in the payment's currency; a foreign currency is a problem, not a crash."""

    def __init__(self, scope: Scope, key: str, currency: str) -> None:
        self.scope, self.key, self.currency, self.failed = scope, key, currency, False

    def money(self, amount: Amount | None) -> Money | None:
        if amount is None:
            return None
        if amount.currency != self.currency:
            self.failed = True
            self.scope.reader.problem(
                ProblemCode.INVALID_VALUE,
                f"{amount.path}.currency",
                f"{amount.currency} differs from the payment's {self.currency}",
                event_key=self.key,
            )
            return None
        return amount.money()

    def add(self, amounts: list[Amount]) -> Money | None:
        total = Money.zero(self.currency)
        for amount in amounts:
            value = self.money(amount)
            if value is None:
                return None
            total = total + value
        return total

    def check_total(self, total: Total, items: tuple[AdjudicatedItem, ...]) -> None:
        parts = [item.amount(frozenset({total.category})) for item in items]
        if not items or any(part is None for part in parts):
            return
        stated, summed = self.money(total.amount), self.add([p for p in parts if p is not None])
        if stated is not None and summed is not None and stated != summed:
            self.scope.reader.problem(
                ProblemCode.TOTAL_MISMATCH,
                f"{total.amount.path}.value",
                f"total {total.category} {stated} differs from the sum of its items {summed}",
                event_key=self.key,
                details=(("total", str(stated.amount)), ("items", str(summed.amount))),
            )


def charge_of(res: Adjudicated, sums: Sums) -> Money | None:
    submitted = res.total(SUBMITTED)
    if submitted is not None:
        return sums.money(submitted.amount)
    for categories in (SUBMITTED, None):
        parts = [i.amount(categories) if categories else i.net for i in res.items]
        if res.items and all(p is not None for p in parts):
            return sums.add([p for p in parts if p is not None])
    sums.scope.reader.problem(
        ProblemCode.MISSING_AMOUNT,
        f"{res.head.path}.total",
        "no submitted total and no item amounts: charge carried as zero",
        severity=Severity.WARNING,
        event_key=sums.key,
    )
    return Money.zero(sums.currency)


def adjustments_and_lines(
    res: Adjudicated, sums: Sums
) -> tuple[list[CasAdjustment], list[ServiceLinePayment]]:
    adjustments: list[CasAdjustment] = []
    lines: list[ServiceLinePayment] = []
    stated: set[str] = set()
    for item in res.items:
        own: list[CasAdjustment] = []
        for adj in item.adjudications:
            if adj.category in PATIENT_SHARE and adj.amount is not None:
                stated.add(adj.category)
                value = sums.money(adj.amount)
                if value is not None and not value.is_zero():
                    own.append(_cas("PR", PATIENT_SHARE[adj.category], value, adj.path))
        submitted, eligible = item.amount(SUBMITTED) or item.net, item.find(ELIGIBLE)
        charge = sums.money(submitted) if submitted else None
        if charge is not None and eligible is not None:
            allowed = sums.money(eligible.amount)
            if allowed is not None and allowed < charge:
                own.append(_cas("CO", "45", charge - allowed, eligible.path))
        adjustments += own
        if item.adjudications:
            paid = sums.money(item.amount(BENEFIT))
            lines.append(
                ServiceLinePayment(
                    procedure=code_of(item.product),
                    charge=charge if charge is not None else Money.zero(sums.currency),
                    paid=paid if paid is not None else Money.zero(sums.currency),
                    service_date=item.serviced,
                    adjustments=tuple(own),
                    locator=item.path,
                )
            )
    for total in res.totals:  # a patient share stated only at claim level
        if total.category in PATIENT_SHARE and total.category not in stated:
            value = sums.money(total.amount)
            if value is not None and not value.is_zero():
                adjustments.append(_cas("PR", PATIENT_SHARE[total.category], value, total.path))
    return adjustments, lines


def _cas(group: str, reason: str, amount: Money, path: str) -> CasAdjustment:
    return CasAdjustment(group=group, reason=reason, amount=amount, locator=path)


def negate(adj: CasAdjustment, sign: int) -> CasAdjustment:
    if sign == 1:
        return adj
    return CasAdjustment(group=adj.group, reason=adj.reason, amount=-adj.amount, locator=adj.locator)


def negate_line(line: ServiceLinePayment, sign: int) -> ServiceLinePayment:
    if sign == 1:
        return line
    return ServiceLinePayment(
        procedure=line.procedure,
        charge=-line.charge,
        paid=-line.paid,
        service_date=line.service_date,
        adjustments=tuple(negate(a, sign) for a in line.adjustments),
        locator=line.locator,
    )
