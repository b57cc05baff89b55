"""One synthetic hospital visit: its timeline, its patient, its coverage and its charges.

Every visit draws from its own random stream (seeded by run seed, facility, day and number), so a
visit is the same whichever window of days is generated around it. The timeline is drawn first
and completely (registration, discharge, billing and payment dates), the rest (patient, charges)
after; the generator asks ``timeline`` alone for the thousands of visits whose messages all fall
outside the window and builds the rest only for those it sends (``visit``).

Charges follow a hospital's charge capture: an emergency visit's level plus the tests ordered,
an outpatient procedure at the end of the visit, an inpatient's room and board every midnight
with the day's ancillaries, the surgery or delivery on the first day. Some arrive after discharge
(late charges, before the claim drops), a few after the claim has gone out (the claim is then
replaced and the payer reverses and re-pays it), and some are credited (FT1-6 CD) before billing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from revbridge.demo import system
from revbridge.demo.draw import Draw
from revbridge.demo.people import Person, person
from revbridge.demo.system import Facility, Payer, Procedure

CENT = Decimal("0.01")


class Role(StrEnum):
    NORMAL = "normal"
    UNKNOWN_PAYER = "unknown_payer"  # registered with an IN1-3 payers.yaml does not list
    UNMAPPED_DEPARTMENT = "unmapped_department"  # one charge names a department nobody mapped


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    number: str  # the visit number (PV1-19), also the claim's patient control number (CLM01)
    patient_class: str  # E, I, O (PV1-2)
    service: str  # PV1-10
    payer: Payer | None
    payer_in1: str  # IN1-3 as sent; "" when the visit carries no IN1
    registered_at: datetime
    discharged_at: datetime
    updated_at: datetime | None  # an A08 in between
    billed_at: datetime | None  # the claim drops; None for self-pay and unknown payers
    rebilled_at: datetime | None  # a replacement claim after a charge arrived late
    paid_on: date | None  # the payer's first remittance
    repaid_on: date | None  # the remittance that reverses and re-pays a replaced claim
    statement_on: date | None  # the patient's first statement
    patient_lags: tuple[int, int, int]  # days from statement to payment, to plan, to refund
    point_of_service: bool  # an estimated copay collected at registration

    def dates(self) -> list[date]:
        """Every day on which this visit may send something besides its ADT and DFT messages (an
        over-estimate: not every statement is paid, and refunds and plans are rare)."""
        found = [d.date() for d in (self.billed_at, self.rebilled_at) if d is not None]
        found += [d for d in (self.paid_on, self.repaid_on) if d is not None]
        if self.statement_on is not None:
            found += [self.statement_on + timedelta(days=lag) for lag in self.patient_lags]
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    transaction_id: str  # FT1-2; a credit repeats the id of the charge it reverses
    department: str  # FT1-13 as sent
    procedure: Procedure
    units: int
    amount: Decimal  # extended amount, positive
    service_on: date
    credit: bool = False  # FT1-6 CD: reverses the charge with the same transaction id
    fault: bool = False  # the deliberately unmapped department


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeBatch:
    """One DFT^P03."""

    at: datetime
    control_id: str  # MSH-10
    lines: tuple[Charge, ...]
    after_billing: bool = False  # the late charge that makes the claim be replaced


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    facility: Facility
    role: Role
    timeline: Timeline
    patient: Person
    location: str  # PV1-3.1
    secondary: bool  # carries the AARP supplement as IN1 2
    batches: tuple[ChargeBatch, ...]

    @property
    def number(self) -> str:
        return self.timeline.number

    @property
    def charges(self) -> list[Charge]:
        return [c for b in self.batches for c in b.lines if not c.credit]

    @property
    def credited(self) -> set[str]:
        return {c.transaction_id for b in self.batches for c in b.lines if c.credit}


def stream(seed: int, facility: Facility, day: date, n: int) -> Draw:
    return Draw(f"revbridge-demo/{seed}/{facility.code}/{day.isoformat()}/{n}")


def business_day(day: date) -> date:
    """Payers pay on weekdays: a date on a weekend moves to the Monday."""
    return day + timedelta(days=max(0, 7 - day.weekday())) if day.weekday() >= 5 else day


def _at(day: date, rng: Draw, start: int, end: int) -> datetime:
    """A time on ``day`` between the hours ``start`` and ``end``, to the minute."""
    return datetime.combine(day, time()) + timedelta(minutes=rng.between(start * 60, end * 60 - 1))


def timeline(rng: Draw, facility: Facility, day: date, n: int, role: Role) -> Timeline:
    patient_class = rng.weighted(facility.classes)
    service = rng.weighted(facility.weights(patient_class))
    payer = system.PAYER_BY_CODE.get(rng.weighted(facility.payers))
    if payer is not None and payer.code == "MEDICARE-A" and patient_class == "O":
        payer = system.PAYER_BY_CODE["MEDICARE-B"]
    if service in system.SELF_PAY_SERVICES or role is Role.UNKNOWN_PAYER:
        payer = None
    if role is Role.UNKNOWN_PAYER:
        in1 = system.UNKNOWN_PAYER_ALIAS
    else:
        in1 = payer.in1_id if payer is not None else facility.self_pay_in1
    if patient_class == "I":
        registered = _at(day, rng, 6, 22)
        discharged = _at(day + timedelta(days=rng.between(1, 6)), rng, 10, 15)
    else:
        registered = _at(day, rng, 0, 24) if patient_class == "E" else _at(day, rng, 7, 17)
        low, high = (120, 420) if patient_class == "E" else (60, 240)
        discharged = registered + timedelta(minutes=rng.between(low, high))
    updated = registered + (discharged - registered) * rng.fraction() if rng.chance(0.3) else None
    billed = _at(discharged.date() + timedelta(days=rng.between(2, 5)), rng, 21, 23)
    rebill = rng.chance(0.02)
    late_days = rng.between(1, 3)
    paid = business_day(billed.date() + timedelta(days=rng.between(6, 14)))
    repay_lag = rng.between(3, 8)
    statement_lag = rng.between(1, 3)
    lags = (rng.between(1, 18), rng.between(3, 15), rng.between(3, 10))
    point_of_service = rng.chance(0.4)
    self_pay_statement = discharged.date() + timedelta(days=rng.between(3, 7))
    rebilled = repaid = None
    # Corrections go through 835s: the FHIR payer's remittances carry no reversals here.
    if payer is not None and rebill and not (payer.fhir and facility.fhir):
        rebilled = _at(billed.date() + timedelta(days=late_days + 1), rng, 20, 22)
        repaid = business_day(max(paid, rebilled.date()) + timedelta(days=repay_lag))
    covered = payer is not None
    statement = paid + timedelta(days=statement_lag) if covered else self_pay_statement
    return Timeline(
        number=f"{facility.short}{day:%y%m%d}{n:04d}",
        patient_class=patient_class,
        service=service,
        payer=payer,
        payer_in1=in1,
        registered_at=registered,
        discharged_at=discharged,
        updated_at=updated,
        billed_at=billed if covered else None,
        rebilled_at=rebilled,
        paid_on=paid if covered else None,
        repaid_on=repaid,
        # Nobody bills the patient of the unknown payer's visit until the payer is sorted out.
        statement_on=None if role is Role.UNKNOWN_PAYER else statement,
        patient_lags=lags,
        point_of_service=payer is not None and point_of_service and patient_class != "I" and payer.copay > 0,
    )


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def cents(rng: Draw, low: Decimal, high: Decimal) -> Decimal:
    return Decimal(rng.between(int(low * 100), int(high * 100))).scaleb(-2)


class _Charges:
    """Numbers a visit's charges in the order they were captured."""

    def __init__(self, rng: Draw, number: str) -> None:
        self.rng = rng
        self.number = number
        self.count = 0

    def one(self, department: str, on: date, procedure: Procedure | None = None) -> Charge:
        rng = self.rng
        chosen = procedure or rng.pick(system.BY_CODE[department].procedures)
        units = rng.between(1, chosen.max_units)
        self.count += 1
        return Charge(
            transaction_id=f"{self.number}-{self.count:02d}",
            department=department,
            procedure=chosen,
            units=units,
            amount=cents(rng, chosen.low, chosen.high) * units,
            service_on=on,
        )

    def ancillaries(self, on: date, low: int, high: int) -> list[Charge]:
        return [self.one(self.rng.pick(system.ANCILLARY), on) for _ in range(self.rng.between(low, high))]

    def procedures(self, department: str, on: date) -> list[Charge]:
        """What an outpatient visit to ``department`` (or an inpatient's procedure day) bills."""
        main = [p for p in system.BY_CODE[department].procedures if p.code and p is not system.ANESTHESIA]
        count = 1 if department in system.PROCEDURAL else self.rng.between(1, 3)
        found = [self.one(department, on, self.rng.pick(main)) for _ in range(count)]
        if department in ("SURG", "SU"):
            found.append(self.one(department, on, system.ANESTHESIA))
        return found

    def room(self, service: str, on: date) -> Charge:
        department, procedure = system.ROOMS[service]
        return self.one(department, on, procedure)


