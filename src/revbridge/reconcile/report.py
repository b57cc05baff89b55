"""``reconcile(inputs) -> Report``: every control of DESIGN.md section 8 over one set of facts.

The store (store/facts/) gathers the facts for a day or for everything; this runs the
controls in dependency order (journals first, because the daily tie-out and the remittance check
ask which lines the ERP acknowledged) and collects their breaks. A report ties when no control
found a break; held and in-flight items are listed, not counted against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from revbridge.reconcile import completeness, daily, journals, remittance, rollforward
from revbridge.reconcile.breaks import Break, Thresholds
from revbridge.reconcile.facts import (
    ArBalance,
    ErpDocument,
    EventFact,
    JournalFact,
    LineFact,
    MessageFact,
    RemittanceFact,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    day: date | None  # None: everything in the store
    events: Sequence[EventFact]  # posting events in scope
    remittances: Sequence[RemittanceFact]  # payment headers among them
    lines: Sequence[LineFact]  # rows of those events, of the journals in scope, and unjournaled rows
    journals: Sequence[JournalFact]
    documents: Mapping[str, ErpDocument]  # read back from the ERP, by our journal id
    read_back: frozenset[str]  # connectors whose ERP was read back
    messages: Sequence[MessageFact]
    codes: Mapping[str, Sequence[str]]  # work item codes by event key and by message id
    facilities: Mapping[str, str]  # facility as sent -> facility code
    ar_start: date | None
    ar_end: date
    ar_opening: Sequence[ArBalance]
    ar_movements: Sequence[LineFact]
    ar_closing: Sequence[ArBalance]
    ar_journals: Sequence[ArBalance]
    kinds: Mapping[str, str] = field(default_factory=dict)  # event kind by key, for the AR movements


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    day: date | None
    generated_at: datetime
    remittances: remittance.RemittanceResult
    daily: daily.DailyResult
    journals: journals.JournalsResult
    ar: rollforward.RollForward
    completeness: completeness.Completeness

    @property
    def breaks(self) -> tuple[Break, ...]:
        return (
            *self.completeness.breaks,
            *self.remittances.breaks,
            *self.daily.breaks,
            *self.journals.breaks,
            *self.ar.breaks,
        )

    @property
    def ties(self) -> bool:
        return not self.breaks

    def as_json(self, *, keys: bool = False) -> dict[str, object]:
        """The public shape of `revbridge reconcile --json` and `GET /api/v1/reconcile`; ``keys``
        adds the event keys behind held amounts and AR movements."""
        return {
            "date": self.day.isoformat() if self.day else None,
            "generated_at": self.generated_at.isoformat(),
            "ties": self.ties,
            "breaks": [b.as_json() for b in self.breaks],
            "remittances": [r.as_json() for r in self.remittances.rows],
            "daily": [r.as_json(keys=keys) for r in self.daily.rows],
            "journals": {
                "by_delivery": self.journals.counts(),
                "unjournaled_lines": len(self.journals.unjournaled),
                "not_acknowledged": [
                    c.as_json()
                    for c in self.journals.checks.values()
                    if c.delivery not in journals.ACCEPTED or c.breaks
                ],
            },
            "ar_rollforward": {
                "from": self.ar.start.isoformat() if self.ar.start else None,
                "to": self.ar.end.isoformat(),
                "rows": [r.as_json(keys=keys) for r in self.ar.rows],
            },
            "completeness": self.completeness.as_json(),
        }


def reconcile(inputs: Inputs, *, now: datetime, thresholds: Thresholds = Thresholds()) -> Report:
    by_event: dict[str, list[LineFact]] = defaultdict(list)
    for line in inputs.lines:
        by_event[line.event_key].append(line)
    checked = journals.check(
        inputs.journals,
        inputs.lines,
        inputs.documents,
        read_back=inputs.read_back,
        now=now,
        thresholds=thresholds,
    )
    events = {e.key: e for e in inputs.events}
    return Report(
        day=inputs.day,
        generated_at=now,
        remittances=remittance.check(
            inputs.remittances,
            events,
            by_event,
            checked,
            codes=inputs.codes,
            now=now,
            thresholds=thresholds,
        ),
        daily=daily.tie_out(
            inputs.events,
            by_event,
            checked,
            facilities=inputs.facilities,
            codes=inputs.codes,
            now=now,
            thresholds=thresholds,
        ),
        journals=checked,
        ar=rollforward.roll_forward(
            start=inputs.ar_start,
            end=inputs.ar_end,
            opening=inputs.ar_opening,
            movements=inputs.ar_movements,
            kinds=inputs.kinds,
            closing=inputs.ar_closing,
            journals=inputs.ar_journals,
        ),
        completeness=completeness.check(
            inputs.messages, inputs.events, by_event, now=now, thresholds=thresholds
        ),
    )
