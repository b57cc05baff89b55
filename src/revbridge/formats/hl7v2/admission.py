"""ADT and BAR messages -> encounter context events (HL7 v2.5 chapters 3 and 6).

Registrations, updates and cancellations post nothing; they give later charges and payments
their department and payer class. Which triggers count is a fixed table here; every other ADT or
BAR trigger (A31 demographics, A02 transfer, merges, purges) is ignored by the rule named in
``header.NON_FINANCIAL_TRIGGER``, so the message still ends in a terminal state.
"""

from __future__ import annotations

from datetime import date

from revbridge.canonical.events import (
    CanonicalEvent,
    Coverage,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
)
from revbridge.core.locator import SourceRef
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2.header import Header, event_date, problem, require_sender
from revbridge.formats.hl7v2.identity import encounter_id, guarantor_token, member_token, patient_token
from revbridge.formats.hl7v2.message import Message, Segment
from revbridge.formats.hl7v2.values import read_date, shown
from revbridge.formats.visit import Visit

REGISTERED = frozenset({("ADT", "A01"), ("ADT", "A04"), ("ADT", "A05"), ("BAR", "P01")})
UPDATED = frozenset({("ADT", "A08"), ("ADT", "A03"), ("ADT", "A13"), ("BAR", "P05"), ("BAR", "P06")})
CANCELLED = frozenset({("ADT", "A11")})
FINANCIAL = REGISTERED | UPDATED | CANCELLED


def to_encounter_events(message: Message, header: Header, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    problems = require_sender(header, ctx)
    key = f"hl7v2:{header.facility}:{header.control_id}:{header.trigger}"
    problems.extend(_trigger_mismatch(message, header, ctx))
    occurred = event_date(message, ctx)
    if isinstance(occurred, Problem):
        problems.append(occurred)
    patient = patient_token(message, ctx)
    if patient is None:
        problems.append(problem(ctx, ProblemCode.MISSING_FIELD, "no patient identifier (PID-3)", "PID[1]-3"))
    encounter, encounter_at = encounter_id(message)
    if not encounter:
        problems.append(
            problem(
                ctx,
                ProblemCode.MISSING_FIELD,
                "no visit number (PV1-19) or patient account number (PID-18)",
                encounter_at,
            )
        )
    if (
        patient is None
        or isinstance(occurred, Problem)
        or any(p.severity is Severity.ERROR for p in problems)
    ):
        return Outcome.of((), _keyed(problems, key))
    pv1 = message.first("PV1")
    visit = Visit(
        key=key,
        source=SourceRef(ctx.message_id, pv1.where if pv1 is not None else "PID[1]"),
        occurred_on=occurred,
        facility=header.facility,
        encounter=encounter,
        patient=patient,
        trigger=header.trigger,
    )
    if (header.message_type, header.trigger) in CANCELLED:
        return Outcome.of((EncounterCancelled(**visit),), problems)
    event = _registration(message, header, pv1, visit, ctx, problems)
    return Outcome.of((event,), problems)


def _registration(
    message: Message,
    header: Header,
    pv1: Segment | None,
    visit: Visit,
    ctx: ParseContext,
    problems: list[Problem],
) -> EncounterRegistered | EncounterUpdated:
    """What a registration or an update adds: PV1 class, service and dates, GT1, the IN1s."""
    coverages = _coverages(message, ctx, problems)
    admitted = _optional_date(pv1, 44, ctx, problems)
    discharged = _optional_date(pv1, 45, ctx, problems)
    event_type = (
        EncounterRegistered if (header.message_type, header.trigger) in REGISTERED else EncounterUpdated
    )
    return event_type(
        **visit,
        guarantor=guarantor_token(message, ctx),
        patient_class=pv1.get(2, 1).strip() if pv1 is not None else "",
        department=_department(pv1),
        admitted_on=admitted,
        discharged_on=discharged,
        coverages=coverages,
    )


def _keyed(problems: list[Problem], key: str) -> list[Problem]:
    return [
        Problem(
            code=p.code,
            message=p.message,
            where=p.where,
            severity=p.severity,
            event_key=p.event_key or key,
            details=p.details,
        )
        for p in problems
    ]


def _trigger_mismatch(message: Message, header: Header, ctx: ParseContext) -> list[Problem]:
    """EVN-1 is only informative since v2.3; when it disagrees with MSH-9.2 we follow MSH-9 and
    say so, because somebody configured one of them wrong."""
    evn = message.first("EVN")
    if evn is None:
        return []
    stated = evn.get(1).strip().upper()
    if not stated or stated == header.trigger:
        return []
    return [
        problem(
            ctx,
            ProblemCode.INVALID_VALUE,
            f"EVN-1 names trigger {shown(stated)} but MSH-9 says {shown(header.trigger)}; MSH-9 was used",
            evn.locator(1),
            severity=Severity.WARNING,
        )
    ]


def _department(pv1: Segment | None) -> str:
    """PV1-10 hospital service, else the point of care PV1-3.1, as sent."""
    if pv1 is None:
        return ""
    return pv1.get(10, 1).strip() or pv1.get(3, 1).strip()


def _optional_date(
    pv1: Segment | None, field: int, ctx: ParseContext, problems: list[Problem]
) -> date | None:
    if pv1 is None:
        return None
    text = pv1.get(field, 1)
    if not text.strip():
        return None
    found = read_date(text)
    if isinstance(found, str):
        problems.append(
            problem(
                ctx,
                ProblemCode.INVALID_DATE,
                f"PV1-{field} is {found}; left empty",
                pv1.locator(field, 1),
                severity=Severity.WARNING,
            )
        )
        return None
    return found


def _coverages(message: Message, ctx: ParseContext, problems: list[Problem]) -> tuple[Coverage, ...]:
    """One Coverage per IN1 with a payer id (IN1-3.1); priority IN1-1, else the IN1's order."""
    found: list[Coverage] = []
    for in1 in message.all("IN1"):
        payer = in1.get(3, 1).strip()
        if not payer:
            problems.append(
                problem(
                    ctx,
                    ProblemCode.MISSING_FIELD,
                    "an insurance segment has no insurance company id (IN1-3); coverage left out",
                    in1.locator(3, 1),
                    severity=Severity.WARNING,
                )
            )
            continue
        set_id = in1.get(1).strip()
        numbered = set_id.isascii() and set_id.isdigit() and 0 < len(set_id) <= 3 and int(set_id) > 0
        priority = int(set_id) if numbered else in1.occurrence
        found.append(
            Coverage(
                payer_id=payer,
                plan=in1.get(2, 1).strip(),
                priority=priority,
                member=member_token(in1, ctx),
            )
        )
    return tuple(found)
