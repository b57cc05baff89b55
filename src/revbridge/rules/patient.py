"""Patient payments, refunds, patient-accounting adjustments and claim submissions.

Payments and refunds are cash and post in the realtime lane (revenue-accounting C.3 #13, #18,
#19); a payment before its charge is fine in accounting terms and posts at once. An adjustment
(charity, bad debt, small balance, ... C.3 #15, #17) debits its category's role and credits the
patient's receivable, or the payer's, which needs the encounter's payer class and so may wait.
A claim submission posts nothing unless the rulebook configures the unbilled -> billed reclass.
"""

from __future__ import annotations

from revbridge.canonical.events import AdjustmentPosted, ClaimSubmitted, PatientPaymentReceived, RefundIssued
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.model import Department
from revbridge.masterdata.rulebook import EventKind
from revbridge.rules.booking import encounter_of, open_booking
from revbridge.rules.context import EncounterFacts, PostingContext
from revbridge.rules.outcome import Waiting

Result = JournalDraft | None | Waiting | tuple[Problem, ...]


def payment(event: PatientPaymentReceived, config: Configuration) -> Result:
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.amount]):
        return tuple(booking.problems)
    rule = config.rulebook.rule(EventKind.PATIENT_PAYMENT)
    self_pay = config.master.self_pay_class
    booking.post(rule.slot("debit"), event.amount, payer_class=self_pay)
    booking.post(rule.slot("credit"), -event.amount, payer_class=self_pay)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)


def refund(event: RefundIssued, config: Configuration) -> Result:
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.amount]):
        return tuple(booking.problems)
    match event.recipient.strip().lower():
        case "patient":
            kind, payer_class = EventKind.PATIENT_REFUND, config.master.self_pay_class
        case "payer":
            payer = config.payer(event.payer_id, event.source, event.key)
            if isinstance(payer, Problem):
                return (payer,)
            kind, payer_class = EventKind.PAYER_REFUND, payer.payer_class
        case other:
            return (
                Problem(
                    code=ProblemCode.INVALID_VALUE,
                    message=f'refund recipient "{other}" is neither patient nor payer',
                    where=event.source,
                    event_key=event.key,
                ),
            )
    rule = config.rulebook.rule(kind)
    booking.post(rule.slot("debit"), event.amount, payer_class=payer_class)
    booking.post(rule.slot("credit"), -event.amount, payer_class=payer_class)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)


def adjustment(
    event: AdjustmentPosted, config: Configuration, context: PostingContext, *, final: bool
) -> Result:
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.amount]):
        return tuple(booking.problems)
    category = config.adjustment_category(
        code=event.code, stated=event.category, where=event.source, event_key=event.key
    )
    if isinstance(category, Problem):
        return (category,)
    if category.role is None:
        return None  # an informational category posts nothing
    department: Department | None = None
    if event.department.strip():
        found = config.department(booking.facility, event.department, event.source, event.key)
        if isinstance(found, Problem):
            return (found,)
        department = found
    against = event.against.strip().lower()
    if against == "patient":
        payer_class, slot = config.master.self_pay_class, "credit_patient"
    elif against == "payer":
        encounter = encounter_of(
            booking,
            event.encounter,
            context,
            final=final,
            unnamed="an adjustment against the payer names no encounter",
        )
        if not isinstance(encounter, EncounterFacts):
            return encounter
        found_class = config.payer_class_of(encounter.primary_payer_id, event.source, event.key)
        if isinstance(found_class, Problem):
            return (found_class,)
        payer_class, slot = found_class, "credit_payer"
    else:
        return (
            Problem(
                code=ProblemCode.INVALID_VALUE,
                message=f'adjustment is against "{against}", neither patient nor payer',
                where=event.source,
                event_key=event.key,
            ),
        )
    rule = config.rulebook.rule(EventKind.ADJUSTMENT)
    booking.post(
        rule.slot("debit"), event.amount, payer_class=payer_class, department=department, role=category.role
    )
    booking.post(rule.slot(slot), -event.amount, payer_class=payer_class, department=department)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)


def claim(event: ClaimSubmitted, config: Configuration) -> Result:
    rule = config.rulebook.rule(EventKind.CLAIM_SUBMITTED)
    if not rule.has("debit"):
        return None  # claim status lives in the PAS; nothing to post by default
    booking = open_booking(config, event.facility, event.source, event.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check([event.total]):
        return tuple(booking.problems)
    payer = config.payer(event.payer_id, event.source, event.key)
    if isinstance(payer, Problem):
        return (payer,)
    booking.post(rule.slot("debit"), event.total, payer_class=payer.payer_class)
    booking.post(rule.slot("credit"), -event.total, payer_class=payer.payer_class)
    return booking.draft(
        lane=rule.lane, posting_date=event.occurred_on, source_document_key=event.key
    ) or tuple(booking.problems)
