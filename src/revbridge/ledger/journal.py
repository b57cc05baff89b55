"""Journal lines, drafts and journals, and the two lanes that turn drafts into journals.

A ``JournalDraft`` is what ``rules.apply`` produces for one source document (or one event): a
balanced set of lines in one legal entity and currency with a posting date and a lane. The
pipeline turns a realtime draft into a ``Journal`` at once (``realtime_journal``) and stages batch
drafts until their window closes (``batch_journals`` aggregates them). Both types check their
invariants when built, so an unbalanced journal cannot exist: rules that would produce one are a
bug and fail loudly with ``JournalError`` instead of reaching the ERP.

Amounts on lines are positive ``Money`` with a side; a negative figure from a source (a reversal,
a negative CAS) becomes a line on the other side, never a negative amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from revbridge.core.errors import RevbridgeError
from revbridge.core.ids import digest
from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole


class JournalError(RevbridgeError, ValueError):
    """A journal or draft was built in breach of the ledger's invariants: a bug upstream."""


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def other(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class Lane(StrEnum):
    REALTIME = "realtime"  # one journal per source document, posted at once
    BATCH = "batch"  # staged, aggregated per window (charges, adjustments)


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Dimensions:
    """GL dimensions a line carries; "" means the line does not carry that dimension."""

    legal_entity: str
    facility: str = ""
    cost_center: str = ""
    payer_class: str = ""
    service_line: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalLine:
    account: str
    role: AccountRole
    side: Side
    amount: Money  # positive, exact in its currency's minor unit
    dimensions: Dimensions
    event_keys: tuple[str, ...] = ()  # the canonical events behind the line, sorted, unique

    def __post_init__(self) -> None:
        if not self.account:
            raise JournalError("a journal line needs an account")
        if self.amount.amount <= 0:
            raise JournalError(f"line amounts must be positive, got {self.amount}")
        if not self.amount.is_exact():
            raise JournalError(f"{self.amount} is not a whole number of minor units")
        if self.event_keys != tuple(sorted(set(self.event_keys))):
            object.__setattr__(self, "event_keys", tuple(sorted(set(self.event_keys))))

    @classmethod
    def signed(
        cls,
        *,
        account: str,
        role: AccountRole,
        amount: Money,
        dimensions: Dimensions,
        event_keys: Iterable[str] = (),
    ) -> JournalLine | None:
        """A line from a signed amount (debit positive); None for zero."""
        if amount.is_zero():
            return None
        side = Side.CREDIT if amount.is_negative() else Side.DEBIT
        return cls(
            account=account,
            role=role,
            side=side,
            amount=abs(amount),
            dimensions=dimensions,
            event_keys=tuple(event_keys),
        )

    @property
    def debit(self) -> Money:
        return self.amount if self.side is Side.DEBIT else Money.zero(self.amount.currency)

    @property
    def credit(self) -> Money:
        return self.amount if self.side is Side.CREDIT else Money.zero(self.amount.currency)

    @property
    def net(self) -> Money:
        """Debit positive, credit negative."""
        return self.amount if self.side is Side.DEBIT else -self.amount

    def reversed(self) -> JournalLine:
        return replace(self, side=self.side.other)


def _check_lines(lines: Sequence[JournalLine], legal_entity: str) -> None:
    if not lines:
        raise JournalError("a journal needs at least one line")
    totals: dict[str, Decimal] = {}
    for line in lines:
        if line.dimensions.legal_entity != legal_entity:
            raise JournalError(
                f"line for legal entity {line.dimensions.legal_entity!r} in a journal of {legal_entity!r}"
            )
        totals[line.amount.currency] = totals.get(line.amount.currency, Decimal(0)) + line.net.amount
    unbalanced = {currency: amount for currency, amount in totals.items() if amount != 0}
    if unbalanced:
        raise JournalError(f"debits and credits differ: {unbalanced}")


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalDraft:
    """Balanced lines of one source document (or event) in one legal entity and currency.

    ``source_document_key`` is stable across re-ingestion (a remittance id, an event key);
    ``revision`` is empty for a first posting and names the replay that produced the draft
    otherwise, so replayed journals get fresh ids while a retried replay gets the same ones.
    ``moved_from`` is set when the closed-period policy moved the posting date. Drafts from
    ``rules.apply`` name exactly one event on each line (the subledger stores a row per line and
    event); journals aggregate lines and with them their event keys.
    """

    lane: Lane
    legal_entity: str
    currency: str
    posting_date: date
    source_document_key: str
    lines: tuple[JournalLine, ...]
    revision: str = ""
    moved_from: date | None = None

    def __post_init__(self) -> None:
        if not self.source_document_key:
            raise JournalError("a draft needs a source document key")
        for line in self.lines:
            if line.amount.currency != self.currency:
                raise JournalError(f"{line.amount.currency} line in a {self.currency} draft")
        _check_lines(self.lines, self.legal_entity)

    @property
    def reference(self) -> str:
        """What the realtime journal is sent to the ERP under."""
        if self.revision:
            return f"{self.source_document_key}#{self.revision}"
        return self.source_document_key

    @property
    def event_keys(self) -> tuple[str, ...]:
        return tuple(sorted({key for line in self.lines for key in line.event_keys}))


@dataclass(frozen=True, slots=True, kw_only=True)
class Journal:
    """A balanced journal ready for an ERP connector. ``id`` is deterministic and is sent as the
    ERP's external reference, so a retry after an uncertain outcome can be looked up."""

    id: str
    lane: Lane
    legal_entity: str
    posting_date: date
    reference: str  # the source document key (realtime) or the batch window key
    lines: tuple[JournalLine, ...]
    moved_from: tuple[date, ...] = field(default=())  # original dates of postings moved here

    def __post_init__(self) -> None:
        if not self.id:
            raise JournalError("a journal needs an id")
        _check_lines(self.lines, self.legal_entity)

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({line.amount.currency for line in self.lines}))

    def total_debits(self, currency: str) -> Money:
        result = Money.zero(currency)
        for line in self.lines:
            if line.amount.currency == currency:
                result = result + line.debit
        return result

    def total_credits(self, currency: str) -> Money:
        result = Money.zero(currency)
        for line in self.lines:
            if line.amount.currency == currency:
                result = result + line.credit
        return result


