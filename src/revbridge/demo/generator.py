"""``generate``: N days of the reference health system's traffic, and the truth of what was sent.

Pure: a start date, a number of days, a seed and a scale in; bytes and their ground truth out. No
clock, no files, no network: ``revbridge demo`` feeds the result through the real MLLP listener,
HTTP routes and directory source, and tests feed it to ``Runtime.intake.receive``.

Visits are simulated from ``LOOKBACK`` days before the start, so the first day already carries
what a running hospital sends every day: claims, remittances and patient payments for visits
registered before the window (the receivables revbridge inherits at go-live). Registration-side
messages (ADT, DFT) are sent only for visits registered inside the window, so every charge sent
has its encounter. Each day's messages are in the order they are sent; a day is the same whatever
else is generated around it, except that visits registered before the window send no ADT or DFT.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from revbridge.demo import faults, fhir, hl7, portal, x12
from revbridge.demo.billing import Adjudication, Claim, Remittance, Settlement, provider_adjustments, settle
from revbridge.demo.draw import Draw
from revbridge.demo.encounter import ChargeBatch, Role, Visit, stream, timeline, visit
from revbridge.demo.system import FACILITIES, FACILITY_BY_CODE, PAYER_BY_CODE, PAYERS, Facility
from revbridge.demo.truth import (
    Channel,
    Day,
    Expectation,
    Fault,
    Kind,
    Message,
    Status,
    Tally,
    Traffic,
)

# The longest life of a visit, registration to its last message: six nights, the claim five days
# later, the payer's 14 days plus a weekend, three days to the statement, 18 to the patient's
# payment (a re-payment comes earlier: at most 37 days).
LOOKBACK = 6 + 5 + 14 + 2 + 3 + 18
ZERO = Decimal(0)
PORTAL_KIND = {"payment": Kind.PORTAL_PAYMENT, "refund": Kind.PORTAL_REFUND, "payment_plan": Kind.PORTAL_PLAN}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Life:
    visit: Visit
    settlement: Settlement
    sends_registration: bool  # registered inside the window: its ADT and DFT messages go out


def visits_per_day(seed: int, facility: Facility, day: date, scale: float) -> int:
    """Registrations at ``facility`` on ``day``: its volume times ``scale`` (weekends 80%),
    rounded up or down at random in proportion, so small scales still average out right."""
    expected = facility.encounters * scale * (0.8 if day.weekday() >= 5 else 1.0)
    whole = int(expected)
    rng = Draw(f"revbridge-demo/{seed}/count/{facility.code}/{day.isoformat()}")
    return whole + (1 if rng.chance(expected - whole) else 0)


def generate(*, start: date, days: int = 1, seed: int = 0, scale: float = 1.0) -> Traffic:
    if days < 1:
        raise ValueError("days must be at least 1")
    if not scale > 0:
        raise ValueError("scale must be positive")
    window = [start + timedelta(days=n) for n in range(days)]
    plans = {
        day: faults.plan(seed, day, {f.code: visits_per_day(seed, f, day, scale) for f in FACILITIES})
        for day in window
    }
    builders = {day: _DayBuilder(day) for day in window}
    pending = _Pending(claims=defaultdict(list), adjudications=defaultdict(list))
    for life in _lives(seed, scale, window, plans):
        _send(life, builders, pending)
    _files(seed, pending, builders)
    return Traffic(
        start=start, seed=seed, scale=scale, days=tuple(builders[d].finish(plans[d]) for d in window)
    )


def carried_in(
    *, start: date, days: int = 1, seed: int = 0, scale: float = 1.0
) -> Iterator[tuple[Visit, Settlement]]:
    """The visits registered before ``start`` that are still open then: those ``generate`` (same
    arguments) lets into the window without their registration and charges, and those whose
    claim is billed before ``start`` and settled after the window. A go-live carries them in."""
    window = [start + timedelta(days=n) for n in range(days)]
    for life in _lives(seed, scale, window, {}, open_at_start=True):
        if not life.sends_registration:
            yield life.visit, life.settlement


def _lives(
    seed: int,
    scale: float,
    window: list[date],
    plans: dict[date, faults.Plan],
    *,
    open_at_start: bool = False,
) -> Iterator[_Life]:
    """``open_at_start`` also yields the lives of days before the window that touch none of it
    but whose dates run past its start (claims still in process)."""
    first, end = window[0], window[-1] + timedelta(days=1)
    for facility in FACILITIES:
        for offset in range(-LOOKBACK, len(window)):
            day = first + timedelta(days=offset)
            count = visits_per_day(seed, facility, day, scale)
            roles = _roles(seed, facility, day, count, plans.get(day))
            for n in range(count):
                role = roles.get(n, Role.NORMAL)
                rng = stream(seed, facility, day, n)
                line = timeline(rng, facility, day, n, role)
                inside = first <= day < end
                touches = inside or any(first <= d < end for d in line.dates())
                if not touches and not (open_at_start and any(d >= end for d in line.dates())):
                    continue
                lived = visit(rng, facility, line, role)
                yield _Life(visit=lived, settlement=settle(rng, lived), sends_registration=inside)


def _roles(seed: int, facility: Facility, day: date, count: int, plan: faults.Plan | None) -> dict[int, Role]:
    """The fault roles of the day's visits at ``facility``: from the visit the plan names, the first
    one that charges on its registration day (an outpatient procedure, an inpatient's first night),
    so the fault surfaces inside the window even when the window is that one day."""
    roles: dict[int, Role] = {}
    if plan is None:
        return roles
    for chosen, role in (
        (plan.unknown_payer, Role.UNKNOWN_PAYER),
        (plan.unmapped_department, Role.UNMAPPED_DEPARTMENT),
    ):
        if chosen is None or chosen[0] != facility.code:
            continue
        for k in range(count):
            n = (chosen[1] + k) % count
            line = timeline(stream(seed, facility, day, n), facility, day, n, Role.NORMAL)
            if n not in roles and line.patient_class in ("O", "I"):
                roles[n] = role
                break
    return roles


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    message: Message
    role: Role = Role.NORMAL  # the fault role of the visit it belongs to
    held_back: Decimal = ZERO  # charges in it that the deliberate faults keep from posting


class _DayBuilder:
    """One day's messages as they are produced, with their totals."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.sent: list[_Sent] = []
        self.tally = Tally()

    def add(self, message: Message, role: Role = Role.NORMAL, held_back: Decimal = ZERO) -> None:
        self.sent.append(_Sent(message=message, role=role, held_back=held_back))

    def finish(self, plan: faults.Plan) -> Day:
        resent = faults.resend(plan, [s.message for s in self.sent])
        sent = sorted(
            self.sent + [_Sent(message=again) for _, _, again in resent], key=lambda s: s.message.at
        )
        first_of: dict[bytes, int] = {}
        messages: list[Message] = []
        for index, item in enumerate(sent):
            message = item.message
            if message.expect.status is Status.DUPLICATE:
                message = replace(
                    message, expect=replace(message.expect, duplicate_of=first_of[message.payload])
                )
            first_of.setdefault(message.payload, index)
            messages.append(message)
        found: list[Fault] = []
        for role, make in (
            (Role.UNKNOWN_PAYER, faults.unknown_payer),
            (Role.UNMAPPED_DEPARTMENT, faults.unmapped_department),
        ):
            tagged = [i for i, s in enumerate(sent) if s.role is role and s.message.kind is Kind.DFT_P03]
            if tagged:
                held = sum((sent[i].held_back for i in tagged), ZERO)
                found.append(replace(make(sent[tagged[0]].message.facility, tuple(tagged)), held_back=held))
        for fault, original, _again in resent:
            copy = next(
                i
                for i, m in enumerate(messages)
                if m.payload == original.payload and m.expect.duplicate_of is not None
            )
            found.append(replace(fault, messages=(first_of[original.payload], copy)))
        found.append(faults.outage(plan))
        return Day(day=self.day, messages=tuple(messages), totals=self.tally.freeze(), faults=tuple(found))


def _message(
    channel: Channel,
    kind: Kind,
    facility: str,
    at: datetime,
    payload: bytes,
    expect: Expectation | None = None,
) -> Message:
    return Message(
        channel=channel,
        kind=kind,
        facility=facility,
        at=at,
        payload=payload,
        expect=expect or Expectation(status=Status.PROCESSED),
    )


def _send(life: _Life, builders: dict[date, _DayBuilder], pending: _Pending) -> None:
    """Every message of one visit that falls inside the window, and what it adds to the truth."""
    lived = life.visit
    code = lived.facility.code
    if life.sends_registration:
        _registration_side(lived, builders)
    settlement = life.settlement
    for claim in (settlement.claim, settlement.replacement):
        if claim is None or claim.billed_at.date() not in builders:
            continue
        day = claim.billed_at.date()
        builders[day].tally.add(code, day, billed=claim.total)
        if claim.by_fhir:
            builders[day].add(
                _message(Channel.HTTP_FHIR, Kind.FHIR_CLAIM, code, claim.billed_at, fhir.claim(claim))
            )
        else:
            pending.claims[(code, day, claim.institutional)].append(claim)
    for adjudication in (settlement.adjudication, settlement.reversal, settlement.corrected):
        if adjudication is not None and adjudication.paid_on in builders:
            payer = adjudication.claim.payer
            pending.adjudications[(payer.code, code, adjudication.paid_on)].append(adjudication)
    for money in settlement.patient:
        day = money.at.date()
        if day not in builders:
            continue
        kind = PORTAL_KIND[money.kind]
        builders[day].add(_message(Channel.HTTP_PORTAL, kind, code, money.at, portal.item(money)))
        if money.kind == "payment":
            builders[day].tally.add(code, day, patient_payments=money.amount)
        elif money.kind == "refund":
            builders[day].tally.add(code, day, refunds=money.amount)


def _registration_side(lived: Visit, builders: dict[date, _DayBuilder]) -> None:
    line, code, role = lived.timeline, lived.facility.code, lived.role
    trigger, registered = hl7.registration(lived)
    adt = [(line.registered_at, Kind.ADT_A01 if trigger == "A01" else Kind.ADT_A04, registered)]
    if line.updated_at is not None:
        adt.append((line.updated_at, Kind.ADT_A08, hl7.update(lived, line.updated_at)))
    adt.append((line.discharged_at, Kind.ADT_A03, hl7.discharge(lived)))
    for at, kind, payload in adt:
        if at.date() in builders:
            builders[at.date()].add(_message(Channel.MLLP, kind, code, at, payload), role)
    for batch in lived.batches:
        day = batch.at.date()
        if day in builders:
            builders[day].add(*_dft(lived, batch, builders[day]))


def _dft(lived: Visit, batch: ChargeBatch, builder: _DayBuilder) -> tuple[Message, Role, Decimal]:
    code, role = lived.facility.code, lived.role
    items: list[str] = []
    held = ZERO
    for charge in batch.lines:
        if charge.credit:
            builder.tally.add(code, charge.service_on, credits=charge.amount)
            continue
        builder.tally.add(code, charge.service_on, charges=charge.amount)
        code_held = (
            "UNMAPPED_DEPARTMENT" if charge.fault else "UNMAPPED_PAYER" if role is Role.UNKNOWN_PAYER else ""
        )
        if code_held:
            items.append(code_held)
            held += charge.amount
            builder.tally.add(code, charge.service_on, held_back=charge.amount)
    status = Status.EXCEPTED if items else Status.PROCESSED
    expect = Expectation(status=status, work_items=tuple(sorted(items)))
    message = _message(Channel.MLLP, Kind.DFT_P03, code, batch.at, hl7.charges(lived, batch), expect)
    return message, role, held


@dataclass(slots=True)
class _Pending:
    """Claims and adjudications waiting to be gathered into the day's files and remittances."""

    claims: dict[tuple[str, date, bool], list[Claim]]
    adjudications: dict[tuple[str, str, date], list[Adjudication]]


def _files(seed: int, pending: _Pending, builders: dict[date, _DayBuilder]) -> None:
    for (code, day, institutional), billed in pending.claims.items():
        facility = FACILITY_BY_CODE[code]
        at = datetime.combine(day, time(23, 30 if institutional else 35))
        control = x12.control_number(day, 1 if institutional else 2)
        payload = x12.claims_file(facility, billed, institutional=institutional, at=at, control=control)
        kind = Kind.CLAIMS_837I if institutional else Kind.CLAIMS_837P
        builders[day].add(_message(Channel.FILE, kind, code, at, payload))
    by_payer: dict[tuple[str, date], list[Remittance]] = defaultdict(list)
    for (payer_code, code, day), found in pending.adjudications.items():
        payer, facility = PAYER_BY_CODE[payer_code], FACILITY_BY_CODE[code]
        ordered = tuple(sorted(found, key=lambda a: (a.claim.claim_id, a.status != "22")))
        trace = f"{payer.isa_id[:3]}{day:%Y%m%d}{facility.short}"
        by_fhir = bool(payer.fhir and facility.fhir)
        remittance = Remittance(payer=payer, facility=facility, paid_on=day, trace=trace, claims=ordered)
        if not by_fhir and remittance.carries_cash:
            rng = Draw(f"revbridge-demo/{seed}/plb/{payer.code}/{code}/{day.isoformat()}")
            remittance = replace(remittance, provider_adjustments=provider_adjustments(rng, ordered))
        _remitted(builders[day], remittance, cash=by_fhir or remittance.carries_cash)
        if by_fhir:
            at = datetime.combine(day, time(7, 30))
            builders[day].add(
                _message(Channel.HTTP_FHIR, Kind.FHIR_REMITTANCE, code, at, fhir.remittance(remittance, at))
            )
        else:
            by_payer[(payer_code, day)].append(remittance)
    order = {p.code: n for n, p in enumerate(PAYERS)}
    for (payer_code, day), paid in by_payer.items():
        at = datetime.combine(day, time(6)) + timedelta(minutes=7 * order[payer_code])
        ordered_remittances = sorted(paid, key=lambda r: FACILITIES.index(r.facility))
        payload = x12.remittance_file(
            PAYER_BY_CODE[payer_code], ordered_remittances, at=at, control=x12.control_number(day, 1)
        )
        payees = {r.facility.code for r in ordered_remittances}
        payee = ordered_remittances[0].facility.code if len(payees) == 1 else ""
        builders[day].add(_message(Channel.FILE, Kind.REMITTANCE_835, payee, at, payload))


def _remitted(builder: _DayBuilder, remittance: Remittance, *, cash: bool) -> None:
    code, day = remittance.facility.code, remittance.paid_on
    if not cash:
        builder.tally.add(code, day, notification_only=1)
        return
    claims = remittance.claims
    plb = remittance.provider_adjustments
    builder.tally.add(
        code,
        day,
        remitted=remittance.amount,
        claims_paid=sum((c.paid for c in claims), ZERO),
        contractual=sum((c.contractual for c in claims), ZERO),
        denied=sum((c.denied for c in claims), ZERO),
        patient_share=sum((c.patient_share for c in claims), ZERO),
        interest=-sum((p.amount for p in plb if p.reason == "L6"), ZERO),
        recouped=sum((p.amount for p in plb if p.reason == "WO"), ZERO),
    )
