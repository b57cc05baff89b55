"""Journals the connector tests post: built with the ledger's own lane functions.

``remittance`` is DESIGN.md section 5's worked Medicare ERA (cash 595.25, contractual allowance
470.00, patient transfer 150.00, recoupment 40.00, AR 1,550.00 credited and 300.00 reinstated,
interest 5.25). ``charge_batch`` is a window of charges across three departments and two payers,
closed with ``batch_journals``. Account numbers are the test chart's (tests/support/tryton.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from revbridge.core.money import Money
from revbridge.ledger.journal import (
    Dimensions,
    Journal,
    JournalDraft,
    JournalLine,
    Lane,
    batch_journals,
    realtime_journal,
)
from revbridge.ledger.role import AccountRole as R

LE = "LE01"
DAY = date(2026, 6, 15)


def _line(
    account: str, role: R, signed: str, *, payer: str = "", cost_center: str = "", key: str = "", le: str = LE
) -> JournalLine:
    line = JournalLine.signed(
        account=account,
        role=role,
        amount=Money.of(signed),
        dimensions=Dimensions(legal_entity=le, facility="F01", payer_class=payer, cost_center=cost_center),
        event_keys=(key,) if key else (),
    )
    assert line is not None
    return line


def remittance(day: date = DAY, trn: str = "TRN0001", *, legal_entity: str = LE) -> Journal:
    le = legal_entity
    lines = (
        _line("1010", R.CASH_CLEARING, "595.25", key=f"835:{trn}:cash", le=le),
        _line("4100", R.CONTRACTUAL_ALLOWANCE, "470.00", payer="Medicare", cost_center="ED", le=le),
        _line("1220", R.AR_PATIENT, "150.00", payer="Medicare", le=le),
        _line("2150", R.PAYER_CREDIT_BALANCE, "40.00", payer="Medicare", le=le),
        _line("1210", R.AR_PAYER, "-1550.00", payer="Medicare", le=le),
        _line("1210", R.AR_PAYER, "300.00", payer="Medicare", le=le),
        _line("4500", R.INTEREST_INCOME, "-5.25", payer="Medicare", le=le),
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=le,
        currency="USD",
        posting_date=day,
        source_document_key=f"835:MEDICARE:{trn}",
        lines=lines,
    )
    return realtime_journal(draft)


CHARGES = (  # department, payer class (blank: unbilled), amount
    ("ED", "Medicare", "1000.00"),
    ("RAD", "Commercial", "800.50"),
    ("LAB", "", "120.00"),
    ("ED", "Commercial", "99.99"),
)


def charge_batch(day: date = DAY, window: str = "batch:LE01:2026-06-15T08:00:00+00:00") -> Journal:
    drafts = []
    for n, (department, payer, amount) in enumerate(CHARGES, start=1):
        ar = _line("1210" if payer else "1230", R.AR_PAYER if payer else R.AR_UNBILLED, amount, payer=payer)
        revenue = _line("4000", R.GROSS_REVENUE, f"-{amount}", payer=payer, cost_center=department)
        drafts.append(
            JournalDraft(
                lane=Lane.BATCH,
                legal_entity=LE,
                currency="USD",
                posting_date=day,
                source_document_key=f"charge:{n}",
                lines=(ar, revenue),
            )
        )
    (journal,) = batch_journals(drafts, window)
    return journal


def small(n: int, day: date = DAY) -> Journal:
    """A two-line journal, distinct per ``n`` (the outage test stages thousands)."""
    amount = f"{(n % 997) + 1}.{n % 100:02d}"
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=LE,
        currency="USD",
        posting_date=day,
        source_document_key=f"payment:{n}",
        lines=(_line("1010", R.CASH_CLEARING, amount), _line("1220", R.AR_PATIENT, f"-{amount}")),
    )
    return realtime_journal(draft)


def nets(journals: list[Journal], mapping: Mapping[str, str] | None = None) -> dict[str, Decimal]:
    """Net (debit positive) per account, our numbers mapped through ``mapping`` when given."""
    result: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            account = (mapping or {}).get(line.account, line.account)
            result[account] = result.get(account, Decimal(0)) + line.net.amount
    return {account: net for account, net in result.items() if net != 0}
