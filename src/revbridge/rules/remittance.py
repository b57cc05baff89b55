"""Remittances: one realtime journal per 835 transaction (revenue-accounting C.3 #6-#12, #21-#26).

Dr cash clearing = BPR02. Per claim, Cr the payer's receivable for the paid amount plus every
adjustment that posts, and Dr each adjustment's role from the CARC map (CO -> contractual,
PR -> patient receivable, a denial CARC -> denial write-off; informational categories such as
OA-23 post nothing on either side). Per PLB, Dr the role of its reason (L6 interest is negative,
so it lands as a credit to interest income). Reversals (CLP02 = 22) need nothing special: their
amounts arrive negative and every line flips side.

The balancing checks of TR3 1.10.2.1 come first, because the journal is only balanced if the 835
is: cash = sum(CLP04) - sum(PLB), and per claim CLP03 - sum(CAS) = CLP04. Any problem in any
part means no journal for the whole remittance: half an ERA in the ledger is worse than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from revbridge.canonical.events import ClaimAdjudicated, ProviderAdjustment, RemittanceReceived
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Problem, ProblemCode
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.masterdata.rulebook import EventKind
from revbridge.rules.booking import Booking, open_booking

NOTIFICATION_ONLY = "notification-only-remittance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Remittance:
    """A remittance and the claims and provider adjustments that belong to it, in order."""

    key: str  # the source document key of its journal
    header: RemittanceReceived | None  # absent for claim responses sent without a payment
    claims: tuple[ClaimAdjudicated, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]

    @property
    def first(self) -> RemittanceReceived | ClaimAdjudicated | ProviderAdjustment:
        if self.header is not None:
            return self.header
        return self.claims[0] if self.claims else self.provider_adjustments[0]


def group(
    events: Sequence[RemittanceReceived | ClaimAdjudicated | ProviderAdjustment],
) -> list[Remittance]:
    """Gather a document's remittance events by remittance id, keeping first-seen order."""
    order: list[str] = []
    headers: dict[str, RemittanceReceived] = {}
    claims: dict[str, list[ClaimAdjudicated]] = {}
    plbs: dict[str, list[ProviderAdjustment]] = {}
    for event in events:
        # A claim response without a remittance id stands alone.
        rid = event.remittance_id or f"claim:{event.key}"
        if rid not in order:
            order.append(rid)
        match event:
            case RemittanceReceived():
                headers[rid] = event
            case ClaimAdjudicated():
                claims.setdefault(rid, []).append(event)
            case ProviderAdjustment():
                plbs.setdefault(rid, []).append(event)
    return [
        Remittance(
            key=headers[rid].key if rid in headers else f"remittance:{rid}",
            header=headers.get(rid),
            claims=tuple(claims.get(rid, ())),
            provider_adjustments=tuple(plbs.get(rid, ())),
        )
        for rid in order
    ]


def remittance(item: Remittance, config: Configuration) -> JournalDraft | tuple[Problem, ...] | None:
    first = item.first
    header = item.header
    if header is not None and not header.carries_cash:
        return None
    booking = open_booking(config, first.facility, first.source, first.key)
    if isinstance(booking, Problem):
        return (booking,)
    if not booking.check(_amounts(item)):
        return tuple(booking.problems)
    payer = config.payer(first.payer_id, first.source, first.key)
    if isinstance(payer, Problem):
        return (payer,)
    problems = _balance(item, booking.entity.currency)
    if problems:
        return problems
    _book(item, booking, payer.payer_class)
    rule = config.rulebook.rule(EventKind.REMITTANCE)
    draft = booking.draft(lane=rule.lane, posting_date=first.occurred_on, source_document_key=item.key)
    return draft or tuple(booking.problems)


def _amounts(item: Remittance) -> list[Money]:
    amounts = [item.header.amount] if item.header is not None else []
    for claim in item.claims:
        amounts += [claim.charge, claim.paid, *(adj.amount for adj in claim.adjustments)]
    return amounts + [plb.amount for plb in item.provider_adjustments]


def _sum(amounts: list[Money], currency: str) -> Money:
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result


def _cash(item: Remittance, currency: str) -> Money:
    paid = _sum([claim.paid for claim in item.claims], currency)
    return paid - _sum([plb.amount for plb in item.provider_adjustments], currency)


def _balance(item: Remittance, currency: str) -> tuple[Problem, ...]:
    """An 835 (a remittance with its payment header) closes every claim it carries, so each must
    balance (TR3 1.10.2.1). A claim response on its own (a FHIR ExplanationOfBenefit) states only
    what it adjudicated: it relieves paid plus stated adjustments and leaves the rest in AR."""
    problems: list[Problem] = []
    for claim in item.claims if item.header is not None else ():
        adjusted = claim.charge - _sum([adj.amount for adj in claim.adjustments], currency)
        if adjusted != claim.paid:
            problems.append(
                Problem(
                    code=ProblemCode.UNBALANCED_CLAIM,
                    message=f"charge less adjustments is {adjusted.amount}, but paid is {claim.paid.amount}",
                    where=claim.source,
                    event_key=claim.key,
                    details=(("charge", str(claim.charge.amount)), ("paid", str(claim.paid.amount))),
                )
            )
    if item.header is not None and _cash(item, currency) != item.header.amount:
        cash = _cash(item, currency)
        problems.append(
            Problem(
                code=ProblemCode.UNBALANCED_REMITTANCE,
                message=f"claims paid less provider adjustments is {cash.amount}, but the payment is "
                f"{item.header.amount.amount}",
                where=item.header.source,
                event_key=item.header.key,
                details=(("payment", str(item.header.amount.amount)), ("computed", str(cash.amount))),
            )
        )
    return tuple(problems)


def _book(item: Remittance, booking: Booking, payer_class: str) -> None:
    config = booking.config
    rule = config.rulebook.rule(EventKind.REMITTANCE)
    currency = booking.entity.currency
    cash = rule.slot("cash")
    if item.header is not None:
        booking.post(cash, _cash(item, currency), payer_class=payer_class, event_keys=[item.header.key])
    else:
        # No payment header (claim responses alone): each claim's and PLB's cash under its own
        # key, so every draft line still names exactly one event.
        for claim in item.claims:
            booking.post(cash, claim.paid, payer_class=payer_class, event_keys=[claim.key])
        for plb in item.provider_adjustments:
            booking.post(cash, -plb.amount, payer_class=payer_class, event_keys=[plb.key])
    for claim in item.claims:
        relieved = claim.paid
        for adj in claim.adjustments:
            if adj.amount.is_zero():
                continue  # a zero CAS (common in 4010 reversals) moves nothing, mapped or not
            where = SourceRef(claim.source.message_id, adj.locator) if adj.locator else claim.source
            category = config.carc(adj.group, adj.reason, where, claim.key)
            if isinstance(category, Problem):
                booking.problems.append(category)
                continue
            if category.role is None:
                continue  # informational: neither the receivable nor any other account moves
            booking.post(
                rule.slot("adjustment"),
                adj.amount,
                payer_class=payer_class,
                role=category.role,
                event_keys=[claim.key],
                where=where,
            )
            relieved = relieved + adj.amount
        booking.post(rule.slot("receivable"), -relieved, payer_class=payer_class, event_keys=[claim.key])
    for plb in item.provider_adjustments:
        role = config.plb(plb.reason, plb.source, plb.key)
        if isinstance(role, Problem):
            booking.problems.append(role)
            continue
        booking.post(
            rule.slot("provider_adjustment"),
            plb.amount,
            payer_class=payer_class,
            role=role,
            event_keys=[plb.key],
        )
