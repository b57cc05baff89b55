"""A Booking collects the lines and problems of one event (or one remittance) as rules compute them.

Rules speak in signed amounts (debit positive) and rulebook slots; the booking resolves each
slot's role to an account for the legal entity and payer class, fills the slot's dimensions and
turns the sign into a side. Anything unresolvable becomes a problem on the booking, and a booking
with a problem yields no draft at all: an event posts completely or not in the slightest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.journal import Dimensions, JournalDraft, JournalLine, Lane
from revbridge.ledger.role import AccountRole
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.model import Department, Facility, LegalEntity
from revbridge.masterdata.rulebook import Dimension, LineSpec
from revbridge.rules.context import EncounterFacts, PostingContext
from revbridge.rules.outcome import Waiting, WaitReason


@dataclass
class Booking:
    config: Configuration
    entity: LegalEntity
    facility: Facility
    where: SourceRef
    event_key: str
    lines: list[JournalLine] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def check(self, amounts: Iterable[Money]) -> bool:
        """Every amount in the legal entity's currency and exact in its minor unit."""
        ok = True
        for amount in amounts:
            problem = self.config.currency(amount, self.entity, self.where, self.event_key)
            if problem is not None:
                self.problems.append(problem)
                return False
            if not amount.is_exact():
                self.problems.append(
                    Problem(
                        code=ProblemCode.INEXACT_AMOUNT,
                        message=f"{amount} has more decimals than {amount.currency} allows",
                        where=self.where,
                        event_key=self.event_key,
                        details=(("amount", str(amount.amount)),),
                    )
                )
                ok = False
        return ok

    def post(
        self,
        spec: LineSpec,
        amount: Money,
        *,
        payer_class: str,
        department: Department | None = None,
        role: AccountRole | None = None,
        event_keys: Iterable[str] = (),
        where: SourceRef | None = None,
    ) -> None:
        """Add a line for ``amount`` (debit positive) in the slot ``spec``; ``role`` only for
        slots whose role comes from a code map."""
        line_role = spec.role if spec.role is not None else role
        if line_role is None:
            raise ValueError("a mapped slot needs the role its code map gave")
        if line_role in self.config.rulebook.patient_roles:
            payer_class = self.config.master.self_pay_class
        account = self.config.account(
            line_role,
            self.entity,
            payer_class=payer_class,
            department=department,
            where=where or self.where,
            event_key=self.event_key,
        )
        if isinstance(account, Problem):
            self.problems.append(account)  # apply() reports each distinct problem once
            return
        dims = spec.dimensions
        line = JournalLine.signed(
            account=account,
            role=line_role,
            amount=amount,
            dimensions=Dimensions(
                legal_entity=self.entity.code,
                facility=self.facility.code if Dimension.FACILITY in dims else "",
                cost_center=department.cost_center if department and Dimension.COST_CENTER in dims else "",
                payer_class=payer_class if Dimension.PAYER_CLASS in dims else "",
                service_line=department.service_line if department and Dimension.SERVICE_LINE in dims else "",
            ),
            event_keys=tuple(event_keys) or (self.event_key,),
        )
        if line is not None:
            self.lines.append(line)

    def draft(self, *, lane: Lane, posting_date: date, source_document_key: str) -> JournalDraft | None:
        if self.problems or not self.lines:
            return None
        return JournalDraft(
            lane=lane,
            legal_entity=self.entity.code,
            currency=self.entity.currency,
            posting_date=posting_date,
            source_document_key=source_document_key,
            lines=tuple(self.lines),
        )


def open_booking(config: Configuration, facility: str, where: SourceRef, event_key: str) -> Booking | Problem:
    """A booking for an event sent by ``facility`` (as sent), or UNMAPPED_FACILITY."""
    found = config.facility(facility, where, event_key)
    if isinstance(found, Problem):
        return found
    return Booking(
        config=config,
        entity=config.legal_entity(found.legal_entity),
        facility=found,
        where=where,
        event_key=event_key,
    )


def encounter_of(
    booking: Booking,
    encounter: str,
    context: PostingContext,
    *,
    final: bool,
    unnamed: str,
) -> EncounterFacts | Waiting | tuple[Problem, ...]:
    """The encounter an event names, at its booking's facility; a wait while it may still come;
    MISSING_CONTEXT once the wait is over, or at once when the event names none (``unnamed``
    says so: "the charge names no encounter")."""
    found = context.encounter(booking.facility.code, encounter) if encounter else None
    if found is not None:
        return found
    if encounter and not final:
        return Waiting(
            event_key=booking.event_key, reason=WaitReason.ENCOUNTER, reference=encounter, where=booking.where
        )
    return (
        Problem(
            code=ProblemCode.MISSING_CONTEXT,
            message=f"encounter {encounter} at facility {booking.facility.code} is not known"
            if encounter
            else unnamed,
            where=booking.where,
            event_key=booking.event_key,
            details=(("encounter", encounter), ("facility", booking.facility.code)),
        ),
    )
