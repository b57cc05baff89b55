"""The daily tie-out: per business day, facility and event kind, source = subledger = ERP.

For every posting event of the day (``occurred_on``) the source amount is its headline amount;
what the subledger booked for it is the amount its carrying role holds (``carrying_roles.py``).
The row then follows those lines: how much of it is in journals, and how much the ERP
acknowledged (``journals.JournalsResult.acknowledged``). An event posts, is held or posts nothing by rule:

- staged: it must be carried in full, and in time acknowledged by the ERP;
- held: excepted, waiting for context, not yet through posting, or left unposted because another
  part of its message failed (one unbalanced claim holds its whole 835). Held amounts are
  reconciling items explained by the work queue, not breaks; the row names their codes;
- by rule: the rules post nothing for it (a claim submission, a notification-only 835).

Breaks: an event whose subledger amount is not its expected amount (the source, or zero when it
should post nothing), and subledger amounts neither acknowledged nor legitimately in flight.
Both name the event keys behind them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from revbridge.core.money import Money
from revbridge.reconcile.breaks import Break, Control, Thresholds
from revbridge.reconcile.carrying_roles import CARRIER_ROLE, carried
from revbridge.reconcile.facts import EventFact, EventState, LineFact, MessageState
from revbridge.reconcile.journals import Delivery, JournalsResult

BY_RULE_MESSAGES = frozenset({MessageState.PROCESSED, MessageState.IGNORED, MessageState.DUPLICATE})


def disposition(event: EventFact) -> str:
    """post | held | by_rule"""
    if event.state == EventState.STAGED:
        return "post"
    if event.state in (EventState.APPLIED, EventState.IGNORED):
        return "by_rule" if event.message_state in BY_RULE_MESSAGES else "held"
    return "held"


def facility_label(sent: str, facilities: Mapping[str, str]) -> str:
    code = facilities.get(sent.strip())
    return code if code is not None else f"{sent.strip() or '(none)'} (unmapped)"


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyRow:
    day: date
    facility: str
    kind: str
    currency: str
    events: int
    source: Money
    held: Money
    by_rule: Money
    subledger: Money
    journaled: Money
    acknowledged: Money
    in_flight: Money
    held_codes: tuple[tuple[str, int], ...]
    held_keys: tuple[str, ...]
    ties: bool

    @property
    def expected(self) -> Money:
        return self.source - self.held - self.by_rule

    def as_json(self, *, keys: bool) -> dict[str, object]:
        found: dict[str, object] = {
            "day": self.day.isoformat(),
            "facility": self.facility,
            "kind": self.kind,
            "carried_by": CARRIER_ROLE.get(self.kind, ""),
            "currency": self.currency,
            "events": self.events,
            "source": str(self.source.amount),
            "held": str(self.held.amount),
            "not_posting_by_rule": str(self.by_rule.amount),
            "expected": str(self.expected.amount),
            "subledger": str(self.subledger.amount),
            "journaled": str(self.journaled.amount),
            "acknowledged": str(self.acknowledged.amount),
            "in_flight": str(self.in_flight.amount),
            "held_codes": dict(self.held_codes),
            "ties": self.ties,
        }
        if keys:
            found["held_event_keys"] = list(self.held_keys)
        return found


Group = tuple[date, str, str, str]  # day, facility, event kind, currency


@dataclass(slots=True)
class _Tally:
    """One row while events are added to it."""

    currency: str
    events: int = 0
    amounts: dict[str, Money] = field(default_factory=dict)
    held_codes: Counter[str] = field(default_factory=Counter)
    held_keys: list[str] = field(default_factory=list)
    off_source: list[str] = field(default_factory=list)
    unacknowledged: list[str] = field(default_factory=list)

    def add(self, column: str, amount: Money) -> None:
        self.amounts[column] = self.amounts.get(column, Money.zero(self.currency)) + amount

    def get(self, column: str) -> Money:
        return self.amounts.get(column, Money.zero(self.currency))

    def dispose(self, event: EventFact, amount: Money, codes: Mapping[str, Sequence[str]]) -> Money:
        """Adds the event's source amount as posting, held or not posting by rule, with the codes
        that hold it; returns what the subledger should carry for it."""
        self.events += 1
        self.add("source", amount)
        how = disposition(event)
        if how == "held":
            self.add("held", amount)
            self.held_keys.append(event.key)
            for code in codes.get(event.key) or codes.get(event.message_id) or ("none recorded",):
                self.held_codes[code] += 1
        elif how == "by_rule":
            self.add("by_rule", amount)
        return amount if how == "post" else Money.zero(self.currency)

    def row(self, group: Group) -> DailyRow:
        day, facility, kind, currency = group
        return DailyRow(
            day=day,
            facility=facility,
            kind=kind,
            currency=currency,
            events=self.events,
            source=self.get("source"),
            held=self.get("held"),
            by_rule=self.get("by_rule"),
            subledger=self.get("subledger"),
            journaled=self.get("journaled"),
            acknowledged=self.get("acknowledged"),
            in_flight=self.get("in_flight"),
            held_codes=tuple(sorted(self.held_codes.items())),
            held_keys=tuple(sorted(self.held_keys)),
            ties=not self.off_source and not self.unacknowledged,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyResult:
    rows: tuple[DailyRow, ...]
    breaks: tuple[Break, ...]


def tie_out(
    events: Iterable[EventFact],
    lines: Mapping[str, Sequence[LineFact]],
    journals: JournalsResult,
    *,
    facilities: Mapping[str, str],
    codes: Mapping[str, Sequence[str]],
    now: datetime,
    thresholds: Thresholds,
) -> DailyResult:
    """``lines``: subledger rows by event key; ``codes``: work item codes by event key (falling
    back to the message id) that explain held events."""
    tallies: dict[Group, _Tally] = {}
    for event in events:
        if event.amount is None or event.kind not in CARRIER_ROLE:
            continue  # only posting kinds have a carrier
        currency = event.amount.currency
        group = (event.occurred_on, facility_label(event.facility, facilities), event.kind, currency)
        tally = tallies.setdefault(group, _Tally(currency))
        expected = tally.dispose(event, event.amount, codes)
        _follow(tally, event, expected, lines.get(event.key, ()), journals, now, thresholds)
    rows: list[DailyRow] = []
    breaks: list[Break] = []
    for group, tally in sorted(tallies.items()):
        row = tally.row(group)
        rows.append(row)
        breaks.extend(_breaks(row, tally))
    return DailyResult(rows=tuple(rows), breaks=tuple(breaks))


def _follow(
    tally: _Tally,
    event: EventFact,
    expected: Money,
    everything: Sequence[LineFact],
    journals: JournalsResult,
    now: datetime,
    thresholds: Thresholds,
) -> None:
    """Follows one event's lines in the row's currency: what the subledger carries, how much of
    it is in journals, acknowledged by the ERP and legitimately in flight."""
    currency, kind = tally.currency, event.kind
    own = [ln for ln in everything if ln.net.currency == currency]
    booked = _carried(kind, own, currency)
    tally.add("subledger", booked)
    if booked != expected or len(own) != len(everything):
        tally.off_source.append(event.key)
    acknowledged = _carried(kind, [ln for ln in own if journals.acknowledged(ln)], currency)
    flying = _carried(kind, [ln for ln in own if _in_flight(ln, journals, now, thresholds)], currency)
    tally.add("journaled", _carried(kind, [ln for ln in own if ln.journal_id is not None], currency))
    tally.add("acknowledged", acknowledged)
    tally.add("in_flight", flying)
    if acknowledged + flying != booked:
        tally.unacknowledged.append(event.key)


def _breaks(row: DailyRow, tally: _Tally) -> list[Break]:
    subject = f"{row.day.isoformat()} {row.facility} {row.kind}"
    found = []
    if tally.off_source:
        found.append(
            _break(
                subject,
                f"source less held and not-posting amounts is {row.expected.amount} {row.currency}, "
                f"the subledger carries {row.subledger.amount} on {CARRIER_ROLE[row.kind]}",
                (row.expected, row.subledger),
                tally.off_source,
            )
        )
    if tally.unacknowledged:
        found.append(
            _break(
                subject,
                f"the subledger carries {row.subledger.amount} {row.currency}, the ERP acknowledged "
                f"{row.acknowledged.amount} and {row.in_flight.amount} is in flight",
                (row.subledger, row.acknowledged + row.in_flight),
                tally.unacknowledged,
            )
        )
    return found


def _break(subject: str, message: str, amounts: tuple[Money, Money], keys: Iterable[str]) -> Break:
    expected, actual = amounts
    return Break(
        control=Control.DAILY,
        subject=subject,
        message=message,
        expected=expected,
        actual=actual,
        event_keys=tuple(sorted(keys)),
    )


def _carried(kind: str, lines: Sequence[LineFact], currency: str) -> Money:
    found = carried(kind, lines, currency)
    assert found is not None  # callers pass posting kinds only
    return found


def _in_flight(line: LineFact, journals: JournalsResult, now: datetime, thresholds: Thresholds) -> bool:
    if line.journal_id is None:
        return not thresholds.stale_row(line.created_at, now)
    check = journals.checks.get(line.journal_id)
    return check is not None and check.delivery is Delivery.IN_FLIGHT
