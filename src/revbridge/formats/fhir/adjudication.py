"""ClaimResponse and ExplanationOfBenefit (FHIR 4.0.1) -> ClaimAdjudicated.

Both say what a payer decided about a claim; only those that carry a ``payment`` post (a response
without one has moved no money yet). ``use`` other than ``claim``, outcome ``queued`` or ``error``
and status ``draft`` post nothing. ``cancelled`` and ``entered-in-error`` become a reversal: status
``22`` with every amount negated, as an 835 CLP02 = 22 carries them (key suffix ``#reversal``).
Otherwise status is ``1``; FHIR does not say whether the payer was primary.

Amounts. ``paid`` is payment.amount (the money that moved). charge is total[submitted], else the
items' submitted adjudications, else their net; when none is stated it is zero with a warning.
FHIR's own invariant is payment.amount = total[benefit] + payment.adjustment; a response that
breaks it (the official ClaimResponse pays 100.47 against a benefit of 90.47) is a TOTAL_MISMATCH
keyed to the event, never a silent pick. A total[category] is also checked against its items when
every item states that category.

Adjustments are only what the sender stated, in CAS terms (adjustments.py). Blue Button categories
(``.../variables/line_coinsrnc_amt`` etc., Synthea) are read by their last path segment. Nothing is
invented to make charge - adjustments = paid: Synthea's EOBs leave their unpriced encounter line
unexplained, and that gap stays visible to the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revbridge.canonical.events import CanonicalEvent, CasAdjustment, ClaimAdjudicated
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.formats.fhir.adjustments import (
    BENEFIT,
    Sums,
    adjustments_and_lines,
    charge_of,
    negate,
    negate_line,
)
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.claim import WITHDRAWN, Insurance, payer, read_insurance
from revbridge.formats.fhir.reader import Amount, Concept, Head, JsonObject, Reader, Ref, code_of
from revbridge.formats.fhir.scope import Scope

STATUS = frozenset({"active", "cancelled", "draft", "entered-in-error"})
USE = frozenset({"claim", "preauthorization", "predetermination"})
OUTCOME = frozenset({"queued", "complete", "error", "partial"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjudication:
    path: str
    category: str
    amount: Amount | None
    value: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdjudicatedItem:
    path: str
    sequence: int
    product: Concept
    net: Amount | None
    serviced: date | None
    adjudications: tuple[Adjudication, ...]

    def find(self, categories: frozenset[str]) -> Adjudication | None:
        return next((a for a in self.adjudications if a.category in categories and a.amount), None)

    def amount(self, categories: frozenset[str]) -> Amount | None:
        found = self.find(categories)
        return found.amount if found is not None else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Total:
    path: str
    category: str
    amount: Amount


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    path: str
    amount: Amount | None
    adjustment: Amount | None
    date: date | None
    identifier: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjudicated:
    head: Head
    status: str
    use: str
    outcome: str
    patient: Ref | None
    created: date | None
    insurer: Ref | None
    provider: Ref | None  # EOB.provider / ClaimResponse.requestor
    payee: Ref | None  # EOB.payee.party
    claim: Ref | None  # EOB.claim / ClaimResponse.request
    insurance: tuple[Insurance, ...]
    items: tuple[AdjudicatedItem, ...]
    totals: tuple[Total, ...]
    payment: Payment | None
    raw: JsonObject

    def total(self, categories: frozenset[str]) -> Total | None:
        return next((t for t in self.totals if t.category in categories), None)


def _category(concept: Concept) -> str:
    code = code_of(concept)
    return code.rsplit("/", 1)[-1] if "/" in code else code


def read(entry: Entry, reader: Reader) -> Adjudicated:
    r, p, kind = entry.resource, entry.path, entry.resource_type
    eob = kind == "ExplanationOfBenefit"
    if not code_of(reader.concept(r, "type", p)):
        reader.problem(ProblemCode.MISSING_FIELD, f"{p}.type", "type is required")
    items = [
        _item(reader, w, raw, "sequence" if eob else "itemSequence")
        for w, raw in reader.children(r, "item", p)
    ]
    items += [_item(reader, w, raw, "") for w, raw in reader.children(r, "addItem", p)]
    totals = []
    for where, raw in reader.children(r, "total", p):
        amount = reader.money(raw, "amount", where, required=True)
        category = _category(reader.concept(raw, "category", where))
        if amount is not None and category:
            totals.append(Total(path=where, category=category, amount=amount))
    return Adjudicated(
        head=reader.head(r, kind, p, entry.full_url),
        status=reader.code(r, "status", p, STATUS, required=True),
        use=reader.code(r, "use", p, USE, required=True),
        outcome=reader.code(r, "outcome", p, OUTCOME, required=True),
        patient=reader.reference(r, "patient", p, required=True),
        created=reader.day(r, "created", p, required=True),
        insurer=reader.reference(r, "insurer", p, required=True),
        provider=reader.reference(r, "provider" if eob else "requestor", p, required=eob),
        payee=_payee(reader, r, p) if eob else None,
        claim=reader.reference(r, "claim" if eob else "request", p),
        insurance=read_insurance(reader, r, p, required=eob),
        items=tuple(items),
        totals=tuple(totals),
        payment=_payment(reader, r, p),
        raw=r,
    )


def _item(reader: Reader, where: str, raw: JsonObject, sequence_name: str) -> AdjudicatedItem:
    adjudications = []
    for awhere, adj in reader.children(raw, "adjudication", where):
        adjudications.append(
            Adjudication(
                path=awhere,
                category=_category(reader.concept(adj, "category", awhere)),
                amount=reader.money(adj, "amount", awhere),
                value=reader.decimal(adj, "value", awhere),
            )
        )
    serviced = reader.day(raw, "servicedDate", where)
    if serviced is None:
        serviced = reader.period(raw, "servicedPeriod", where)[0]
    return AdjudicatedItem(
        path=where,
        sequence=(reader.integer(raw, sequence_name, where) or 0) if sequence_name else 0,
        product=reader.concept(raw, "productOrService", where),
        net=reader.money(raw, "net", where),
        serviced=serviced,
        adjudications=tuple(adjudications),
    )


def _payee(reader: Reader, r: JsonObject, p: str) -> Ref | None:
    raw = reader.child(r, "payee", p)
    return reader.reference(raw, "party", f"{p}.payee") if raw is not None else None


def _payment(reader: Reader, r: JsonObject, p: str) -> Payment | None:
    raw = reader.child(r, "payment", p)
    if raw is None:
        return None
    where = f"{p}.payment"
    return Payment(
        path=where,
        amount=reader.money(raw, "amount", where, required=True),
        adjustment=reader.money(raw, "adjustment", where),
        date=reader.day(raw, "date", where),
        identifier=reader.identifier(raw, "identifier", where)[1],
    )


def to_events(res: Adjudicated, scope: Scope, key: str) -> list[CanonicalEvent]:
    name = res.head.resource_type
    reason = _not_posting(res)
    if reason:
        scope.ignored.append(f"fhir.{name.lower()}: {reason}")
        return []
    # _not_posting has checked both.
    assert res.payment is not None
    assert res.payment.amount is not None
    reversal = res.status in WITHDRAWN
    if reversal:
        key += "#reversal"
    currency = res.payment.amount.currency
    sums = Sums(scope, key, currency)
    paid = sums.money(res.payment.amount)
    if paid is not None:
        _check_benefit(res, res.payment, paid, sums)
    for total in res.totals:
        sums.check_total(total, res.items)
    charge = charge_of(res, sums)
    adjustments, lines = adjustments_and_lines(res, sums)
    if paid is None or charge is None or sums.failed:
        return []
    sign = -1 if reversal else 1
    adjustments = [negate(a, sign) for a in adjustments]
    payer_id = payer(res.insurer, res.insurance, res.raw, scope)
    reference = res.payment.identifier or f"{name}/{res.head.id or res.head.full_url}"
    return [
        ClaimAdjudicated(
            key=key,
            source=scope.source(res.head.path),
            occurred_on=scope.occurred(res.payment.date, res.created),
            facility=_facility(res, scope),
            remittance_id=f"{payer_id}:{reference}",
            payer_id=payer_id,
            claim_id=scope.local_id(res.claim, res.raw),
            payer_claim_id=res.head.id,
            status="22" if reversal else "1",
            patient=scope.patient(res.patient),
            charge=charge * sign,
            paid=paid * sign,
            patient_responsibility=_patient_share(adjustments, currency),
            adjustments=tuple(adjustments),
            lines=tuple(negate_line(line, sign) for line in lines),
        )
    ]


def _check_benefit(res: Adjudicated, payment: Payment, paid: Money, sums: Sums) -> None:
    """FHIR's invariant: payment.amount = total[benefit] + payment.adjustment."""
    benefit = res.total(BENEFIT)
    if benefit is None or payment.amount is None:
        return
    expected = sums.money(benefit.amount)
    adjustment = sums.money(payment.adjustment) if payment.adjustment else Money.zero(sums.currency)
    if expected is not None and adjustment is not None and expected + adjustment != paid:
        sums.scope.reader.problem(
            ProblemCode.TOTAL_MISMATCH,
            f"{payment.amount.path}.value",
            f"payment.amount {paid} differs from total benefit {expected} plus payment.adjustment "
            f"{adjustment}",
            event_key=sums.key,
            details=(("payment", str(paid.amount)), ("benefit", str(expected.amount))),
        )


