"""ChargeItem (FHIR 4.0.1) -> ChargeCaptured / ChargeReversed.

The amount. An R4 ChargeItem carries no unit price: list prices live in the ChargeItemDefinition
of its code, which revbridge does not resolve. R4 defines ``priceOverride`` as the total price of
the charge overriding the list price associated with the code, and ``factorOverride`` as the
factor overriding the one the pricing rules would apply. Our reading: the charge is
``priceOverride x factorOverride`` (factor 1 when absent), and ``quantity`` does not multiply it
again because priceOverride is already the total. The official example (40 EUR, factor 0.8,
override reason "a 20% discount") thus posts 32.00 EUR: the only reading in which both the factor
and the stated discount mean something. Without priceOverride the charge has no amount we may
use, which is a MISSING_AMOUNT problem, never a guess.

Status (chargeitem-status): ``billable`` -> ChargeCaptured; ``entered-in-error`` -> ChargeReversed
of the charge itself (key suffix ``#reversal``); a billable item whose quantity or price is
negative -> ChargeReversed with positive magnitudes, as a DFT's negative quantity is. ``billed``
posts nothing: revenue was captured when the item became billable, and billing it must not count
it twice. ``planned``, ``not-billable``, ``aborted`` and ``unknown`` post nothing either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent, ChargeCaptured, ChargeReversed
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.reader import Amount, Concept, Head, Reader, Ref, code_of
from revbridge.formats.fhir.scope import Scope

STATUS = frozenset(
    {"planned", "billable", "not-billable", "aborted", "billed", "entered-in-error", "unknown"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeItem:
    head: Head
    status: str
    code: Concept
    subject: Ref | None
    context: Ref | None
    accounts: tuple[Ref, ...]
    occurred: date | None
    entered: date | None
    quantity: Decimal | None
    factor: Decimal | None
    price: Amount | None
    price_sent: bool  # priceOverride present, even if unreadable (then already a problem)
    cost_center: Ref | None
    performing_organization: Ref | None


def read(entry: Entry, reader: Reader) -> ChargeItem:
    r, p = entry.resource, entry.path
    occurred = reader.day(r, "occurrenceDateTime", p)
    if occurred is None:
        occurred = reader.period(r, "occurrencePeriod", p)[0]
    factor = reader.decimal(r, "factorOverride", p)
    if factor is not None and factor < 0:
        reader.problem(
            ProblemCode.INVALID_VALUE, f"{p}.factorOverride", "factorOverride must not be negative"
        )
        factor = None
    return ChargeItem(
        head=reader.head(r, "ChargeItem", p, entry.full_url),
        status=reader.code(r, "status", p, STATUS, required=True),
        code=_required_concept(reader, r, p),
        subject=reader.reference(r, "subject", p, required=True),
        context=reader.reference(r, "context", p),
        accounts=reader.references(r, "account", p),
        occurred=occurred,
        entered=reader.day(r, "enteredDate", p),
        quantity=reader.quantity(r, "quantity", p),
        factor=factor,
        price=reader.money(r, "priceOverride", p),
        price_sent="priceOverride" in r,
        cost_center=reader.reference(r, "costCenter", p),
        performing_organization=reader.reference(r, "performingOrganization", p),
    )


def _required_concept(reader: Reader, r: dict[str, object], p: str) -> Concept:
    concept = reader.concept(r, "code", p)
    if not concept:
        reader.problem(ProblemCode.MISSING_FIELD, f"{p}.code", "code is required")
    return concept


def to_events(item: ChargeItem, scope: Scope, key: str) -> list[CanonicalEvent]:
    if item.status not in ("billable", "entered-in-error"):
        scope.ignored.append(f"fhir.chargeitem: status {item.status or 'missing'} posts nothing")
        return []
    head = item.head
    if item.price is None:
        if item.price_sent:
            return []  # the reader has located what is wrong with it
        scope.reader.problem(
            ProblemCode.MISSING_AMOUNT,
            f"{head.path}.priceOverride",
            "ChargeItem has no priceOverride; list prices (ChargeItemDefinition) are not resolved",
            event_key=key,
        )
        return []
    amount = _amount(item.price, item.factor, scope, key)
    quantity = item.quantity if item.quantity is not None else Decimal(1)
    source = scope.source(head.path)
    occurred_on = scope.occurred(item.occurred, item.entered)
    facility = scope.service_provider(item.context)
    encounter = scope.local_id(item.context) or (scope.local_id(item.accounts[0]) if item.accounts else "")
    patient = scope.patient(item.subject)
    department = scope.text(item.cost_center) or scope.text(item.performing_organization)
    charge_id = head.id or head.full_url
    if item.status == "billable" and not amount.is_negative() and quantity >= 0:
        return [
            ChargeCaptured(
                key=key,
                source=source,
                occurred_on=occurred_on,
                facility=facility,
                charge_id=charge_id,
                encounter=encounter,
                patient=patient,
                department=department,
                procedure=code_of(item.code),
                quantity=quantity,
                amount=amount,
            )
        ]
    withdrawn = item.status == "entered-in-error"
    return [
        ChargeReversed(
            key=key + "#reversal" if withdrawn else key,
            source=source,
            occurred_on=occurred_on,
            facility=facility,
            charge_id=charge_id,
            original_charge_id=head.id if withdrawn else "",
            encounter=encounter,
            patient=patient,
            department=department,
            procedure=code_of(item.code),
            quantity=abs(quantity),
            amount=abs(amount),
        )
    ]


def _amount(price: Amount, factor: Decimal | None, scope: Scope, key: str) -> Money:
    if factor is None or factor == 1:
        return price.money()
    exact = Money(price.value * factor, price.currency)
    rounded = exact.rounded()
    if not exact.is_exact():
        scope.reader.problem(
            ProblemCode.INEXACT_AMOUNT,
            f"{price.path}.value",
            f"priceOverride x factorOverride = {exact.amount} {price.currency}; "
            f"rounded half-even to {rounded.amount}",
            severity=Severity.WARNING,
            event_key=key,
        )
    return rounded
