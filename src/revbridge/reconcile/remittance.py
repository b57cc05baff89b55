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
        cash = _cash_booked(r, lines, journals)
        header = events.get(r.key)
        how = disposition(header) if header is not None else "held"
        held = tuple(sorted({c for key in (*cash.keys, r.message_id) for c in codes.get(key, ())}))
        verdict = _verdict(r, how, cash, held, now, thresholds)
        rows.append(_row(r, cash, verdict.status, held if verdict.status == Status.HELD else ()))
        if verdict.reason is not None:
            breaks.append(_break(r, cash.keys, verdict.reason, verdict.actual))
    return RemittanceResult(rows=tuple(rows), breaks=tuple(breaks))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cash:
    """The cash_clearing rows a remittance and its members booked, and the ERP's part of them."""

    keys: tuple[str, ...]  # the remittance's event key and its members'
    lines: tuple[LineFact, ...]
    booked: Money
    acknowledged: Money
    journals: tuple[tuple[str, str], ...]  # (journal id, delivery)


@dataclass(frozen=True, slots=True)
class _Verdict:
    status: str
    reason: str | None = None  # what does not tie, for a break
    actual: Money | None = None  # the cash that stands against BPR02, for a break


def _cash_booked(
    r: RemittanceFact, lines: Mapping[str, Sequence[LineFact]], journals: JournalsResult
) -> _Cash:
    currency = r.amount.currency
    keys = (r.key, *r.member_keys)
    cash = tuple(
        ln
        for key in keys
        for ln in lines.get(key, ())
        if ln.role is AccountRole.CASH_CLEARING and ln.net.currency == currency
    )
    zero = Money.zero(currency)
    ids = sorted({ln.journal_id for ln in cash if ln.journal_id is not None})
    return _Cash(
        keys=keys,
        lines=cash,
        booked=_sum((ln.net for ln in cash), zero),
        acknowledged=_sum((ln.net for ln in cash if journals.acknowledged(ln)), zero),
        journals=tuple(
            (j, journals.checks[j].delivery.value if j in journals.checks else "unknown") for j in ids
        ),
    )


def _verdict(
    r: RemittanceFact, how: str, cash: _Cash, held: tuple[str, ...], now: datetime, thresholds: Thresholds
) -> _Verdict:
    """Whether the cash booked is BPR02 and reached the ERP; ``how``: the header's disposition."""
    booked, acknowledged = cash.booked, cash.acknowledged
    if not r.carries_cash:
        return _Verdict(Status.NOTIFICATION)
    if how == "held":
        if booked.is_zero():
            return _Verdict(Status.HELD)
        return _Verdict(
            Status.BREAK,
            f"held by {', '.join(held) or 'the work queue'}, yet {booked.amount} cash is booked",
            booked,
        )
    if not cash.lines and r.amount.is_zero():
        return _Verdict(Status.TIES)  # a zero payment books no cash line, whatever else it posts
    if how == "by_rule":
        return _Verdict(Status.BREAK, "it carries cash, but the rules posted nothing for it", booked)
    if not cash.lines:
        return _Verdict(Status.BREAK, "no cash line was booked: the remittance has no journal", booked)
    if booked != r.amount:
        return _Verdict(Status.BREAK, f"the cash booked is {booked.amount}", booked)
    if acknowledged == r.amount:
        return _Verdict(Status.TIES)
    undelivered = _undelivered(cash.journals)
    if undelivered is not None:
        return _Verdict(Status.BREAK, undelivered, acknowledged)
    if any(ln.journal_id is None and thresholds.stale_row(ln.created_at, now) for ln in cash.lines):
        return _Verdict(Status.BREAK, "its cash is still in no journal", acknowledged)
    return _Verdict(Status.IN_FLIGHT)


def _undelivered(deliveries: Iterable[tuple[str, str]]) -> str | None:
    """Why the first journal that will not bring the cash to the ERP by itself does not."""
    for journal_id, delivery in deliveries:
        match delivery:
            case Delivery.FAILED.value:
                return f"its journal {journal_id} failed"
            case Delivery.MISSING.value:
                return f"its journal {journal_id} is missing from the ERP"
            case Delivery.MISMATCH.value:
                return f"the ERP holds other cash than its journal {journal_id}"
            case Delivery.STALE.value:
                return f"its journal {journal_id} has not reached the ERP in time"
            case "unknown":
                return f"its journal {journal_id} does not exist"
    return None


def _row(r: RemittanceFact, cash: _Cash, status: str, held: tuple[str, ...]) -> RemittanceRow:
    return RemittanceRow(
        key=r.key,
        remittance_id=r.remittance_id,
        payer_id=r.payer_id,
        trace=r.trace,
        occurred_on=r.occurred_on,
        amount=r.amount,
        booked=cash.booked,
        acknowledged=cash.acknowledged,
        journals=cash.journals,
        status=status,
        held_codes=held,
    )


def _break(r: RemittanceFact, keys: tuple[str, ...], reason: str, actual: Money | None) -> Break:
    return Break(
        control=Control.REMITTANCE,
        subject=f"remittance {r.remittance_id}",
        message=f"BPR02 {r.amount.amount} {r.amount.currency} (trace {r.trace or '?'}, "
        f"paid {r.occurred_on}): {reason}",
        expected=r.amount,
        actual=actual,
        event_keys=keys,
    )


def _sum(amounts: Iterable[Money], start: Money) -> Money:
    total = start
    for amount in amounts:
        total = total + amount
    return total
