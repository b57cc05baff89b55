"""Per remittance: the cash posted is the cash the payer sent (BPR02).

For every RemittanceReceived that carries cash (not a BPR01 = H notification), the cash_clearing
lines booked for the remittance and its claims and provider adjustments must net to BPR02, every
journal they are in must be delivered, and the ERP must have acknowledged all of that cash. The
835 itself was checked to balance before it was posted (rules/remittance.py); this proves the
result reached the ledger whole.

A remittance held by the work queue (an unknown payer, an unbalanced claim) is reported as held
with the codes that hold it, not as a break, and must have booked no cash. One whose journal is
failed, missing from the ERP, or stuck in the outbox past the threshold is a break, named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile.breaks import Break, Control, Thresholds
from revbridge.reconcile.daily import disposition
from revbridge.reconcile.facts import EventFact, LineFact, RemittanceFact
from revbridge.reconcile.journals import Delivery, JournalsResult


class Status:
    TIES = "ties"
    HELD = "held"
    IN_FLIGHT = "in_flight"
    BREAK = "break"
    NOTIFICATION = "notification"  # BPR01 = H: no cash moves


@dataclass(frozen=True, slots=True, kw_only=True)
class RemittanceRow:
    key: str
    remittance_id: str
    payer_id: str
    trace: str
    occurred_on: date
    amount: Money  # BPR02
    booked: Money  # cash_clearing net in the subledger
    acknowledged: Money  # of which the ERP acknowledged
    journals: tuple[tuple[str, str], ...]  # (journal id, delivery)
    status: str
    held_codes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "event_key": self.key,
            "remittance_id": self.remittance_id,
            "payer_id": self.payer_id,
            "trace": self.trace,
            "payment_date": self.occurred_on.isoformat(),
            "currency": self.amount.currency,
            "bpr02": str(self.amount.amount),
            "cash_booked": str(self.booked.amount),
            "cash_acknowledged": str(self.acknowledged.amount),
            "journals": [{"journal_id": j, "delivery": d} for j, d in self.journals],
            "status": self.status,
            "held_codes": list(self.held_codes),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RemittanceResult:
    rows: tuple[RemittanceRow, ...]
    breaks: tuple[Break, ...]


def check(
    remittances: Iterable[RemittanceFact],
    events: Mapping[str, EventFact],
    lines: Mapping[str, Sequence[LineFact]],
    journals: JournalsResult,
    *,
    codes: Mapping[str, Sequence[str]],
    now: datetime,
    thresholds: Thresholds,
) -> RemittanceResult:
    rows: list[RemittanceRow] = []
    breaks: list[Break] = []
    for r in sorted(remittances, key=lambda r: (r.occurred_on, r.key)):
        row, found = _one(r, events, lines, journals, codes, now, thresholds)
        rows.append(row)
        breaks.extend(found)
    return RemittanceResult(rows=tuple(rows), breaks=tuple(breaks))


def _one(
    r: RemittanceFact,
    events: Mapping[str, EventFact],
    lines: Mapping[str, Sequence[LineFact]],
    journals: JournalsResult,
    codes: Mapping[str, Sequence[str]],
    now: datetime,
    thresholds: Thresholds,
) -> tuple[RemittanceRow, list[Break]]:
    currency = r.amount.currency
    zero = Money.zero(currency)
    keys = (r.key, *r.member_keys)
    cash = [
        ln
        for key in keys
        for ln in lines.get(key, ())
        if ln.role is AccountRole.CASH_CLEARING and ln.net.currency == currency
    ]
    booked = _sum((ln.net for ln in cash), zero)
    acknowledged = _sum((ln.net for ln in cash if journals.acknowledged(ln)), zero)
    ids = sorted({ln.journal_id for ln in cash if ln.journal_id is not None})
    deliveries = tuple(
        (j, journals.checks[j].delivery.value if j in journals.checks else "unknown") for j in ids
    )
    subject = f"remittance {r.remittance_id}"
    header = events.get(r.key)
    how = disposition(header) if header is not None else "held"
    held = tuple(sorted({c for key in keys for c in codes.get(key, ())} | set(codes.get(r.message_id, ()))))

    def row(status: str) -> RemittanceRow:
        return RemittanceRow(
            key=r.key,
            remittance_id=r.remittance_id,
            payer_id=r.payer_id,
            trace=r.trace,
            occurred_on=r.occurred_on,
            amount=r.amount,
            booked=booked,
            acknowledged=acknowledged,
            journals=deliveries,
            status=status,
            held_codes=held if status == Status.HELD else (),
        )

    def broken(message: str, actual: Money) -> tuple[RemittanceRow, list[Break]]:
        return row(Status.BREAK), [
            Break(
                control=Control.REMITTANCE,
                subject=subject,
                message=f"BPR02 {r.amount.amount} {currency} (trace {r.trace or '?'}, "
                f"paid {r.occurred_on}): {message}",
                expected=r.amount,
                actual=actual,
                event_keys=keys,
            )
        ]

    if not r.carries_cash:
        return row(Status.NOTIFICATION), []
    if how == "held":
        if not booked.is_zero():
            return broken(
                f"held by {', '.join(held) or 'the work queue'}, yet {booked.amount} cash is booked", booked
            )
        return row(Status.HELD), []
    if not cash and r.amount.is_zero():
        return row(Status.TIES), []  # a zero payment books no cash line, whatever else it posts
    if how == "by_rule":
        return broken("it carries cash, but the rules posted nothing for it", booked)
    if not cash:
        return broken("no cash line was booked: the remittance has no journal", booked)
    if booked != r.amount:
        return broken(f"the cash booked is {booked.amount}", booked)
    if acknowledged == r.amount:
        return row(Status.TIES), []
    for journal_id, delivery in deliveries:
        match delivery:
            case Delivery.FAILED.value:
                return broken(f"its journal {journal_id} failed", acknowledged)
            case Delivery.MISSING.value:
                return broken(f"its journal {journal_id} is missing from the ERP", acknowledged)
            case Delivery.MISMATCH.value:
                return broken(f"the ERP holds other cash than its journal {journal_id}", acknowledged)
            case Delivery.STALE.value:
                return broken(f"its journal {journal_id} has not reached the ERP in time", acknowledged)
            case "unknown":
                return broken(f"its journal {journal_id} does not exist", acknowledged)
    unjournaled = [ln for ln in cash if ln.journal_id is None]
    if any(thresholds.stale_row(ln.created_at, now) for ln in unjournaled):
        return broken("its cash is still in no journal", acknowledged)
    return row(Status.IN_FLIGHT), []


def _sum(amounts: Iterable[Money], start: Money) -> Money:
    total = start
    for amount in amounts:
        total = total + amount
    return total
