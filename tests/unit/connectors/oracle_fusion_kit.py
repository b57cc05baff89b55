"""What the Oracle Fusion connector tests share: the connector against a fake Oracle, journals
with one wrong value, and a loop that checks accepted receipts until Oracle has answered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from oracle_erp import LEDGERS, OracleErp

from revbridge.connectors.base import Answer, Receipt
from revbridge.connectors.oracle_fusion import OracleFusionConnector, OracleFusionSettings
from revbridge.core.money import Money
from revbridge.ledger.journal import Dimensions, Journal, JournalDraft, JournalLine, Lane, realtime_journal
from revbridge.ledger.role import AccountRole as R

LEDGER_IDS = {entity: ledger for ledger, entity in LEDGERS.items()}
SENTINEL = "MRN-SENTINEL-55501"
OPENED: list[OracleFusionConnector] = []


def close_all() -> None:
    while OPENED:
        OPENED.pop().close()


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def connector(erp: OracleErp, *, oauth: bool = False, **overrides: object) -> OracleFusionConnector:
    auth: dict[str, object] = (
        {"token_url": "/oauth2/v1/token", "client_id": erp.client_id, "client_secret": erp.client_secret}
        if oauth
        else {"username": erp.username, "password": erp.password}
    )
    values: dict[str, object] = {"base_url": erp.url, "ledger_ids": LEDGER_IDS, "timeout": 5.0, **auth}
    values |= overrides
    clock = values.pop("monotonic", None)
    settings = OracleFusionSettings(**values)  # type: ignore[arg-type]
    made = (
        OracleFusionConnector(settings, monotonic=clock)
        if clock is not None
        else OracleFusionConnector(settings)
    )  # type: ignore[arg-type]
    OPENED.append(made)
    return made


def two_lines(
    credit_account: str = "1220",
    *,
    payer: str = "",
    day: date = date(2026, 6, 15),
    legal_entity: str = "MHN",
    key: str = "payment:1",
) -> Journal:
    """Cash debited, ``credit_account`` credited (line 2, carrying ``payer``); event keys hold PHI."""
    dims = Dimensions(legal_entity=legal_entity, facility="F01")
    lines = (
        JournalLine.signed(
            account="1015",
            role=R.CASH_CLEARING,
            amount=Money.of("125.40"),
            dimensions=dims,
            event_keys=(SENTINEL,),
        ),
        JournalLine.signed(
            account=credit_account,
            role=R.AR_PATIENT,
            amount=Money.of("-125.40"),
            dimensions=Dimensions(legal_entity=legal_entity, facility="F01", payer_class=payer),
        ),
    )
    draft = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity=legal_entity,
        currency="USD",
        posting_date=day,
        source_document_key=f"{key}:{SENTINEL}",
        lines=tuple(line for line in lines if line is not None),
    )
    return realtime_journal(draft)


def settle(oracle: OracleFusionConnector, receipts: Sequence[Receipt], checks: int = 10) -> dict[str, Answer]:
    """Check until every receipt has its final answer (or ``checks`` run out)."""
    done: dict[str, Answer] = {}
    for _ in range(checks):
        waiting = [r for r in receipts if r.reference not in done]
        if not waiting:
            break
        done |= oracle.check(waiting)
    return done


def line_nets(journal: Journal) -> dict[str, Decimal]:
    result: dict[str, Decimal] = {}
    for line in journal.lines:
        result[line.account] = result.get(line.account, Decimal(0)) + line.net.amount
    return result
