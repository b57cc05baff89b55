"""The posting stage, whole and pure: events + configuration + context -> what to stage.

``post(events, config, context)`` holds every decision revbridge makes about money, in one place,
as beancount shows its whole pipeline in one function of pure stages:

1. the context events change the encounter context (``encounter_changes``), first, so a charge
   sent with its encounter finds it;
2. the rulebook turns the posting events into journal drafts and problems, or says the document
   waits for context (``apply``);
3. a replay keeps only the difference between what stands and what the configuration gives now
   (``ledger.replay.diff``), leaving alone every document with an event that fails now;
4. each draft dated in a closed period moves to the first open day or becomes a problem
   (``ledger.period.place``);
5. a realtime draft becomes its journal now; a batch draft waits for its window, whose journals
   ``close_window`` makes;
6. every posting event gets its state, and every staged charge leaves what a later reversal must
   mirror.

Nothing here reads a clock or a store. The pipeline loads the context the events ``needs``, calls
``post`` and writes what it returns (pipeline/staging.py); what-if previews call it read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from revbridge.canonical.events import CanonicalEvent, ChargeCaptured
from revbridge.core.problem import Problem, Severity
from revbridge.ledger.journal import (
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    batch_journals,
    realtime_journal,
)
from revbridge.ledger.period import ClosedPeriodPolicy, PeriodCalendar, place
from revbridge.ledger.replay import diff
from revbridge.ledger.role import AccountRole
from revbridge.masterdata.configuration import Configuration
from revbridge.rules.apply import apply
from revbridge.rules.context import (
    ChargeFacts,
    ChargeMemory,
    Context,
    EncounterChange,
    Standing,
    encounter_changes,
    is_context,
)
from revbridge.rules.outcome import Waiting

AR_ROLES = (AccountRole.AR_PAYER, AccountRole.AR_UNBILLED)


class EventState(StrEnum):
    """Where a posting event stands once ``post`` has seen it."""

    WAITING = "waiting"  # for its encounter or original charge
    STAGED = "staged"  # its lines are staged (or already stood, for a replay)
    EXCEPTED = "excepted"  # a problem holds it
    APPLIED = "applied"  # the rules post nothing for it (a claim submission)
    IGNORED = "ignored"  # an explicit rule says it posts nothing (a notification-only 835)


@dataclass(frozen=True, slots=True, kw_only=True)
class Staged:
    draft: JournalDraft  # placed in an open period
    journal: Journal | None  # realtime: the journal made of the draft now; batch: its window's


@dataclass(frozen=True, slots=True, kw_only=True)
class Posted:
    """What ``post`` decided for a batch of events: the drafts to stage and the problems found
    (beancount's entries and errors), and what the pipeline writes besides."""

    staged: tuple[Staged, ...] = ()
    problems: tuple[Problem, ...] = ()
    states: tuple[tuple[str, EventState], ...] = ()  # every posting event's key and new state
    encounters: tuple[EncounterChange, ...] = ()
    charges: tuple[ChargeMemory, ...] = ()
    waiting: tuple[Waiting, ...] = ()  # not empty: the posting events wait, nothing is staged
    ignored_by: str | None = None  # the rule under which the document posts nothing by design

    @property
    def drafts(self) -> tuple[JournalDraft, ...]:
        return tuple(item.draft for item in self.staged)

    @property
    def journals(self) -> tuple[Journal, ...]:
        return tuple(item.journal for item in self.staged if item.journal is not None)


def post(events: Sequence[CanonicalEvent], config: Configuration, context: Context) -> Posted:
    changes, problems = encounter_changes(events, config)
    documents = [event for event in events if not is_context(event)]
    if not documents:
        return Posted(problems=problems, encounters=changes)
    applied = apply(documents, config, context.changed(changes), final=context.final)
    if applied.waiting:
        return Posted(
            problems=problems,
            states=tuple((event.key, EventState.WAITING) for event in documents),
            encounters=changes,
            waiting=applied.waiting,
        )
    drafts = applied.drafts
    if context.standing is not None:
        drafts = _difference(context.standing, drafts, (*problems, *applied.problems))
    policy = config.master.posting.closed_period_policy
    staged, refused = _place(drafts, context.calendar, policy)
    decided = (*applied.problems, *refused)  # what decides the posting events' states
    return Posted(
        staged=staged,
        problems=(*problems, *decided),
        states=_states(documents, applied.drafts, decided, applied.ignored_by),
        encounters=changes,
        charges=_charges(documents, applied.drafts),
        ignored_by=applied.ignored_by,
    )


def open_books(drafts: Sequence[JournalDraft]) -> tuple[Journal, ...]:
    """A go-live's opening journals (rules/golive.py): realtime, one per draft."""
    return tuple(realtime_journal(draft) for draft in drafts)


def close_window(drafts: Sequence[JournalDraft], window_key: str) -> tuple[Journal, ...]:
    """A closed batch window's journals: one per legal entity and posting date."""
    return batch_journals(drafts, window_key)


def _difference(
    standing: Standing, current: Sequence[JournalDraft], problems: Sequence[Problem]
) -> tuple[JournalDraft, ...]:
    """What a replay stages. A document with an event that fails now is left as it stands until
    its work item is fixed, rather than reversed because the new result has a hole; an error
    that names no event (a broken envelope) leaves everything as it stands."""
    errors = [p for p in (*standing.parse_problems, *problems) if p.severity is Severity.ERROR]
    if any(p.event_key is None for p in errors):
        return ()
    failing = {p.event_key for p in errors}
    held = {d.source_document_key for d in (*standing.drafts, *current) if failing.intersection(d.event_keys)}
    before = [d for d in standing.drafts if d.source_document_key not in held]
    return diff(before, [d for d in current if d.source_document_key not in held])


def _place(
    drafts: Sequence[JournalDraft], calendar: PeriodCalendar, policy: ClosedPeriodPolicy
) -> tuple[tuple[Staged, ...], tuple[Problem, ...]]:
    staged: list[Staged] = []
    refused: list[Problem] = []
    for draft in drafts:
        placed = place(draft, calendar, policy)
        if isinstance(placed, Problem):
            refused.extend(_per_event(placed, draft))
            continue
        journal = realtime_journal(placed) if placed.lane is Lane.REALTIME else None
        staged.append(Staged(draft=placed, journal=journal))
    return tuple(staged), tuple(refused)


def _per_event(problem: Problem, draft: JournalDraft) -> list[Problem]:
    """A draft-level problem (a closed period) reported once per event behind the draft."""
    return [
        Problem(
            code=problem.code,
            message=problem.message,
            where=problem.where,
            severity=problem.severity,
            event_key=key,
            details=problem.details,
        )
        for key in draft.event_keys
    ] or [problem]


def _states(
    documents: Sequence[CanonicalEvent],
    drafts: Sequence[JournalDraft],
    problems: Sequence[Problem],
    ignored_by: str | None,
) -> tuple[tuple[str, EventState], ...]:
    errors = [p for p in problems if p.severity is Severity.ERROR]
    whole = any(p.event_key is None for p in errors)  # an error naming no event holds them all
    failed = {p.event_key for p in errors}
    staged = {key for draft in drafts for key in draft.event_keys}
    states = []
    for event in documents:
        if whole or event.key in failed:
            state = EventState.EXCEPTED
        elif event.key in staged:
            state = EventState.STAGED
        elif ignored_by is not None:
            state = EventState.IGNORED
        else:
            state = EventState.APPLIED
        states.append((event.key, state))
    return tuple(states)


def _charges(documents: Sequence[CanonicalEvent], drafts: Sequence[JournalDraft]) -> tuple[ChargeMemory, ...]:
    """What a later reversal of each charge with lines must mirror: its department as sent and
    the facility and payer class of its receivable line."""
    receivable: dict[str, JournalLine] = {}
    for draft in drafts:
        for ar in draft.lines:
            if ar.role in AR_ROLES:
                for key in ar.event_keys:
                    receivable.setdefault(key, ar)
    found = []
    for event in documents:
        line = receivable.get(event.key) if isinstance(event, ChargeCaptured) else None
        if isinstance(event, ChargeCaptured) and line is not None:
            found.append(
                ChargeMemory(
                    facility=line.dimensions.facility,
                    charge_id=event.charge_id,
                    event_key=event.key,
                    facts=ChargeFacts(department=event.department, payer_class=line.dimensions.payer_class),
                )
            )
    return tuple(found)