def journal_id(*, legal_entity: str, lane: Lane, posting_date: date, reference: str) -> str:
    return digest("journal", legal_entity, lane.value, posting_date.isoformat(), reference)


LineKey = tuple[str, AccountRole, Side, str, Dimensions]


def line_key(line: JournalLine) -> LineKey:
    """What ``aggregate_lines`` sums by: a draft line lands in the journal line with its key."""
    return (line.account, line.role, line.side, line.amount.currency, line.dimensions)


def aggregate_lines(lines: Iterable[JournalLine]) -> tuple[JournalLine, ...]:
    """Sum lines that share account, role, side, currency and dimensions, keeping every event key.

    Sides are kept apart (a charge and its reversal in one window give a debit and a credit line,
    not a net) so no event disappears from drill-down behind a zero.
    """
    sums: dict[LineKey, tuple[Money, set[str]]] = {}
    for line in lines:
        key = line_key(line)
        if key in sums:
            amount, keys = sums[key]
            keys.update(line.event_keys)  # in place: a 100,000-claim ERA must not copy the set each time
            sums[key] = (amount + line.amount, keys)
        else:
            sums[key] = (line.amount, set(line.event_keys))
    return tuple(
        JournalLine(
            account=account,
            role=role,
            side=side,
            amount=amount,
            dimensions=dimensions,
            event_keys=tuple(sorted(keys)),
        )
        for (account, role, side, _currency, dimensions), (amount, keys) in sorted(
            sums.items(), key=lambda item: _sort_key(item[0])
        )
    )


def _sort_key(key: LineKey) -> tuple[str, ...]:
    account, role, side, currency, dims = key
    return (
        currency,
        account,
        role.value,
        dims.facility,
        dims.cost_center,
        dims.payer_class,
        dims.service_line,
        # debits first
        "0" if side is Side.DEBIT else "1",
    )


def realtime_journal(draft: JournalDraft) -> Journal:
    return Journal(
        id=journal_id(
            legal_entity=draft.legal_entity,
            lane=draft.lane,
            posting_date=draft.posting_date,
            reference=draft.reference,
        ),
        lane=draft.lane,
        legal_entity=draft.legal_entity,
        posting_date=draft.posting_date,
        reference=draft.reference,
        lines=aggregate_lines(draft.lines),
        moved_from=(draft.moved_from,) if draft.moved_from else (),
    )


def batch_journals(drafts: Iterable[JournalDraft], window_key: str) -> tuple[Journal, ...]:
    """Close a batch window: one journal per legal entity and posting date, lines aggregated."""
    groups: dict[tuple[str, date], list[JournalDraft]] = {}
    for draft in drafts:
        groups.setdefault((draft.legal_entity, draft.posting_date), []).append(draft)
    journals = []
    for (legal_entity, posting_date), members in sorted(groups.items()):
        lane = Lane.BATCH
        journals.append(
            Journal(
                id=journal_id(
                    legal_entity=legal_entity, lane=lane, posting_date=posting_date, reference=window_key
                ),
                lane=lane,
                legal_entity=legal_entity,
                posting_date=posting_date,
                reference=window_key,
                lines=aggregate_lines(line for draft in members for line in draft.lines),
                moved_from=tuple(sorted({d.moved_from for d in members if d.moved_from is not None})),
            )
        )
    return tuple(journals)


def journal_to_dict(journal: Journal) -> dict[str, object]:
    """The journal in the public JSON shape of DESIGN.md section 10, amounts as decimal strings.
    ``status`` and ``erp_reference`` belong to the store and are added by it."""
    return {
        "id": journal.id,
        "lane": journal.lane.value,
        "legal_entity": journal.legal_entity,
        "posting_date": journal.posting_date.isoformat(),
        "reference": journal.reference,
        "moved_from": [d.isoformat() for d in journal.moved_from],
        "lines": [
            {
                "account": line.account,
                "role": line.role.value,
                "debit": str(line.debit.rounded().amount),
                "credit": str(line.credit.rounded().amount),
                "currency": line.amount.currency,
                "dimensions": {
                    "facility": line.dimensions.facility,
                    "cost_center": line.dimensions.cost_center,
                    "payer_class": line.dimensions.payer_class,
                    "service_line": line.dimensions.service_line,
                },
                "event_keys": list(line.event_keys),
            }
            for line in journal.lines
        ],
    }
