"""The AR roll-forward per legal entity and payer class (revenue-accounting.md C.5).

    opening + charges - payments - adjustments +/- transfers = closing

computed from the subledger by role: receivables are the ar_payer, ar_patient and ar_unbilled
lines, whose payer class dimension says whose receivable they are (patient balances carry the
self-pay class). Every movement is one event's lines in one draft (a replay's revision is its own
draft), and it is classified by what the receivable moved against in that draft:

- gross_revenue: charges (a charge reversal is a negative charge);
- cash_clearing: payments (a refund is a negative payment);
- every other role (contractual, denial, administrative, charity, bad debt, credit balances,
  interest, suspense): adjustments;
- another receivable: a transfer (PR moves a claim's patient share from the payer's AR to the
  patient's; a claim submission's unbilled -> billed reclass). The event's payer-level bucket
  (ar_payer / ar_unbilled, the one that moved most) is the one transferred from;
- what balances on another event of the same document: by the event's kind. A claim on an 835
  relieves AR for its paid amount against the one cash line of the payment header, so a
  ClaimAdjudicated's remainder is a payment.

A go-live opening position (the opening journal of ``revbridge golive load``, whose receivables
move against ``opening_balance``) dated inside the range is no movement: it adds to the opening
column, so a roll-forward from the beginning starts at the cut-over's open AR.

Each figure keeps the event keys behind it (drill-down). Two controls: the roll-forward foots to
the closing balance the store sums independently, and that closing, less rows still waiting for
their batch window, equals the receivables in the journals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile.breaks import Break, Control
from revbridge.reconcile.facts import ArBalance, LineFact

AR_ROLES = frozenset({AccountRole.AR_PAYER, AccountRole.AR_PATIENT, AccountRole.AR_UNBILLED})
PAYER_LEVEL = (AccountRole.AR_PAYER, AccountRole.AR_UNBILLED)


class Movement(StrEnum):
    CHARGES = "charges"
    PAYMENTS = "payments"
    ADJUSTMENTS = "adjustments"
    TRANSFERS = "transfers"


COUNTERPART = {AccountRole.GROSS_REVENUE: Movement.CHARGES, AccountRole.CASH_CLEARING: Movement.PAYMENTS}
BY_KIND = {
    "ChargeCaptured": Movement.CHARGES,
    "ChargeReversed": Movement.CHARGES,
    "ClaimAdjudicated": Movement.PAYMENTS,
    "RemittanceReceived": Movement.PAYMENTS,
    "PatientPaymentReceived": Movement.PAYMENTS,
    "RefundIssued": Movement.PAYMENTS,
    "AdjustmentPosted": Movement.ADJUSTMENTS,
    "ProviderAdjustment": Movement.ADJUSTMENTS,
    "ClaimSubmitted": Movement.TRANSFERS,
}

Row = tuple[str, str, str]  # legal entity, payer class, currency
Bucket = tuple[str, str, AccountRole]  # legal entity, payer class, role


@dataclass(frozen=True, slots=True, kw_only=True)
class RollForwardRow:
    legal_entity: str
    payer_class: str
    currency: str
    opening: Money
    charges: Money  # AR increase
    payments: Money  # AR decrease (refunds negative)
    adjustments: Money  # AR decrease
    transfers: Money  # signed: in positive, out negative
    closing: Money  # the subledger's balance at the end, summed by the store
    journaled: Money  # receivables in journals at the end
    unjournaled: Money  # subledger rows still waiting for their batch window
    closing_by_role: tuple[tuple[str, Money], ...]
    event_keys: tuple[tuple[str, tuple[str, ...]], ...]  # movement -> its events

    @property
    def computed(self) -> Money:
        return self.opening + self.charges - self.payments - self.adjustments + self.transfers

    def as_json(self, *, keys: bool) -> dict[str, object]:
        found: dict[str, object] = {
            "legal_entity": self.legal_entity,
            "payer_class": self.payer_class,
            "currency": self.currency,
            "opening": str(self.opening.amount),
            "charges": str(self.charges.amount),
            "payments": str(self.payments.amount),
            "adjustments": str(self.adjustments.amount),
            "transfers": str(self.transfers.amount),
            "closing": str(self.closing.amount),
            "journaled": str(self.journaled.amount),
            "unjournaled": str(self.unjournaled.amount),
            "closing_by_role": {role: str(m.amount) for role, m in self.closing_by_role},
            "event_counts": {movement: len(k) for movement, k in self.event_keys},
        }
        if keys:
            found["event_keys"] = {movement: list(k) for movement, k in self.event_keys}
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class RollForward:
    start: date | None  # None: from the beginning
    end: date
    rows: tuple[RollForwardRow, ...]
    breaks: tuple[Break, ...]


def classify(lines: Iterable[LineFact], kind: str) -> dict[tuple[Row, Movement], Money]:
    """The receivable movements of one event's lines in one draft, by row and movement, AR-signed
    (debit positive: a charge is +, a payment -)."""
    lines = list(lines)
    ar = [ln for ln in lines if ln.role in AR_ROLES]
    if not ar:
        return {}
    currency = ar[0].net.currency
    zero = Money.zero(currency)
    deltas: dict[Bucket, Money] = defaultdict(lambda: zero)
    for ln in ar:
        deltas[(ln.legal_entity, ln.payer_class, ln.role)] += ln.net
    effects: dict[Movement, Money] = defaultdict(lambda: zero)
    for ln in lines:
        if ln.role not in AR_ROLES:
            effects[COUNTERPART.get(ln.role, Movement.ADJUSTMENTS)] -= ln.net
    remainder = sum(deltas.values(), zero) - sum(effects.values(), zero)
    if not remainder.is_zero():
        effects[BY_KIND.get(kind, Movement.ADJUSTMENTS)] += remainder
    principal = _principal(deltas)
    found: dict[tuple[Row, Movement], Money] = defaultdict(lambda: zero)
    home: Row = (principal[0], principal[1], currency)
    for bucket, delta in deltas.items():
        if bucket == principal or delta.is_zero():
            continue
        found[((bucket[0], bucket[1], currency), Movement.TRANSFERS)] += delta
        found[(home, Movement.TRANSFERS)] -= delta
    for movement, amount in effects.items():
        found[(home, movement)] += amount
    return {k: v for k, v in found.items() if not v.is_zero()}


def _principal(deltas: Mapping[Bucket, Money]) -> Bucket:
    payer = [b for b in deltas if b[2] in PAYER_LEVEL]
    candidates = payer or list(deltas)
    return sorted(candidates, key=lambda b: (-abs(deltas[b].amount), b))[0]


def roll_forward(
    *,
    start: date | None,
    end: date,
    opening: Iterable[ArBalance],
    movements: Iterable[LineFact],
    kinds: Mapping[str, str],
    closing: Iterable[ArBalance],
    journals: Iterable[ArBalance],
) -> RollForward:
    """``opening``: subledger receivables before ``start``; ``movements``: every subledger row
    dated ``start``..``end`` (all roles: the counterparts classify the movement); ``closing``:
    subledger receivables through ``end`` with their ``journaled`` flag; ``journals``: the
    receivables of the journals through ``end``; ``kinds``: event kind by event key."""
    figures = _Figures()
    figures.add_balances(opening=opening, closing=closing, journals=journals)
    figures.add_movements(movements, kinds)
    rows = tuple(figures.row(row) for row in sorted(figures.columns))
    return RollForward(start=start, end=end, rows=rows, breaks=tuple(b for row in rows for b in _breaks(row)))


@dataclass(slots=True)
class _Figures:
    """The roll-forward's columns per row (legal entity, payer class, currency) while balances
    and movements are added, with the event keys behind each movement."""

    columns: dict[Row, dict[str, Money]] = field(default_factory=lambda: defaultdict(dict))
    keys: dict[Row, dict[Movement, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    by_role: dict[Row, dict[str, Money]] = field(default_factory=lambda: defaultdict(dict))

    def add_balances(
        self, *, opening: Iterable[ArBalance], closing: Iterable[ArBalance], journals: Iterable[ArBalance]
    ) -> None:
        for b in opening:
            _add(self.columns, _row_of(b), "opening", b.amount)
        for b in closing:
            row = _row_of(b)
            _add(self.columns, row, "closing", b.amount)
            if not b.journaled:
                _add(self.columns, row, "unjournaled", b.amount)
            _add(self.by_role, row, b.role.value, b.amount)
        for b in journals:
            _add(self.columns, _row_of(b), "journaled", b.amount)

    def add_movements(self, movements: Iterable[LineFact], kinds: Mapping[str, str]) -> None:
        """Each event's lines in one draft are one movement (a replay's revision is its own draft)."""
        drafts: dict[tuple[str, str, str, date], list[LineFact]] = defaultdict(list)
        for ln in movements:
            drafts[(ln.event_key, ln.document_key, ln.revision, ln.posting_date)].append(ln)
        for (event_key, *_rest), members in drafts.items():
            if any(ln.role is AccountRole.OPENING_BALANCE for ln in members):
                self._add_opening(members)
                continue
            for (row, movement), amount in classify(members, kinds.get(event_key, "")).items():
                _add(self.columns, row, movement.value, amount)
                self.keys[row][movement].add(event_key)

    def _add_opening(self, members: Iterable[LineFact]) -> None:
        """A go-live opening position inside the range is where the receivables start, not a
        movement: its receivable lines add to the opening column (docs/golive.md)."""
        for ln in members:
            if ln.role in AR_ROLES:
                _add(self.columns, (ln.legal_entity, ln.payer_class, ln.net.currency), "opening", ln.net)

    def row(self, row: Row) -> RollForwardRow:
        legal_entity, payer_class, currency = row
        get = self.columns[row].get
        zero = Money.zero(currency)
        keys = self.keys[row]
        return RollForwardRow(
            legal_entity=legal_entity,
            payer_class=payer_class,
            currency=currency,
            opening=get("opening", zero),
            charges=get(Movement.CHARGES.value, zero),
            payments=-get(Movement.PAYMENTS.value, zero),
            adjustments=-get(Movement.ADJUSTMENTS.value, zero),
            transfers=get(Movement.TRANSFERS.value, zero),
            closing=get("closing", zero),
            journaled=get("journaled", zero),
            unjournaled=get("unjournaled", zero),
            closing_by_role=tuple(sorted(self.by_role[row].items())),
            event_keys=tuple((m.value, tuple(sorted(keys[m]))) for m in Movement if keys.get(m)),
        )


def _add(table: dict[Row, dict[str, Money]], row: Row, column: str, amount: Money) -> None:
    cells = table[row]
    cells[column] = cells.get(column, Money.zero(row[2])) + amount


def _row_of(balance: ArBalance) -> Row:
    return (balance.legal_entity, balance.payer_class, balance.amount.currency)


def _breaks(row: RollForwardRow) -> list[Break]:
    subject = f"AR {row.legal_entity} {row.payer_class or '(no payer class)'}"
    found = []
    if row.computed != row.closing:
        found.append(
            Break(
                control=Control.AR_ROLLFORWARD,
                subject=subject,
                message=f"opening + charges - payments - adjustments +/- transfers is {row.computed.amount} "
                f"{row.currency}, the subledger's closing balance is {row.closing.amount}",
                expected=row.closing,
                actual=row.computed,
            )
        )
    if row.closing - row.unjournaled != row.journaled:
        found.append(
            Break(
                control=Control.AR_ROLLFORWARD,
                subject=subject,
                message=f"the subledger's journaled receivables are {(row.closing - row.unjournaled).amount} "
                f"{row.currency}, the journals hold {row.journaled.amount}",
                expected=row.closing - row.unjournaled,
                actual=row.journaled,
            )
        )
    return found
