"""Journals and a connector for the Business Central tests (test_business_central*.py).

The journals use the reference chart's accounts and dimension values (examples/config), which
bc_erp.py seeds BC with, so every refusal a test sees is one it asked for.
"""

from __future__ import annotations

from datetime import date

from bc_erp import BcErp

from revbridge.connectors.business_central import BusinessCentralConnector, BusinessCentralSettings
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

DAY = date(2026, 6, 15)
SENTINEL = "MRN-SENTINEL-88812"


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def journal(
    n: int = 1,
    *,
    amount: str = "1250.10",
    debit_account: str = "1015",
    credit_account: str = "1211",
    cost_center: str = "CC-4100",
    payer: str = "MEDICARE",
    legal_entity: str = "MHN",
    day: date = DAY,
) -> Journal:
    """A two-line journal, distinct per ``n``; its event key is the PHI sentinel."""
    dims = Dimensions(legal_entity=legal_entity, facility="F01", cost_center=cost_center, payer_class=payer)
    debit = JournalLine.signed(
        account=debit_account,
        role=R.CASH_CLEARING,
        amount=Money.of(amount),
        dimensions=dims,
        event_keys=(f"{SENTINEL}:{n}",),
    )
    credit = JournalLine.signed(
        account=credit_account, role=R.AR_PAYER, amount=Money.of(f"-{amount}"), dimensions=dims
    )
    assert debit is not None and credit is not None
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=legal_entity,
        currency="USD",
        posting_date=day,
        source_document_key=f"{SENTINEL}:{n}",
        lines=(debit, credit),
    )
    return realtime_journal(draft)


def settings(erp: BcErp, **overrides: object) -> BusinessCentralSettings:
    values: dict[str, object] = {
        "tenant": erp.tenant,
        "environment": erp.environment,
        "client_id": erp.client_id,
        "client_secret": erp.client_secret,
        "base_url": erp.url,
        "token_url": erp.token_url,
        "timeout": 5.0,
    }
    return BusinessCentralSettings(**(values | overrides))  # type: ignore[arg-type]


def connect(erp: BcErp, *, monotonic: Ticks | None = None, **overrides: object) -> BusinessCentralConnector:
    return BusinessCentralConnector(settings(erp, **overrides), monotonic=monotonic or Ticks())
