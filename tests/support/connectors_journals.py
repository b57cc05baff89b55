"""Journals the connector tests post: built with the ledger's own lane functions.

``remittance`` is DESIGN.md section 5's worked Medicare ERA (cash 595.25, contractual allowance
470.00, patient transfer 150.00, recoupment 40.00, AR 1,550.00 credited and 300.00 reinstated,
interest 5.25). ``charge_batch`` is a window of charges across three departments and two payers,
closed with ``batch_journals``. Account numbers and cost centres are the reference configuration's
(examples/config: MERCY-US), which tests/support/tryton.py builds in Tryton too.
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

LE = "MHN"
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
        _line("1015", R.CASH_CLEARING, "595.25", key=f"835:{trn}:cash", le=le),
        _line("4510", R.CONTRACTUAL_ALLOWANCE, "470.00", payer="MEDICARE", cost_center="CC-4100", le=le),
        _line("1220", R.AR_PATIENT, "150.00", payer="MEDICARE", le=le),
        _line("2155", R.PAYER_CREDIT_BALANCE, "40.00", payer="MEDICARE", le=le),
        _line("1211", R.AR_PAYER, "-1550.00", payer="MEDICARE", le=le),
        _line("1211", R.AR_PAYER, "300.00", payer="MEDICARE", le=le),
        _line("7100", R.INTEREST_INCOME, "-5.25", payer="MEDICARE", le=le),
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


CHARGES = (  # cost centre, revenue account, payer class (blank: unbilled), amount
    ("CC-4100", "4100", "MEDICARE", "1000.00"),
    ("CC-4110", "4110", "COMMERCIAL", "800.50"),
    ("CC-4120", "4120", "", "120.00"),
    ("CC-4100", "4100", "COMMERCIAL", "99.99"),
)
AR = {"MEDICARE": "1211", "COMMERCIAL": "1214"}


def charge_batch(day: date = DAY, window: str = "batch:MHN:2026-06-15T08:00:00+00:00") -> Journal:
    drafts = []
    for n, (centre, revenue_account, payer, amount) in enumerate(CHARGES, start=1):
        ar = _line(AR.get(payer, "1200"), R.AR_PAYER if payer else R.AR_UNBILLED, amount, payer=payer)
        revenue = _line(revenue_account, R.GROSS_REVENUE, f"-{amount}", payer=payer, cost_center=centre)
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
        lines=(_line("1015", R.CASH_CLEARING, amount), _line("1220", R.AR_PATIENT, f"-{amount}")),
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


def nonzero(values: dict[str, Decimal]) -> dict[str, Decimal]:
    """The accounts whose balance is not zero: an ERP's balances compared with ``nets``."""
    return {k: v for k, v in values.items() if v != 0}
