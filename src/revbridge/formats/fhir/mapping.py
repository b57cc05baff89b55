"""A stored FHIR document -> canonical events, in two pure steps.

``parse`` reads every supported resource of the document into our own typed model (the fields we
use, validated, with located problems); ``to_events`` maps those models to canonical events with
references resolved inside the document. Resource types we do not read (Observation, Procedure,
...) are passed over without a problem: they concern no ledger. When a document yields no event
at all, the Outcome names why in ``ignored_by`` so the message can end ``ignored`` rather than
vanish. A financial resource (``FINANCIAL``) that yields no event and no ERROR of its own also
gets an INFO NOTHING_TO_POST problem at its path naming the reason, so it becomes a work item
somebody can read: an ExplanationOfBenefit without a payment never disappears silently.

Event keys are ``fhir:<resourceType>/<id>`` plus ``/_history/<versionId>`` when the resource has
one, with a ``#...`` suffix for a reversal or a second event from the same resource. A key seen
twice in one document is an EVENT_CONFLICT: the later event is dropped, the problem says where.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.fhir import adjudication, administration, charge, claim, invoice, payment
from revbridge.formats.fhir.bundle import Document, Entry, read_document
from revbridge.formats.fhir.reader import Head, Reader
from revbridge.formats.fhir.scope import Scope


@dataclass(frozen=True, slots=True)
class Handler:
    read: Callable[[Entry, Reader], Any]
    events: Callable[[Any, Scope, str], list[CanonicalEvent]]


HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "Patient": Handler(administration.read_patient, administration.patient_events),
        "Encounter": Handler(administration.read_encounter, administration.encounter_events),
        "Account": Handler(administration.read_account, administration.account_events),
        "Coverage": Handler(administration.read_coverage, administration.coverage_events),
        "ChargeItem": Handler(charge.read, charge.to_events),
        "Claim": Handler(claim.read, claim.to_events),
        "ClaimResponse": Handler(adjudication.read, adjudication.to_events),
        "ExplanationOfBenefit": Handler(adjudication.read, adjudication.to_events),
        "PaymentReconciliation": Handler(payment.read, payment.to_events),
        "PaymentNotice": Handler(payment.read_notice, payment.notice_events),
        "Invoice": Handler(invoice.read, invoice.to_events),
    }
)


# The resources that carry money or the accounts money is posted to.
FINANCIAL = frozenset(
    {
        "Account",
        "ChargeItem",
        "Claim",
        "ClaimResponse",
        "ExplanationOfBenefit",
        "Invoice",
        "PaymentNotice",
        "PaymentReconciliation",
    }
)


@dataclass(frozen=True, slots=True)
class Resource:
    entry: Entry
    model: Any  # the typed model HANDLERS[entry.resource_type].read built; every model has .head


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    document: Document | None
    resources: tuple[Resource, ...]
    problems: tuple[Problem, ...]


def _reader(ctx: ParseContext) -> Reader:
    return Reader(message_id=ctx.message_id, default_currency=ctx.default_currency, tokenizer=ctx.tokenizer)


def _read(payload: bytes, ctx: ParseContext, reader: Reader) -> tuple[Document | None, list[Resource]]:
    document = read_document(payload, reader, ctx.limits)
    resources: list[Resource] = []
    if document is None:
        return None, resources
    if not document.is_bundle and document.resource_type not in HANDLERS:
        reader.problem(
            ProblemCode.UNSUPPORTED_MESSAGE,
            "resourceType",
            f"resourceType is not one of {', '.join(sorted(HANDLERS))}",
        )
        return document, resources
    for entry in document.entries:
        handler = HANDLERS.get(entry.resource_type)
        if handler is not None:
            resources.append(Resource(entry, handler.read(entry, reader)))
    return document, resources


def parse(payload: bytes, ctx: ParseContext) -> Parsed:
    reader = _reader(ctx)
    document, resources = _read(payload, ctx, reader)
    return Parsed(document=document, resources=tuple(resources), problems=tuple(reader.problems))


def to_events(payload: bytes, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    reader = _reader(ctx)
    document, resources = _read(payload, ctx, reader)
    if document is None:
        return Outcome(problems=tuple(reader.problems))
    scope = Scope(ctx=ctx, reader=reader, entries=document.entries, in_bundle=document.is_bundle)
    events: list[CanonicalEvent] = []
    seen: set[str] = set()
    for resource in resources:
        head: Head = resource.model.head
        key = scope.key(head)
        passed_over = len(scope.ignored)
        produced = HANDLERS[resource.entry.resource_type].events(resource.model, scope, key)
        if not produced and head.resource_type in FINANCIAL:
            _nothing_to_post(reader, head, scope.ignored[passed_over:])
        if produced and "@" in key:
            reader.problem(
                ProblemCode.MISSING_FIELD,
                f"{head.path}.id",
                "resource has no id and no urn:uuid fullUrl; its events are keyed by message and position",
                severity=Severity.WARNING,
            )
        for event in produced:
            if event.key in seen:
                reader.problem(
                    ProblemCode.EVENT_CONFLICT,
                    head.path,
                    "a second resource in this document has the same type, id and version",
                    event_key=event.key,
                )
                continue
            seen.add(event.key)
            events.append(event)
    ignored_by = None
    if not events and all(p.severity is not Severity.ERROR for p in reader.problems):
        ignored_by = scope.ignored[0] if scope.ignored else "fhir: the document holds no financial resource"
    return Outcome(tuple(events), tuple(reader.problems), ignored_by)


def _nothing_to_post(reader: Reader, head: Head, reasons: list[str]) -> None:
    """An INFO naming why a financial resource posts nothing, unless an ERROR already says so."""
    inside = (head.path, f"{head.path}.", f"{head.path}[")
    if any(p.severity is Severity.ERROR and p.locator.startswith(inside) for p in reader.problems):
        return
    why = reasons[0].split(": ", 1)[-1] if reasons else "it yields no financial event"
    reader.problem(
        ProblemCode.NOTHING_TO_POST,
        head.path,
        f"{head.resource_type} posts nothing: {why}",
        severity=Severity.INFO,
    )
