"""Charges and charge reversals (revenue-accounting C.3 #1 and #2; batch lane by default).

A charge debits the receivable of its encounter's payer class (self-pay when the encounter has no
coverage) and credits its department's gross revenue. It needs its encounter: before the encounter
is known it waits. A reversal mirrors its original (same department, same payer class) and waits
for it. Charge ids are scoped by facility: two facilities' PAS may number charges alike.
"""

from __future__ import annotations

from revbridge.canonical.events import ChargeCaptured, ChargeReversed
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.rulebook import EventKind
from revbridge.rules.booking import encounter_of, open_booking
from revbridge.rules.context import EncounterFacts, PostingContext
from revbridge.rules.outcome import Waiting, WaitReason

Result = JournalDraft | None | Waiting | tuple[Problem, ...]


def charge(event: ChargeCaptured, config: Configuration, context: PostingContext, *, final: bool) -> Result:
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.amount]):
        return tuple(booking.problems)
    encounter = encounter_of(
        booking, event.encounter, context, final=final, unnamed="the charge names no encounter"
    )
    if not isinstance(encounter, EncounterFacts):
        return encounter
    payer_class = config.payer_class_of(encounter.primary_payer_id, event.source, event.key)
    department = config.department(
        booking.facility, event.department or encounter.department, event.source, event.key
    )
    problems = tuple(p for p in (payer_class, department) if isinstance(p, Problem))
    if problems:
        return problems
    assert isinstance(payer_class, str)
    assert not isinstance(department, Problem)
    rule = config.rulebook.rule(EventKind.CHARGE)
    booking.post(rule.slot("debit"), event.amount, payer_class=payer_class, department=department)
    booking.post(rule.slot("credit"), -event.amount, payer_class=payer_class, department=department)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)


def reversal(event: ChargeReversed, config: Configuration, context: PostingContext, *, final: bool) -> Result:
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.amount]):
        return tuple(booking.problems)
    original_id = event.original_charge_id or event.charge_id
    original = context.charge(booking.facility.code, original_id)
    if original is None:
        if final:
            return (
                Problem(
                    code=ProblemCode.ORPHAN_REVERSAL,
                    message=f"reversed charge {original_id} is not known at facility {booking.facility.code}",
                    where=event.source,
                    event_key=event.key,
                    details=(("charge_id", original_id), ("facility", booking.facility.code)),
                ),
            )
        return Waiting(
            event_key=event.key, reason=WaitReason.ORIGINAL_CHARGE, reference=original_id, where=event.source
        )
    department = config.department(
        booking.facility, event.department or original.department, event.source, event.key
    )
    if isinstance(department, Problem):
        return (department,)
    rule = config.rulebook.rule(EventKind.CHARGE_REVERSAL)
    booking.post(rule.slot("debit"), event.amount, payer_class=original.payer_class, department=department)
    booking.post(rule.slot("credit"), -event.amount, payer_class=original.payer_class, department=department)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)