def visit(rng: Draw, facility: Facility, line: Timeline, role: Role) -> Visit:
    """The rest of a visit, drawn from the same stream right after its ``timeline``."""
    patient = person(rng, line.number, line.registered_at.date())
    location = f"{line.service}-{rng.between(1, 40):02d}"
    secondary = line.payer is not None and line.payer.payer_class == "MEDICARE" and rng.chance(0.3)
    capture = _Charges(rng, line.number)
    batches: list[tuple[datetime, list[Charge], bool]] = []
    registered, discharged = line.registered_at, line.discharged_at
    span = discharged - registered
    match line.patient_class:
        case "E":
            first = [capture.one("ED", registered.date()), *capture.ancillaries(registered.date(), 1, 4)]
            batches.append((registered + span * 0.3, first, False))
            if rng.chance(0.4):
                at = registered + span * 0.8
                batches.append((at, [capture.one("PHARM", at.date())], False))
        case "O":
            at = discharged - span * 0.1
            batches.append((at, capture.procedures(line.service, at.date()), False))
        case _:
            first_day = registered.date()
            for night in range((discharged.date() - first_day).days):
                on = first_day + timedelta(days=night)
                lines = [capture.room(line.service, on)]
                if night == 0 and line.service in system.PROCEDURAL:
                    lines += capture.procedures(line.service, on)
                lines += capture.ancillaries(on, 0, 3)
                batches.append((_at(on, rng, 23, 24), lines, False))
            last = capture.ancillaries(discharged.date(), 0, 2)
            if last:
                batches.append((discharged - timedelta(minutes=rng.between(30, 180)), last, False))
    if role is Role.UNMAPPED_DEPARTMENT:
        at, lines, _ = batches[0]
        wrong = capture.one("RAD", at.date())
        lines.append(replace(wrong, department=system.UNMAPPED_DEPARTMENT, fault=True))
    if rng.chance(0.08) and line.billed_at is not None:
        at = discharged + timedelta(minutes=rng.between(120, 30 * 60))
        batches.append((at, capture.ancillaries(discharged.date(), 1, 2), False))
    if line.rebilled_at is not None:
        at = _at(line.rebilled_at.date() - timedelta(days=1), rng, 9, 17)
        batches.append((at, capture.ancillaries(discharged.date(), 1, 1), True))
    credit = rng.chance(0.05) and role is Role.NORMAL
    candidates = [(at, c) for at, lines, late in batches if not late for c in lines if c.procedure.code]
    if credit and candidates:
        at, original = rng.pick(candidates)
        when = min(at + timedelta(minutes=rng.between(60, 20 * 60)), _before_billing(line, discharged))
        batches.append((max(when, at + timedelta(minutes=1)), [replace(original, credit=True)], False))
    batches.sort(key=lambda b: b[0])
    return Visit(
        facility=facility,
        role=role,
        timeline=line,
        patient=patient,
        location=location,
        secondary=secondary,
        batches=tuple(
            ChargeBatch(at=at, control_id=f"{line.number}D{k:02d}", lines=tuple(lines), after_billing=late)
            for k, (at, lines, late) in enumerate(batches, start=1)
        ),
    )


def _before_billing(line: Timeline, discharged: datetime) -> datetime:
    if line.billed_at is not None:
        return line.billed_at - timedelta(hours=1)
    return discharged + timedelta(days=1)
