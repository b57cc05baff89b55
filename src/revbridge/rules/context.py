"""Context: what posting knows beyond a document's own events, and what context events change.

Charges need their encounter (patient class, department, primary payer) and reversals their
original charge. The store keeps these from earlier messages; the pipeline loads the entries a
batch of events ``needs`` into a ``Context`` before it calls ``post``, which never reaches into the
store itself. Context events (registrations, updates, cancellations, coverage changes) become
``EncounterChange`` values that ``post`` applies to its copy of the context first, so a charge
sent with its encounter in one document finds it, and that the pipeline then writes. Tests and
tools pass a dictionary-backed ``StaticContext`` to ``rules.apply`` directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    ChargeCaptured,
    ChargeReversed,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
    PaymentPlanUpdated,
)
from revbridge.canonical.events import Coverage as SentCoverage
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.ledger.journal import JournalDraft
from revbridge.ledger.period import PeriodCalendar
from revbridge.masterdata.configuration import Configuration

ContextEvent = (
    EncounterRegistered | EncounterUpdated | EncounterCancelled | CoverageUpdated | PaymentPlanUpdated
)
CONTEXT_EVENTS = (
    EncounterRegistered,
    EncounterUpdated,
    EncounterCancelled,
    CoverageUpdated,
    PaymentPlanUpdated,
)
Key = tuple[str, str]  # (facility code, encounter id) or (facility code, charge id)


def is_context(event: CanonicalEvent) -> bool:
    """Context events post nothing; they give later charges and payments their context."""
    return isinstance(event, CONTEXT_EVENTS)


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterFacts:
    """The latest context of an encounter (from ADT/FHIR context events)."""

    patient_class: str = ""  # I, O, E, ... as sent
    department: str = ""  # as sent (PV1-10 / PV1-3.1): a charge without FT1-13 falls back to it
    primary_payer_id: str = ""  # as sent (IN1-3 of the priority-1 coverage); "" = no coverage


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeFacts:
    """What a reversal must mirror of the charge it reverses."""

    department: str  # as sent on the original charge
    payer_class: str  # the payer class the original charge was posted to (its line's dimension)


class PostingContext(Protocol):
    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None: ...

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None: ...


@dataclass(frozen=True, slots=True)
class StaticContext:
    """A PostingContext over plain dictionaries: for tests, the demo and one-off tools."""

    encounters: dict[tuple[str, str], EncounterFacts]
    charges: dict[tuple[str, str], ChargeFacts]

    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None:
        return self.encounters.get((facility_code, encounter_id))

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None:
        return self.charges.get((facility_code, charge_id))


NO_CONTEXT = StaticContext({}, {})


class Change(StrEnum):
    REGISTERED = "registered"  # registered or updated: the encounter's context is these values
    CANCELLED = "cancelled"  # later charges find no encounter
    COVERAGE = "coverage"  # only the primary payer changes


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterChange:
    """What one context event does to the encounter context the store keeps."""

    change: Change
    facility: str  # the facility code (mapped)
    encounter: str
    event_key: str
    facts: EncounterFacts = EncounterFacts()  # REGISTERED: all of it; COVERAGE: the primary payer


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeMemory:
    """What the store keeps of a staged charge for the reversal that may follow it."""

    facility: str  # the facility dimension of the charge's receivable line
    charge_id: str
    event_key: str
    facts: ChargeFacts


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """Replay's "before": the drafts staged or posted so far for the events being replayed, and
    the problems the parser found this time (an event they name posts nothing new)."""

    drafts: tuple[JournalDraft, ...]
    parse_problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """Everything ``post`` knows besides the events and the configuration.

    ``final``: the wait for context is over, so a missing encounter or original charge is a
    problem, not a wait. ``standing``: set for a replay, which stages only the difference.
    """

    encounters: Mapping[Key, EncounterFacts] = field(default_factory=dict)
    charges: Mapping[Key, ChargeFacts] = field(default_factory=dict)
    calendar: PeriodCalendar = field(default_factory=PeriodCalendar)
    final: bool = False
    standing: Standing | None = None

    def encounter(self, facility_code: str, encounter_id: str) -> EncounterFacts | None:
        return self.encounters.get((facility_code, encounter_id))

    def charge(self, facility_code: str, charge_id: str) -> ChargeFacts | None:
        return self.charges.get((facility_code, charge_id))

    def changed(self, changes: Sequence[EncounterChange]) -> Context:
        """This context as it is once ``changes`` are applied, in order."""
        if not changes:
            return self
        encounters = dict(self.encounters)
        for item in changes:
            key = (item.facility, item.encounter)
            match item.change:
                case Change.REGISTERED:
                    encounters[key] = item.facts
                case Change.CANCELLED:
                    encounters.pop(key, None)
                case Change.COVERAGE if key in encounters:
                    encounters[key] = replace(encounters[key], primary_payer_id=item.facts.primary_payer_id)
        return replace(self, encounters=encounters)


@dataclass(frozen=True, slots=True, kw_only=True)
class Needs:
    """The context entries a batch of events may look up: what the pipeline loads."""

    encounters: frozenset[Key]
    charges: frozenset[Key]


def needs(events: Iterable[CanonicalEvent], config: Configuration) -> Needs:
    encounters: set[Key] = set()
    charges: set[Key] = set()
    for event in events:
        code = config.facility_code(event.facility)
        if code is None:
            continue
        match event:
            case ChargeReversed():
                charges.add((code, event.original_charge_id or event.charge_id))
            case ChargeCaptured() | AdjustmentPosted() | CoverageUpdated() if event.encounter:
                # a coverage change keeps the rest of what the store knows of its encounter
                encounters.add((code, event.encounter))
            case _:
                continue  # a registration sets its encounter whole; a cancellation removes it
    return Needs(encounters=frozenset(encounters), charges=frozenset(charges))


def encounter_changes(
    events: Iterable[CanonicalEvent], config: Configuration
) -> tuple[tuple[EncounterChange, ...], tuple[Problem, ...]]:
    """The changes the context events among ``events`` make, and the problems of those that name
    no mapped facility (context no charge can find: worth knowing, not worth holding for)."""
    changes: list[EncounterChange] = []
    problems: list[Problem] = []
    for event in events:
        if not isinstance(
            event, EncounterRegistered | EncounterUpdated | EncounterCancelled | CoverageUpdated
        ):
            continue  # a payment plan is context for people, not for posting rules
        if not event.facility.strip():
            problems.append(
                Problem(
                    code=ProblemCode.UNMAPPED_FACILITY,
                    message=f"{type(event).__name__} names no facility; charges cannot use it",
                    where=event.source,
                    severity=Severity.INFO,
                    event_key=event.key,
                )
            )
            continue
        facility = config.facility(event.facility, event.source, event.key)
        if isinstance(facility, Problem):
            problems.append(facility)
            continue
        change = _change(event, facility.code)
        if change is not None:
            changes.append(change)
    return tuple(changes), tuple(problems)


def _change(
    event: EncounterRegistered | EncounterUpdated | EncounterCancelled | CoverageUpdated, facility: str
) -> EncounterChange | None:
    match event:
        case EncounterRegistered() | EncounterUpdated():
            facts = EncounterFacts(
                patient_class=event.patient_class,
                department=event.department,
                primary_payer_id=_primary_payer(event.coverages),
            )
            return EncounterChange(
                change=Change.REGISTERED,
                facility=facility,
                encounter=event.encounter,
                event_key=event.key,
                facts=facts,
            )
        case EncounterCancelled():
            return EncounterChange(
                change=Change.CANCELLED, facility=facility, encounter=event.encounter, event_key=event.key
            )
        case CoverageUpdated() if event.encounter:
            return EncounterChange(
                change=Change.COVERAGE,
                facility=facility,
                encounter=event.encounter,
                event_key=event.key,
                facts=EncounterFacts(primary_payer_id=_primary_payer(event.coverages)),
            )
        case _:
            return None  # a coverage change that names no encounter changes no encounter


def _primary_payer(coverages: Sequence[SentCoverage]) -> str:
    return min(coverages, key=lambda c: c.priority).payer_id if coverages else ""
