"""The daily tie-out: per business day, facility and event kind, source = subledger = ERP.

For every posting event of the day (``occurred_on``) the source amount is its headline amount;
what the subledger booked for it is the amount its carrying role holds (``carrier.py``). The row
then follows those lines: how much of it is in journals, and how much the ERP acknowledged
(``journals.JournalsResult.acknowledged``). An event posts, is held or posts nothing by rule:

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
from revbridge.reconcile.carrier import CARRIER_ROLE, carried
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
    tallies: dict[tuple[date, str, str, str], _Tally] = {}
    for event in events:
        if event.amount is None or event.kind not in CARRIER_ROLE:
            continue  # only posting kinds have a carrier
        currency = event.amount.currency
        group = (event.occurred_on, facility_label(event.facility, facilities), event.kind, currency)
        tally = tallies.setdefault(group, _Tally(currency))
        everything = lines.get(event.key, ())
        own = [ln for ln in everything if ln.net.currency == currency]
        booked = _carried(event.kind, own, currency)
        tally.events += 1
        tally.add("source", event.amount)
        how = disposition(event)
        expected = event.amount if how == "post" else Money.zero(currency)
        if how == "held":
            tally.add("held", event.amount)
            tally.held_keys.append(event.key)
            for code in codes.get(event.key) or codes.get(event.message_id) or ("none recorded",):
                tally.held_codes[code] += 1
        elif how == "by_rule":
            tally.add("by_rule", event.amount)
        tally.add("subledger", booked)
        if booked != expected or len(own) != len(everything):
            tally.off_source.append(event.key)
        acknowledged = _carried(event.kind, [ln for ln in own if journals.acknowledged(ln)], currency)
        flying = _carried(
            event.kind, [ln for ln in own if _in_flight(ln, journals, now, thresholds)], currency
        )
        tally.add(
            "journaled", _carried(event.kind, [ln for ln in own if ln.journal_id is not None], currency)
        )
        tally.add("acknowledged", acknowledged)
        tally.add("in_flight", flying)
        if acknowledged + flying != booked:
            tally.unacknowledged.append(event.key)
    rows: list[DailyRow] = []
    breaks: list[Break] = []
    for (day, facility, kind, currency), tally in sorted(tallies.items()):
        row = DailyRow(
            day=day,
            facility=facility,
            kind=kind,
            currency=currency,
            events=tally.events,
            source=tally.get("source"),
            held=tally.get("held"),
            by_rule=tally.get("by_rule"),
            subledger=tally.get("subledger"),
            journaled=tally.get("journaled"),
            acknowledged=tally.get("acknowledged"),
            in_flight=tally.get("in_flight"),
            held_codes=tuple(sorted(tally.held_codes.items())),
            held_keys=tuple(sorted(tally.held_keys)),
            ties=not tally.off_source and not tally.unacknowledged,
        )
        rows.append(row)
        subject = f"{day.isoformat()} {facility} {kind}"
        if tally.off_source:
            breaks.append(
                Break(
                    control=Control.DAILY,
                    subject=subject,
                    message=f"source less held and not-posting amounts is {row.expected.amount} {currency}, "
                    f"the subledger carries {row.subledger.amount} on {CARRIER_ROLE[kind]}",
                    expected=row.expected,
                    actual=row.subledger,
                    event_keys=tuple(sorted(tally.off_source)),
                )
            )
        if tally.unacknowledged:
            breaks.append(
                Break(
                    control=Control.DAILY,
                    subject=subject,
                    message=f"the subledger carries {row.subledger.amount} {currency}, the ERP acknowledged "
                    f"{row.acknowledged.amount} and {row.in_flight.amount} is in flight",
                    expected=row.subledger,
                    actual=row.acknowledged + row.in_flight,
                    event_keys=tuple(sorted(tally.unacknowledged)),
                )
            )
    return DailyResult(rows=tuple(rows), breaks=tuple(breaks))


def _carried(kind: str, lines: Sequence[LineFact], currency: str) -> Money:
    found = carried(kind, lines, currency)
    assert found is not None  # callers pass posting kinds only
    return found


def _in_flight(line: LineFact, journals: JournalsResult, now: datetime, thresholds: Thresholds) -> bool:
    if line.journal_id is None:
        return not thresholds.stale_row(line.created_at, now)
    check = journals.checks.get(line.journal_id)
    return check is not None and check.delivery is Delivery.IN_FLIGHT