def _patient_share(adjustments: list[CasAdjustment], currency: str) -> Money:
    """What the patient owes: the sum of the PR adjustments, as CLP05 would state it."""
    share = Money.zero(currency)
    for adj in adjustments:
        if adj.group == "PR":
            share = share + adj.amount
    return share


def _facility(res: Adjudicated, scope: Scope) -> str:
    """Who is paid, as the 835's payee is: EOB.payee.party, else the provider of the claim it
    answers when that Claim came in the same document, else EOB.provider / ClaimResponse.requestor
    (an EOB's provider is often the rendering practitioner, not the billing organization)."""
    if res.payee is not None:
        return scope.text(res.payee)
    target = scope.resolve(res.claim, res.raw)
    if target is not None and target.resource_type == "Claim":
        provider = target.raw.get("provider")
        if isinstance(provider, dict) and isinstance(provider.get("reference"), str):
            return scope.text(Ref(path="", reference=provider["reference"]))
    return scope.text(res.provider)


def _not_posting(res: Adjudicated) -> str:
    if res.use != "claim":
        return f"use {res.use or 'missing'} pays nothing"
    if res.outcome not in ("complete", "partial"):
        return f"outcome {res.outcome or 'missing'} has adjudicated nothing"
    if res.status not in ("active", *WITHDRAWN):
        return f"status {res.status or 'missing'} posts nothing"
    if res.payment is None or res.payment.amount is None:
        return "no payment, so nothing to post"
    return ""
