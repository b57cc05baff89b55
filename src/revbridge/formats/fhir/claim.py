"""Claim (FHIR 4.0.1) -> ClaimSubmitted.

Only ``use = claim`` is a request for payment; preauthorizations and predeterminations post
nothing. ``draft`` claims post nothing; ``cancelled`` and ``entered-in-error`` become a void
(frequency 8, as CLM05-3 would say; key suffix ``#void``).

Totals. Claim.total is optional in R4. When it is absent the claim's total is the sum of its items'
amounts, which needs every item priced; an unpriced item then leaves the claim without a total (a
MISSING_AMOUNT problem). An item's amount is its ``net``, else ``quantity x unitPrice x factor``
(quantity and factor 1 when absent, as the spec's formula says); when both are sent and disagree,
that is a TOTAL_MISMATCH at the item. When Claim.total is sent and every item is priced, a total
that differs from the items' sum is a TOTAL_MISMATCH at Claim.total: the event keeps the total as
sent and the problem, keyed to the event, holds it. Items without any amount (Synthea's encounter
line) are left out of ``lines``: an unpriced line is not a zero charge. Item details are not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent, ClaimLine, ClaimSubmitted
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.reader import Amount, Concept, Head, JsonObject, Reader, Ref, code_of
from revbridge.formats.fhir.scope import Scope

STATUS = frozenset({"active", "cancelled", "draft", "entered-in-error"})
USE = frozenset({"claim", "preauthorization", "predetermination"})
WITHDRAWN = frozenset({"cancelled", "entered-in-error"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimItem:
    path: str
    sequence: int
    product: Concept
    modifiers: tuple[str, ...]
    revenue: Concept
    quantity: Decimal | None
    unit_price: Amount | None
    factor: Decimal | None
    net: Amount | None
    serviced: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Insurance:
    path: str
    sequence: int
    focal: bool
    coverage: Ref | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    head: Head
    status: str
    use: str
    claim_type: str
    patient: Ref | None
    created: date | None
    billable_start: date | None
    provider: Ref | None
    insurer: Ref | None
    insurance: tuple[Insurance, ...]
    total: Amount | None
    items: tuple[ClaimItem, ...]
    raw: JsonObject  # for contained Coverage lookups


def read(entry: Entry, reader: Reader) -> Claim:
    r, p = entry.resource, entry.path
    claim_type = code_of(reader.concept(r, "type", p))
    if not claim_type:
        reader.problem(ProblemCode.MISSING_FIELD, f"{p}.type", "type is required")
    return Claim(
        head=reader.head(r, "Claim", p, entry.full_url),
        status=reader.code(r, "status", p, STATUS, required=True),
        use=reader.code(r, "use", p, USE, required=True),
        claim_type=claim_type,
        patient=reader.reference(r, "patient", p, required=True),
        created=reader.day(r, "created", p, required=True),
        billable_start=reader.period(r, "billablePeriod", p)[0],
        provider=reader.reference(r, "provider", p, required=True),
        insurer=reader.reference(r, "insurer", p),
        insurance=read_insurance(reader, r, p, required=True),
        total=reader.money(r, "total", p),
        items=tuple(_item(reader, where, raw) for where, raw in reader.children(r, "item", p)),
        raw=r,
    )


def read_insurance(reader: Reader, r: JsonObject, p: str, *, required: bool) -> tuple[Insurance, ...]:
    out = []
    for where, raw in reader.children(r, "insurance", p, required=required):
        out.append(
            Insurance(
                path=where,
                sequence=reader.integer(raw, "sequence", where) or 0,
                focal=bool(reader.boolean(raw, "focal", where)),
                coverage=reader.reference(raw, "coverage", where, required=True),
            )
        )
    return tuple(out)


def _item(reader: Reader, where: str, raw: JsonObject) -> ClaimItem:
    sequence = reader.integer(raw, "sequence", where)
    if sequence is None or sequence < 1:
        reader.problem(ProblemCode.MISSING_FIELD, f"{where}.sequence", "sequence must be a positive integer")
        sequence = 0
    serviced = reader.day(raw, "servicedDate", where)
    if serviced is None:
        serviced = reader.period(raw, "servicedPeriod", where)[0]
    return ClaimItem(
        path=where,
        sequence=sequence,
        product=reader.concept(raw, "productOrService", where),
        modifiers=tuple(code_of(c) for c in reader.concepts(raw, "modifier", where) if code_of(c)),
        revenue=reader.concept(raw, "revenue", where),
        quantity=reader.quantity(raw, "quantity", where),
        unit_price=reader.money(raw, "unitPrice", where),
        factor=reader.decimal(raw, "factor", where),
        net=reader.money(raw, "net", where),
        serviced=serviced,
    )


def payer(claim_insurer: Ref | None, insurance: tuple[Insurance, ...], raw: JsonObject, scope: Scope) -> str:
    """The insurer as sent, else the payor of the focal (or first) coverage."""
    text = scope.text(claim_insurer)
    if text:
        return text
    chosen = next((i for i in insurance if i.focal), insurance[0] if insurance else None)
    return scope.payer_of_coverage(chosen.coverage, raw) if chosen is not None else ""


def to_events(claim: Claim, scope: Scope, key: str) -> list[CanonicalEvent]:
    if claim.use != "claim" or claim.status in ("draft", ""):
        reason = f"use {claim.use}" if claim.use != "claim" else f"status {claim.status or 'missing'}"
        scope.ignored.append(f"fhir.claim: {reason} asks for no payment")
        return []
    if claim.status in WITHDRAWN:
        key += "#void"
    lines = _lines(claim, scope, key)
    total = _total(claim, lines, scope, key)
    if total is None:
        return []
    head = claim.head
    return [
        ClaimSubmitted(
            key=key,
            source=scope.source(head.path),
            occurred_on=scope.occurred(claim.created, claim.billable_start),
            facility=scope.text(claim.provider),
            claim_id=head.id or head.full_url,
            payer_id=payer(claim.insurer, claim.insurance, claim.raw, scope),
            patient=scope.patient(claim.patient),
            claim_type=claim.claim_type,
            frequency="8" if claim.status in WITHDRAWN else "1",
            total=total,
            lines=tuple(lines),
        )
    ]


def _lines(claim: Claim, scope: Scope, key: str) -> list[ClaimLine]:
    """The priced items; an item without any amount is no line (see the module docstring)."""
    lines: list[ClaimLine] = []
    for item in claim.items:
        charge = item_charge(item, scope, key)
        if charge is None:
            continue
        lines.append(
            ClaimLine(
                line_number=item.sequence,
                procedure=":".join((code_of(item.product), *item.modifiers)).strip(":"),
                revenue_code=code_of(item.revenue),
                charge=charge,
                units=item.quantity if item.quantity is not None else Decimal(1),
                service_date=item.serviced,
            )
        )
    return lines


def _total(claim: Claim, lines: list[ClaimLine], scope: Scope, key: str) -> Money | None:
    """Claim.total as sent (checked against its items when all are priced), else their sum."""
    line_sum = _sum(lines, claim, scope)
    all_priced = bool(claim.items) and len(lines) == len(claim.items)
    if claim.total is not None:
        total = claim.total.money()
        if all_priced and line_sum is not None and line_sum != total:
            scope.reader.problem(
                ProblemCode.TOTAL_MISMATCH,
                f"{claim.total.path}.value",
                f"Claim.total {total} differs from the sum of its items {line_sum}",
                event_key=key,
                details=(("total", str(total.amount)), ("items", str(line_sum.amount))),
            )
        return total
    if all_priced and line_sum is not None:
        # No Claim.total: R4 leaves it optional, so the claim totals its items.
        return line_sum
    scope.reader.problem(
        ProblemCode.MISSING_AMOUNT,
        f"{claim.head.path}.total",
        "Claim has no total and not every item has an amount to derive it from",
        event_key=key,
    )
    return None


def item_charge(item: ClaimItem, scope: Scope, key: str) -> Money | None:
    computed: Money | None = None
    if item.unit_price is not None:
        quantity = item.quantity if item.quantity is not None else Decimal(1)
        factor = item.factor if item.factor is not None else Decimal(1)
        exact = Money(item.unit_price.value * quantity * factor, item.unit_price.currency)
        computed = exact.rounded()
        if item.net is None and not exact.is_exact():
            scope.reader.problem(
                ProblemCode.INEXACT_AMOUNT,
                f"{item.path}.unitPrice.value",
                f"quantity x unitPrice x factor = {exact.amount} {exact.currency}; "
                f"rounded half-even to {computed.amount}",
                severity=Severity.WARNING,
                event_key=key,
            )
    if item.net is None:
        return computed
    net = item.net.money()
    if computed is not None and computed != net:
        scope.reader.problem(
            ProblemCode.TOTAL_MISMATCH,
            f"{item.net.path}.value",
            f"item net {net} differs from quantity x unitPrice x factor = {computed}",
            event_key=key,
            details=(("net", str(net.amount)), ("computed", str(computed.amount))),
        )
    return net


def _sum(lines: list[ClaimLine], claim: Claim, scope: Scope) -> Money | None:
    if not lines:
        return None
    currency = claim.total.currency if claim.total is not None else lines[0].charge.currency
    total = Money.zero(currency)
    for line in lines:
        if line.charge.currency != currency:
            scope.reader.problem(
                ProblemCode.INVALID_VALUE,
                claim.head.path,
                f"items are in {line.charge.currency} and {currency}; one claim needs one currency",
            )
            return None
        total = total + line.charge
    return total
