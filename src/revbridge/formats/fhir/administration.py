"""Patient, Encounter, Account and Coverage (FHIR 4.0.1) -> context events.

Context events post nothing; they give later charges and payments their payer class and
department. A Patient yields no event at all: its demographics (names, birth date, address,
telecom, identifiers) are never read. It only lends its id to the tokens of the resources that
reference it (see scope.py).

Encounter: ``planned``/``arrived``/``triaged``/``in-progress``/``onleave`` -> EncounterRegistered;
``finished``/``unknown`` -> EncounterUpdated; ``cancelled``/``entered-in-error`` ->
EncounterCancelled. ``class`` (v3 ActCode) becomes the HL7 v2 patient class where the two agree
(IMP/ACUTE/NONAC -> I, AMB/OBSENC -> O, EMER -> E, PRENC -> P); other codes stay as sent.

Account is the patient billing account (HL7 v2's visit/account number): it becomes the same
encounter events keyed by the account id, with the servicePeriod as admission and discharge and
its coverages, taken from Coverage resources of the same document (an unresolved coverage adds
nothing: a reference alone names no payer). ``active`` registers, ``inactive``/``on-hold``/
``unknown`` update, ``entered-in-error`` cancels.

Coverage ``active`` -> CoverageUpdated for its beneficiary; the member id (subscriberId, else an
identifier of type MB) is tokenised the moment it is read. Other statuses post nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from revbridge.canonical.events import (
    CanonicalEvent,
    Coverage,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
)
from revbridge.core.ids import PatientToken
from revbridge.core.problem import ProblemCode
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.reader import Concept, Head, JsonObject, Reader, Ref, code_of
from revbridge.formats.fhir.scope import Scope
from revbridge.formats.visit import Visit

ENCOUNTER_STATUS = frozenset(
    {
        "planned",
        "arrived",
        "triaged",
        "in-progress",
        "onleave",
        "finished",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)
ACCOUNT_STATUS = frozenset({"active", "inactive", "entered-in-error", "on-hold", "unknown"})
COVERAGE_STATUS = frozenset({"active", "cancelled", "draft", "entered-in-error"})
PATIENT_CLASS = {"IMP": "I", "ACUTE": "I", "NONAC": "I", "AMB": "O", "OBSENC": "O", "EMER": "E", "PRENC": "P"}
_REGISTERING = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "active"})
_CANCELLING = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    head: Head


@dataclass(frozen=True, slots=True, kw_only=True)
class Encounter:
    head: Head
    status: str
    class_code: str
    subject: Ref | None
    start: date | None
    end: date | None
    service_type: Concept
    service_provider: Ref | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountCoverage:
    coverage: Ref | None
    priority: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    head: Head
    status: str
    subjects: tuple[Ref, ...]
    start: date | None
    end: date | None
    coverages: tuple[AccountCoverage, ...]
    owner: Ref | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CoverageResource:
    head: Head
    status: str
    beneficiary: Ref | None
    member: PatientToken | None
    payors: tuple[Ref, ...]
    plan: str
    order: int | None
    start: date | None


def read_patient(entry: Entry, reader: Reader) -> Patient:
    return Patient(head=reader.head(entry.resource, "Patient", entry.path, entry.full_url))


def read_encounter(entry: Entry, reader: Reader) -> Encounter:
    r, p = entry.resource, entry.path
    class_code = ""
    coding = reader.child(r, "class", p, required=True)
    if coding is not None:
        class_code = reader.string(coding, "code", f"{p}.class", required=True)
    start, end = reader.period(r, "period", p)
    return Encounter(
        head=reader.head(r, "Encounter", p, entry.full_url),
        status=reader.code(r, "status", p, ENCOUNTER_STATUS, required=True),
        class_code=class_code,
        subject=reader.reference(r, "subject", p),
        start=start,
        end=end,
        service_type=reader.concept(r, "serviceType", p),
        service_provider=reader.reference(r, "serviceProvider", p),
    )


def read_account(entry: Entry, reader: Reader) -> Account:
    r, p = entry.resource, entry.path
    coverages: list[AccountCoverage] = []
    for where, raw in reader.children(r, "coverage", p):
        coverages.append(
            AccountCoverage(
                coverage=reader.reference(raw, "coverage", where, required=True),
                priority=reader.integer(raw, "priority", where) or len(coverages) + 1,
            )
        )
    start, end = reader.period(r, "servicePeriod", p)
    return Account(
        head=reader.head(r, "Account", p, entry.full_url),
        status=reader.code(r, "status", p, ACCOUNT_STATUS, required=True),
        subjects=reader.references(r, "subject", p),
        start=start,
        end=end,
        coverages=tuple(coverages),
        owner=reader.reference(r, "owner", p),
    )


def read_coverage(entry: Entry, reader: Reader) -> CoverageResource:
    r, p = entry.resource, entry.path
    plan = ""
    for where, raw in reader.children(r, "class", p):
        value = reader.string(raw, "value", where, required=True)
        if not plan and code_of(reader.concept(raw, "type", where)) == "plan":
            plan = value
    return CoverageResource(
        head=reader.head(r, "Coverage", p, entry.full_url),
        status=reader.code(r, "status", p, COVERAGE_STATUS, required=True),
        beneficiary=reader.reference(r, "beneficiary", p, required=True),
        member=member_token(r, reader, p),
        payors=reader.references(r, "payor", p) or _missing_payor(reader, p),
        plan=plan,
        order=reader.integer(r, "order", p),
        start=reader.period(r, "period", p)[0],
    )


def _missing_payor(reader: Reader, p: str) -> tuple[Ref, ...]:
    reader.problem(ProblemCode.MISSING_FIELD, f"{p}.payor", "at least one payor is required")
    return ()


def member_token(r: JsonObject, reader: Reader, p: str) -> PatientToken | None:
    subscriber = reader.string(r, "subscriberId", p)
    if subscriber:
        return reader.token("member", subscriber)
    for where, identifier in reader.children(r, "identifier", p):
        if code_of(reader.concept(identifier, "type", where)) == "MB":
            value = reader.string(identifier, "value", where)
            if value:
                return reader.token("member", value)
    return None


def patient_events(patient: Patient, scope: Scope, key: str) -> list[CanonicalEvent]:
    scope.ignored.append("fhir.patient: demographics are not read; a Patient only lends its id to tokens")
    return []


def encounter_events(enc: Encounter, scope: Scope, key: str) -> list[CanonicalEvent]:
    patient = scope.patient(enc.subject)
    if patient is None:
        return _without_patient("an Encounter", enc.head, scope, key)
    visit = _visit(enc.head, patient, enc.start, enc.service_provider, scope, key)
    if enc.status in _CANCELLING:
        return [EncounterCancelled(**visit)]
    kind = EncounterRegistered if enc.status in _REGISTERING else EncounterUpdated
    return [
        kind(
            **visit,
            patient_class=PATIENT_CLASS.get(enc.class_code, enc.class_code),
            department=code_of(enc.service_type),
            admitted_on=enc.start,
            discharged_on=enc.end,
        )
    ]


def account_events(acc: Account, scope: Scope, key: str) -> list[CanonicalEvent]:
    patient = next((t for t in (scope.patient(s) for s in acc.subjects if _may_be_patient(s)) if t), None)
    if patient is None:
        return _without_patient("an Account", acc.head, scope, key)
    visit = _visit(acc.head, patient, acc.start, acc.owner, scope, key)
    if acc.status in _CANCELLING:
        return [EncounterCancelled(**visit)]
    coverages = []
    for part in acc.coverages:
        target = scope.resolve(part.coverage)
        if target is not None and target.resource_type == "Coverage":
            coverages.append(_coverage_of(target.raw, part.priority, scope, part.coverage))
    kind = EncounterRegistered if acc.status in _REGISTERING else EncounterUpdated
    return [kind(**visit, admitted_on=acc.start, discharged_on=acc.end, coverages=tuple(coverages))]


def _visit(
    head: Head, patient: PatientToken, start: date | None, facility: Ref | None, scope: Scope, key: str
) -> Visit:
    """The visit an Encounter or an Account is about: its id names the encounter, its type the trigger."""
    return Visit(
        key=key,
        source=scope.source(head.path),
        occurred_on=scope.occurred(start),
        facility=scope.text(facility),
        encounter=head.id or head.full_url,
        patient=patient,
        trigger=head.resource_type,
    )


def _without_patient(what: str, head: Head, scope: Scope, key: str) -> list[CanonicalEvent]:
    scope.reader.problem(
        ProblemCode.MISSING_FIELD,
        f"{head.path}.subject",
        f"{what} needs a patient subject",
        event_key=key,
    )
    return []


def _may_be_patient(ref: Ref) -> bool:
    # Account.subject may also name a Device, a Practitioner or a Location.
    return ref.type in ("", "Patient") and not any(
        ref.reference.startswith(kind)
        for kind in ("Device/", "Practitioner/", "PractitionerRole/", "Location/")
    )


def _coverage_of(raw: JsonObject, priority: int, scope: Scope, ref: Ref | None) -> Coverage:
    # Read quietly: the Coverage entry reports its own problems when it is mapped in turn.
    quiet = Reader(message_id="", default_currency=scope.reader.currency, tokenizer=scope.reader.tokenizer)
    plan = ""
    for where, item in quiet.children(raw, "class", "Coverage"):
        if code_of(quiet.concept(item, "type", where)) == "plan":
            plan = quiet.string(item, "value", where)
            break
    return Coverage(
        payer_id=scope.payer_of_coverage(ref, None),
        plan=plan,
        priority=priority,
        member=member_token(raw, quiet, "Coverage"),
    )


def coverage_events(cov: CoverageResource, scope: Scope, key: str) -> list[CanonicalEvent]:
    head = cov.head
    if cov.status != "active":
        scope.ignored.append(f"fhir.coverage: status {cov.status or 'missing'} posts nothing")
        return []
    patient = scope.patient(cov.beneficiary)
    if patient is None and cov.beneficiary is not None and not cov.beneficiary.reference:
        scope.reader.problem(
            ProblemCode.MISSING_FIELD,
            cov.beneficiary.path,
            "beneficiary needs a reference or an identifier",
            event_key=key,
        )
    if patient is None or not cov.payors:
        return []  # a missing beneficiary or payor is reported where it was read
    return [
        CoverageUpdated(
            key=key,
            source=scope.source(head.path),
            occurred_on=scope.occurred(cov.start),
            facility="",
            patient=patient,
            coverages=(
                Coverage(
                    payer_id=scope.text(cov.payors[0]),
                    plan=cov.plan,
                    priority=cov.order or 1,
                    member=cov.member,
                ),
            ),
        )
    ]
