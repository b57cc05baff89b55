"""PaymentReconciliation -> RemittanceReceived (+ ProviderAdjustment); PaymentNotice -> nothing.

A PaymentReconciliation is FHIR's remittance: one payment (``paymentAmount``, the 835's BPR02)
and the details it settles. Details of type ``payment`` are the per-claim payments; they post
through the ClaimResponses they name (``detail.response``), as an 835's CLP loops do, so here they
are counted, not posted. Every other detail (``adjustment``, ``advance``, ...) is money the payer
added or withheld outside any claim, which is what an 835 PLB is: it becomes a ProviderAdjustment
with the detail type as its reason (mapped by master data like a PLB reason) and the PLB sign
convention (positive reduces the payment), so the advance of -1500.00 becomes +1500.00. The
details must add up to paymentAmount; the official example's 7000.00 against details of 6000.00 is
a TOTAL_MISMATCH keyed to the remittance, which keeps the amount as sent.

``cancelled`` and ``entered-in-error`` reverse the remittance (amounts negated, key suffix
``#reversal``); ``draft`` posts nothing.

PaymentNotice only tells a party that a payment was sent or cleared. The money it mentions is
the money of the PaymentReconciliation it references; posting it again would count cash twice.
It is read and checked (its amount must be a valid, exact Money) and posts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from revbridge.canonical.events import CanonicalEvent, ProviderAdjustment, RemittanceReceived
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.claim import WITHDRAWN
from revbridge.formats.fhir.reader import Amount, Head, Reader, Ref, code_of
from revbridge.formats.fhir.scope import Scope

STATUS = frozenset({"active", "cancelled", "draft", "entered-in-error"})
NOTICE_STATUS = STATUS


@dataclass(frozen=True, slots=True, kw_only=True)
class Detail:
    path: str
    type: str
    identifier: str
    amount: Amount | None
    date: date | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentReconciliation:
    head: Head
    status: str
    created: date | None
    payment_date: date | None
    amount: Amount | None
    identifier: str
    issuer: Ref | None
    requestor: Ref | None
    details: tuple[Detail, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentNotice:
    head: Head
    status: str
    created: date | None
    payment: Ref | None
    recipient: Ref | None
    amount: Amount | None
    payment_date: date | None


def read(entry: Entry, reader: Reader) -> PaymentReconciliation:
    r, p = entry.resource, entry.path
    details = []
    for where, raw in reader.children(r, "detail", p):
        type_ = code_of(reader.concept(raw, "type", where))
        if not type_:
            reader.problem(ProblemCode.MISSING_FIELD, f"{where}.type", "detail type is required")
        details.append(
            Detail(
                path=where,
                type=type_,
                identifier=reader.identifier(raw, "identifier", where)[1],
                amount=reader.money(raw, "amount", where),
                date=reader.day(raw, "date", where),
            )
        )
    return PaymentReconciliation(
        head=reader.head(r, "PaymentReconciliation", p, entry.full_url),
        status=reader.code(r, "status", p, STATUS, required=True),
        created=reader.day(r, "created", p, required=True),
        payment_date=reader.day(r, "paymentDate", p, required=True),
        amount=reader.money(r, "paymentAmount", p, required=True),
        identifier=reader.identifier(r, "paymentIdentifier", p)[1],
        issuer=reader.reference(r, "paymentIssuer", p),
        requestor=reader.reference(r, "requestor", p),
        details=tuple(details),
    )


def read_notice(entry: Entry, reader: Reader) -> PaymentNotice:
    r, p = entry.resource, entry.path
    return PaymentNotice(
        head=reader.head(r, "PaymentNotice", p, entry.full_url),
        status=reader.code(r, "status", p, NOTICE_STATUS, required=True),
        created=reader.day(r, "created", p, required=True),
        payment=reader.reference(r, "payment", p, required=True),
        recipient=reader.reference(r, "recipient", p, required=True),
        amount=reader.money(r, "amount", p, required=True),
        payment_date=reader.day(r, "paymentDate", p),
    )


def notice_events(notice: PaymentNotice, scope: Scope, key: str) -> list[CanonicalEvent]:
    scope.ignored.append("fhir.paymentnotice: a notice of a payment posted through its PaymentReconciliation")
    return []


def to_events(rec: PaymentReconciliation, scope: Scope, key: str) -> list[CanonicalEvent]:
    if rec.status not in ("active", *WITHDRAWN) or rec.amount is None:
        if rec.amount is not None:
            scope.ignored.append(
                f"fhir.paymentreconciliation: status {rec.status or 'missing'} posts nothing"
            )
        return []
    head = rec.head
    reversal = rec.status in WITHDRAWN
    if reversal:
        key += "#reversal"
    amount = rec.amount.money()
    _check_details(rec.details, rec.amount, amount, scope, key)
    sign = -1 if reversal else 1
    payer_id = scope.text(rec.issuer)
    remittance = RemittanceReceived(
        key=key,
        source=scope.source(head.path),
        occurred_on=scope.occurred(rec.payment_date, rec.created),
        facility=scope.text(rec.requestor),
        remittance_id=f"{payer_id}:{rec.identifier or f'PaymentReconciliation/{head.id or head.full_url}'}",
        payer_id=payer_id,
        payer_name=rec.issuer.display if rec.issuer is not None else "",
        trace=rec.identifier,
        amount=amount * sign,
        claim_count=sum(1 for d in rec.details if d.type == "payment"),
    )
    return [remittance, *_provider_adjustments(rec, remittance, scope, sign)]


def _check_details(
    details: tuple[Detail, ...], stated: Amount, amount: Money, scope: Scope, key: str
) -> None:
    """The details must add up to paymentAmount (``stated``, read as ``amount``), in its currency."""
    currency = amount.currency
    detail_sum = Money.zero(currency)
    summable = bool(details)
    for detail in details:
        if detail.amount is None or detail.amount.currency != currency:
            if detail.amount is not None:
                scope.reader.problem(
                    ProblemCode.INVALID_VALUE,
                    f"{detail.amount.path}.currency",
                    f"{detail.amount.currency} differs from the payment's {currency}",
                    event_key=key,
                )
            summable = False
            continue
        detail_sum = detail_sum + detail.amount.money()
    if summable and detail_sum != amount:
        scope.reader.problem(
            ProblemCode.TOTAL_MISMATCH,
            f"{stated.path}.value",
            f"paymentAmount {amount} differs from the sum of its details {detail_sum}",
            event_key=key,
            details=(("paymentAmount", str(amount.amount)), ("details", str(detail_sum.amount))),
        )


def _provider_adjustments(
    rec: PaymentReconciliation, remittance: RemittanceReceived, scope: Scope, sign: int
) -> list[CanonicalEvent]:
    """Every detail that is not a claim payment, as a PLB would carry it (positive reduces)."""
    currency = remittance.amount.currency
    found: list[CanonicalEvent] = []
    for n, detail in enumerate(rec.details):
        if detail.type in ("payment", "") or detail.amount is None or detail.amount.currency != currency:
            continue
        found.append(
            ProviderAdjustment(
                key=f"{remittance.key}#detail[{n}]",
                source=scope.source(detail.path),
                occurred_on=scope.occurred(detail.date, remittance.occurred_on),
                facility=scope.text(rec.requestor),
                remittance_id=remittance.remittance_id,
                payer_id=remittance.payer_id,
                reason=detail.type,
                reference=detail.identifier,
                amount=-detail.amount.money() * sign,
            )
        )
    return found
