"""DFT^P03 / DFT^P11 -> one posting event per FT1 segment (HL7 v2.5 section 6.5.1).

FT1-6 (table 0017) decides the event: CG charge, CD credit, PY payment, AJ adjustment, in any
case. A CG with a negative quantity or amount is a credit too. Every amount becomes a positive
magnitude, as the canonical events document; the event type carries the direction. The amount is
FT1-11 (extended), else FT1-12 (unit amount) x FT1-10 (quantity, 1 when empty) with an INFO
DERIVED_AMOUNT problem saying so (some senders fill only the unit amount), else FT1-22 (unit cost)
x FT1-10, else a MISSING_AMOUNT problem at the FT1. Problems about one FT1 carry the event key
that FT1 would have had, so the rest of the message can still post (an INFO or WARNING does not
hold the event back); problems without a key concern the whole message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    ChargeCaptured,
    ChargeReversed,
    PatientPaymentReceived,
)
from revbridge.core.ids import PatientToken
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2.header import Header, message_date, problem, require_sender
from revbridge.formats.hl7v2.identity import encounter_id, patient_token
from revbridge.formats.hl7v2.message import Message, Segment
from revbridge.formats.hl7v2.values import looks_like_currency, read_currency, read_date, read_number, shown

CHARGE = "CG"
CREDIT = "CD"
PAYMENT = "PY"
ADJUSTMENT = "AJ"
TRANSACTION_TYPES = frozenset({CHARGE, CREDIT, PAYMENT, ADJUSTMENT})
# Where an FT1's amount is read, in order: FT1-11 extended amount, FT1-12 unit amount x FT1-10,
# FT1-22 unit cost x FT1-10.
EXTENDED, UNIT_AMOUNT, UNIT_COST = 11, 12, 22


class _Report(Protocol):
    def __call__(
        self, code: ProblemCode, text: str, locator: str, severity: Severity = Severity.ERROR
    ) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    """What every FT1 of one message shares."""

    facility: str
    control_id: str
    encounter: str
    patient: PatientToken | None
    fallback_date: Callable[[], date | Problem]


def to_transaction_events(message: Message, header: Header, ctx: ParseContext) -> Outcome[CanonicalEvent]:
    problems = require_sender(header, ctx)
    if problems:
        return Outcome.of((), problems)
    ft1s = message.all("FT1")
    if not ft1s:
        return Outcome.of(
            (), (problem(ctx, ProblemCode.MISSING_FIELD, "a DFT message without FT1 segments", "FT1[1]"),)
        )
    encounter, encounter_at = encounter_id(message)
    remembered: list[date | Problem] = []

    def fallback_date() -> date | Problem:
        if not remembered:
            remembered.append(message_date(message, ctx))
        return remembered[0]

    common = _Common(
        facility=header.facility,
        control_id=header.control_id,
        encounter=encounter,
        patient=patient_token(message, ctx),
        fallback_date=fallback_date,
    )
    events: list[CanonicalEvent] = []
    keys: set[str] = set()
    for ft1 in ft1s:
        kind = ft1.get(6, 1).strip().upper()
        needs_encounter = kind in (CHARGE, CREDIT)
        if needs_encounter and not encounter:
            # Reported once for the message: every charge in it lacks the same thing.
            missing = "no visit number (PV1-19) or patient account number (PID-18) for a charge"
            if all(p.message != missing for p in problems):
                problems.append(problem(ctx, ProblemCode.MISSING_FIELD, missing, encounter_at))
        event, found = _transaction(ft1, kind, common, ctx, keys)
        problems.extend(found)
        if event is not None and (encounter or not needs_encounter):
            events.append(event)
    return Outcome.of(events, problems)


def _transaction(
    ft1: Segment, kind: str, common: _Common, ctx: ParseContext, keys: set[str]
) -> tuple[CanonicalEvent | None, list[Problem]]:
    transaction_id, key = _identity(ft1, kind, common)
    problems: list[Problem] = []

    def report(code: ProblemCode, text: str, locator: str, severity: Severity = Severity.ERROR) -> None:
        problems.append(problem(ctx, code, text, locator, severity=severity, event_key=key))

    if key in keys:
        report(
            ProblemCode.EVENT_CONFLICT, "FT1-2 repeats the transaction id of an earlier FT1", ft1.locator(2)
        )
    keys.add(key)
    if not kind:
        report(ProblemCode.MISSING_FIELD, "no transaction type (FT1-6)", ft1.locator(6))
    elif kind not in TRANSACTION_TYPES:
        report(ProblemCode.UNSUPPORTED_TRANSACTION, f"transaction type {shown(kind)} (FT1-6)", ft1.locator(6))
    occurred = _service_date(ft1, common, ctx)
    if isinstance(occurred, Problem):
        problems.append(_with_key(occurred, key))
    quantity = _quantity(ft1, report)
    amount = _amount(ft1, Decimal(1) if quantity is None else quantity, ctx.default_currency, report)
    blocked = any(p.severity is Severity.ERROR for p in problems)
    if blocked or quantity is None or amount is None or isinstance(occurred, Problem):
        return None, problems
    source = SourceRef(ctx.message_id, ft1.where)
    return _event(ft1, kind, key, source, occurred, common, transaction_id, quantity, amount), problems


def _identity(ft1: Segment, kind: str, common: _Common) -> tuple[str, str]:
    """The transaction id (FT1-2, else the control id and FT1-1) and the event key it gives."""
    transaction_id = ft1.get(2, 1).strip()
    if not transaction_id:
        set_id = ft1.get(1).strip()
        transaction_id = f"{common.control_id}#{set_id or ft1.occurrence}"
    # A credit (CD) often repeats the FT1-2 of the charge it reverses, and a payment or
    # adjustment may share a sender's id sequence with charges: only CG keeps the bare id.
    key = f"hl7v2:{common.facility}:{transaction_id}"
    if kind in TRANSACTION_TYPES and kind != CHARGE:
        key = f"{key}:{kind}"
    return transaction_id, key


def _event(
    ft1: Segment,
    kind: str,
    key: str,
    source: SourceRef,
    occurred: date,
    common: _Common,
    transaction_id: str,
    quantity: Decimal,
    amount: Money,
) -> CanonicalEvent:
    """The event table 0017 names; every amount a positive magnitude."""
    # The fields all three share are spelled out, not passed as one mapping: this runs for
    # every FT1, and unpacking a dict per event costs the throughput bench/hl7v2_parse.py tracks.
    magnitude = abs(amount)
    department = ft1.get(13, 1).strip()
    if kind == PAYMENT:
        return PatientPaymentReceived(
            key=key,
            source=source,
            occurred_on=occurred,
            facility=common.facility,
            payment_id=transaction_id,
            encounter=common.encounter,
            patient=common.patient,
            amount=magnitude,
        )
    if kind == ADJUSTMENT:
        return AdjustmentPosted(
            key=key,
            source=source,
            occurred_on=occurred,
            facility=common.facility,
            adjustment_id=transaction_id,
            encounter=common.encounter,
            patient=common.patient,
            code=ft1.get(7, 1).strip(),
            department=department,
            amount=magnitude,
        )
    # A credit, or a charge with a negative amount or quantity, reverses revenue.
    kind_of = ChargeReversed if kind == CREDIT or amount.is_negative() or quantity < 0 else ChargeCaptured
    return kind_of(
        key=key,
        source=source,
        occurred_on=occurred,
        facility=common.facility,
        charge_id=transaction_id,
        encounter=common.encounter,
        patient=common.patient,
        department=department,
        procedure=ft1.get(25, 1).strip() or ft1.get(7, 1).strip(),
        quantity=abs(quantity),
        amount=magnitude,
    )


def _with_key(found: Problem, key: str) -> Problem:
    return Problem(
        code=found.code,
        message=found.message,
        where=found.where,
        severity=found.severity,
        event_key=key,
        details=found.details,
    )


def _service_date(ft1: Segment, common: _Common, ctx: ParseContext) -> date | Problem:
    """FT1-4 is a date range (DR) since v2.5 and a timestamp before: its first component."""
    text = ft1.get(4, 1, 1)
    if not text.strip():
        return common.fallback_date()
    found = read_date(text)
    if isinstance(found, str):
        return problem(ctx, ProblemCode.INVALID_DATE, f"FT1-4 is {found}", ft1.locator(4, 1))
    return found


def _quantity(ft1: Segment, report: _Report) -> Decimal | None:
    text = ft1.get(10, 1)
    if not text.strip():
        return Decimal(1)
    found = read_number(text)
    if isinstance(found, str):
        report(ProblemCode.INVALID_VALUE, f"FT1-10 quantity is {found}", ft1.locator(10))
        return None
    return found


def _amount(ft1: Segment, quantity: Decimal, default_currency: str, report: _Report) -> Money | None:
    """FT1-11, else FT1-12 x FT1-10, else FT1-22 x FT1-10. All three are CP: the price is an MO
    whose denomination is a sub-component (``125.10&USD``) by the book and a component
    (``125.10^USD``) in practice."""
    field = next((f for f in (EXTENDED, UNIT_AMOUNT, UNIT_COST) if ft1.get(f, 1, 1).strip()), None)
    if field is None:
        text = "no extended amount (FT1-11), unit amount (FT1-12) or unit cost (FT1-22)"
        report(ProblemCode.MISSING_AMOUNT, text, ft1.where)
        return None
    where = ft1.locator(field)
    number = read_number(ft1.get(field, 1, 1))
    if isinstance(number, str):
        report(ProblemCode.INVALID_AMOUNT, f"FT1-{field} is {number}", where)
        return None
    denomination = ft1.get(field, 1, 2)
    if not denomination:
        second = ft1.get(field, 2)
        denomination = second if looks_like_currency(second) else ""
    currency = read_currency(denomination, default_currency)
    if currency is None:
        report(ProblemCode.UNSUPPORTED_CURRENCY, f"currency {shown(denomination)} (FT1-{field})", where)
        return None
    amount = Money(number if field == EXTENDED else number * quantity, currency)
    if not amount.is_exact():
        report(ProblemCode.INEXACT_AMOUNT, f"FT1-{field} has more decimals than {currency} allows", where)
        return None
    if field == UNIT_AMOUNT:
        text = f"FT1-11 is empty: the amount {amount.amount} is FT1-12 {number} x FT1-10 quantity {quantity}"
        report(ProblemCode.DERIVED_AMOUNT, text, where, Severity.INFO)
    return amount
