"""Invoice (FHIR 4.0.1): read and checked, posts nothing.

An Invoice bills charges that were already captured as ChargeItems (its lineItems point at them),
so its amounts are not new revenue and not a receivable of their own: posting it would count the
charges twice. We read it so that a malformed or inconsistent invoice is still a located problem:
totalNet and totalGross must be valid Money in one currency, totalGross may not be below
totalNet, and when tax price components are stated (on the invoice or its lines) totalGross must
equal totalNet plus their sum. Discount and deduction components are not summed against totalNet:
R4 does not say whether their amounts are written negative, so any sum over them would be a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from revbridge.canonical.events import CanonicalEvent
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.formats.fhir.bundle import Entry
from revbridge.formats.fhir.reader import Amount, Head, JsonObject, Reader, Ref
from revbridge.formats.fhir.scope import Scope

STATUS = frozenset({"draft", "issued", "balanced", "cancelled", "entered-in-error"})
COMPONENT_TYPES = frozenset({"base", "surcharge", "deduction", "discount", "tax", "informational"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceComponent:
    path: str
    type: str
    amount: Amount | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    path: str
    charge_item: Ref | None
    components: tuple[PriceComponent, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    head: Head
    status: str
    date: date | None
    account: Ref | None
    total_net: Amount | None
    total_gross: Amount | None
    lines: tuple[InvoiceLine, ...]
    components: tuple[PriceComponent, ...]


def _components(reader: Reader, raw: JsonObject, where: str, name: str) -> tuple[PriceComponent, ...]:
    out = []
    for cwhere, component in reader.children(raw, name, where):
        out.append(
            PriceComponent(
                path=cwhere,
                type=reader.code(component, "type", cwhere, COMPONENT_TYPES, required=True),
                amount=reader.money(component, "amount", cwhere),
            )
        )
    return tuple(out)


def read(entry: Entry, reader: Reader) -> Invoice:
    r, p = entry.resource, entry.path
    lines = []
    for where, raw in reader.children(r, "lineItem", p):
        lines.append(
            InvoiceLine(
                path=where,
                charge_item=reader.reference(raw, "chargeItemReference", where),
                components=_components(reader, raw, where, "priceComponent"),
            )
        )
    return Invoice(
        head=reader.head(r, "Invoice", p, entry.full_url),
        status=reader.code(r, "status", p, STATUS, required=True),
        date=reader.day(r, "date", p),
        account=reader.reference(r, "account", p),
        total_net=reader.money(r, "totalNet", p),
        total_gross=reader.money(r, "totalGross", p),
        lines=tuple(lines),
        components=_components(reader, r, p, "totalPriceComponent"),
    )


def to_events(invoice: Invoice, scope: Scope, key: str) -> list[CanonicalEvent]:
    check(invoice, scope.reader)
    scope.ignored.append("fhir.invoice: an Invoice bills charges already captured from ChargeItems")
    return []


def check(invoice: Invoice, reader: Reader) -> None:
    net, gross = invoice.total_net, invoice.total_gross
    if net is None or gross is None:
        return
    if net.currency != gross.currency:
        reader.problem(
            ProblemCode.INVALID_VALUE,
            f"{gross.path}.currency",
            f"totalGross is in {gross.currency}, totalNet in {net.currency}",
        )
        return
    net_money, gross_money = net.money(), gross.money()
    if gross_money < net_money:
        reader.problem(
            ProblemCode.TOTAL_MISMATCH,
            f"{gross.path}.value",
            f"totalGross {gross_money} is below totalNet {net_money}",
        )
        return
    taxes = [c for c in invoice.components if c.type == "tax"]
    if not taxes:
        taxes = [c for line in invoice.lines for c in line.components if c.type == "tax"]
    if not taxes:
        return
    tax = Money.zero(net.currency)
    for component in taxes:
        if component.amount is None or component.amount.currency != net.currency:
            return
        tax = tax + component.amount.money()
    if net_money + tax != gross_money:
        reader.problem(
            ProblemCode.TOTAL_MISMATCH,
            f"{gross.path}.value",
            f"totalGross {gross_money} differs from totalNet {net_money} plus tax components {tax}",
            details=(("totalGross", str(gross_money.amount)), ("net+tax", str((net_money + tax).amount))),
        )
