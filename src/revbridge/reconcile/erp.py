"""Journal against ERP: what we sent under a reference against what the ERP holds under it.

An ERP does not know our events or roles; it knows a document per reference and amounts per
account (and, for ledgers that keep them, dimensions). So the comparison groups the journal's
lines the way the ERP can report them (``key``: ERP account code, currency and the dimensions the
document reports) and compares debits and credits per group, or nets where the ERP reports only
nets (Tryton's read-back). A group that differs is named with both figures; the daily tie-out
then treats every subledger line in that group as not acknowledged.

``account_document`` turns an account-level read-back (``TrytonConnector.balances([ref])``: net
per ERP account code) into an ``ErpDocument``; ``balances_reader`` does it for every posted
journal of a connector, the effect (the ERP call) passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from revbridge.core.money import Money
from revbridge.reconcile.facts import ErpDocument, ErpLine, JournalFact, JournalLineFact

Key = tuple[str, str, str, str, str]  # ERP account, currency, facility, cost centre, payer class
# Reads an ERP back: that connector's posted journals -> the documents the ERP holds for them.
Reader = Callable[[Sequence[JournalFact]], Mapping[str, ErpDocument]]


def key(
    document: ErpDocument | None,
    *,
    account: str,
    currency: str,
    facility: str,
    cost_center: str,
    payer_class: str,
) -> Key:
    """The group a journal line falls in, at the detail the ERP document reports."""
    if document is None:
        return (account, currency, facility, cost_center, payer_class)
    dims = document.dimensions
    return (
        dict(document.accounts).get(account, account),
        currency,
        facility if "facility" in dims else "",
        cost_center if "cost_center" in dims else "",
        payer_class if "payer_class" in dims else "",
    )


def line_key(document: ErpDocument | None, line: JournalLineFact) -> Key:
    return key(
        document,
        account=line.account,
        currency=line.debit.currency,
        facility=line.facility,
        cost_center=line.cost_center,
        payer_class=line.payer_class,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpDifference:
    key: Key
    ours_debit: Money
    ours_credit: Money
    erp_debit: Money
    erp_credit: Money
    netted: bool

    @property
    def ours_net(self) -> Money:
        return self.ours_debit - self.ours_credit

    @property
    def erp_net(self) -> Money:
        return self.erp_debit - self.erp_credit

    def describe(self) -> str:
        account, currency, facility, cost_center, payer_class = self.key
        dims = ", ".join(
            f"{n} {v}"
            for n, v in (("facility", facility), ("cost centre", cost_center), ("payer class", payer_class))
            if v
        )
        where = f"account {account}" + (f" ({dims})" if dims else "")
        if self.netted:
            return (
                f"{where}: we sent net {self.ours_net.amount} {currency}, the ERP holds {self.erp_net.amount}"
            )
        return (
            f"{where}: we sent Dr {self.ours_debit.amount} Cr {self.ours_credit.amount} {currency}, "
            f"the ERP holds Dr {self.erp_debit.amount} Cr {self.erp_credit.amount}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpComparison:
    journal_id: str
    document: ErpDocument | None
    differences: tuple[ErpDifference, ...]

    @property
    def missing(self) -> bool:
        return self.document is None

    @property
    def matches(self) -> bool:
        return self.document is not None and not self.differences

    def unmatched(self) -> frozenset[Key]:
        return frozenset(d.key for d in self.differences)


def _sums(
    items: Iterable[tuple[Key, Money, Money]],
) -> dict[Key, tuple[Money, Money]]:
    sums: dict[Key, tuple[Money, Money]] = {}
    for group, debit, credit in items:
        if group in sums:
            d, c = sums[group]
            sums[group] = (d + debit, c + credit)
        else:
            sums[group] = (debit, credit)
    return sums


def compare(journal: JournalFact, document: ErpDocument | None) -> ErpComparison:
    """Every group where the journal and the ERP document disagree (all of them when the ERP has
    no document under the journal's id)."""
    ours = _sums((line_key(document, ln), ln.debit, ln.credit) for ln in journal.lines)
    theirs = _sums(
        (
            (ln.account, ln.debit.currency, ln.facility, ln.cost_center, ln.payer_class),
            ln.debit,
            ln.credit,
        )
        for ln in (document.lines if document is not None else ())
    )
    netted = document.netted if document is not None else False
    differences = []
    for group in sorted(set(ours) | set(theirs)):
        currency = group[1]
        zero = Money.zero(currency)
        od, oc = ours.get(group, (zero, zero))
        ed, ec = theirs.get(group, (zero, zero))
        same = (od - oc == ed - ec) if netted else (od == ed and oc == ec)
        if not same or document is None:
            differences.append(
                ErpDifference(
                    key=group, ours_debit=od, ours_credit=oc, erp_debit=ed, erp_credit=ec, netted=netted
                )
            )
    return ErpComparison(journal_id=journal.id, document=document, differences=tuple(differences))


def account_document(
    *,
    reference: str,
    document: str,
    balances: Mapping[str, Decimal],
    currency: str,
    accounts: Mapping[str, str] | None = None,
) -> ErpDocument:
    """An ERP document from nets per ERP account code (debit positive); zero nets are dropped, as
    an ERP that reports balances cannot tell a zero from an absent account."""
    lines = []
    for code, net in sorted(balances.items()):
        if net == 0:
            continue
        amount = Money(abs(net), currency)
        zero = Money.zero(currency)
        lines.append(
            ErpLine(account=code, debit=amount if net > 0 else zero, credit=amount if net < 0 else zero)
        )
    return ErpDocument(
        reference=reference,
        document=document,
        lines=tuple(lines),
        dimensions=frozenset(),
        netted=True,
        accounts=tuple(sorted((accounts or {}).items())),
    )


def balances_reader(
    balances: Callable[[Sequence[str]], Mapping[str, Decimal]], *, accounts: Mapping[str, str] | None = None
) -> Reader:
    """A reader for an ERP that reports nets per account for chosen references, such as
    ``TrytonConnector.balances``: one read-back per journal, so each is compared on its own.
    ``accounts`` is the connector's map of our account numbers to the ERP's codes."""

    def read(posted: Sequence[JournalFact]) -> Mapping[str, ErpDocument]:
        found = {}
        for journal in posted:
            currency = journal.lines[0].debit.currency if journal.lines else "USD"
            found[journal.id] = account_document(
                reference=journal.id,
                document=journal.erp_document or "",
                balances=balances([journal.id]),
                currency=currency,
                accounts=accounts,
            )
        return found

    return read


def erp_document(erp: Any, reference: str | None = None) -> ErpDocument:
    """A journal as an ERP connector reads it back (``reference``, ``document``, ``lines`` of
    account, debit, credit and currency in our account numbers) as the controls compare it."""
    lines = tuple(
        ErpLine(
            account=line.account,
            debit=Money(line.debit, line.currency),
            credit=Money(line.credit, line.currency),
        )
        for line in erp.lines
    )
    return ErpDocument(
        reference=reference or str(erp.reference),
        document=str(erp.document),
        lines=lines,
        dimensions=frozenset(),
    )


def journals_reader(read_back: Callable[[Sequence[str]], Mapping[str, Any]], *, chunk: int = 500) -> Reader:
    """A reader for an ERP that returns, per reference, the journal it holds with a debit and a
    credit per line in our account numbers (a connector's ``read_back``: Oracle, Business
    Central, F&O, NetSuite): compared group by group, debits and credits apart. A reference the
    ERP does not hold is left out, so the journal is reported missing from the ERP."""

    def read(posted: Sequence[JournalFact]) -> Mapping[str, ErpDocument]:
        found: dict[str, ErpDocument] = {}
        for start in range(0, len(posted), chunk):
            part = posted[start : start + chunk]
            held = read_back([j.id for j in part])
            for journal in part:
                if journal.id in held:
                    found[journal.id] = erp_document(held[journal.id], journal.id)
        return found

    return read


def readers_for(connectors: Iterable[object], *, skip: frozenset[str] = frozenset()) -> dict[str, Reader]:
    """Readers for those connectors that can read their ERP back per reference: a
    ``read_back(references)`` method (journals with their lines), else a ``balances(references)``
    method (``TrytonConnector``: nets per account), with the connector's account map in
    ``settings.accounts``. Keyed by connector name, the name journals record; ``skip`` names
    connectors read back otherwise (the embedded ledger, from the store)."""
    found: dict[str, Reader] = {}
    for connector in connectors:
        name = getattr(connector, "name", None)
        if not isinstance(name, str) or name in skip or name in found:
            continue
        read_back = getattr(connector, "read_back", None)
        if callable(read_back):
            found[name] = journals_reader(read_back)
            continue
        balances = getattr(connector, "balances", None)
        if not callable(balances):
            continue
        accounts = getattr(getattr(connector, "settings", None), "accounts", None)
        found[name] = balances_reader(
            balances, accounts=dict(accounts) if isinstance(accounts, Mapping) else None
        )
    return found
