"""Hand-made reconciliation facts: the worked ERA of DESIGN.md section 5, a charge batch, patient
cash, and the journals and ERP documents that carry them, built the way the store would."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile import (
    ErpDocument,
    ErpLine,
    EventFact,
    JournalFact,
    JournalLineFact,
    LineFact,
    MessageFact,
    RemittanceFact,
)

NOW = datetime(2026, 6, 16, 12, 0, tzinfo=UTC)
DAY = date(2026, 6, 15)
LE = "MHN"
R = AccountRole
_ids = itertools.count(1)


def usd(value: str) -> Money:
    return Money.of(value)


def line(
    event_key: str,
    role: AccountRole,
    net: str,
    *,
    account: str | None = None,
    payer_class: str = "MEDICARE",
    document: str | None = None,
    journal: str | None = None,
    facility: str = "MHN-STJ",
    cost_center: str = "",
    created_at: datetime = NOW - timedelta(minutes=5),
    posting_date: date = DAY,
    revision: str = "",
) -> LineFact:
    return LineFact(
        id=next(_ids),
        event_key=event_key,
        document_key=document or event_key,
        revision=revision,
        legal_entity=LE,
        posting_date=posting_date,
        account=account or ACCOUNTS[role],
        role=role,
        net=usd(net),
        facility=facility,
        cost_center=cost_center,
        payer_class=payer_class,
        journal_id=journal,
        journal_line_id=None,
        created_at=created_at,
    )


ACCOUNTS = {
    R.CASH_CLEARING: "1015",
    R.AR_UNBILLED: "1200",
    R.AR_PAYER: "1211",
    R.AR_PATIENT: "1220",
    R.GROSS_REVENUE: "4100",
    R.CONTRACTUAL_ALLOWANCE: "4510",
    R.ADMINISTRATIVE_WRITEOFF: "4520",
    R.DENIAL_WRITEOFF: "4530",
    R.CHARITY_CARE: "4540",
    R.INTEREST_INCOME: "7100",
    R.PAYER_CREDIT_BALANCE: "2155",
    R.OPENING_BALANCE: "3900",
}

# ---- the worked ERA (DESIGN.md section 5; revenue-accounting.md C.4) ----------------------------

ERA = "x12:835:MEDICARE:TRN1"
CLAIM_A, CLAIM_B_REV, CLAIM_B = f"{ERA}:A", f"{ERA}:B:22", f"{ERA}:B:1"
PLB_L6, PLB_WO = f"{ERA}:PLB:L6", f"{ERA}:PLB:WO"


def era_lines(journal: str | None = "J-ERA") -> list[LineFact]:
    """One event per draft line, as rules/remittance.py books the worked example."""

    def ln(key: str, role: AccountRole, net: str, payer_class: str = "MEDICARE") -> LineFact:
        return line(key, role, net, document=ERA, journal=journal, payer_class=payer_class)

    return [
        ln(ERA, R.CASH_CLEARING, "595.25"),
        # claim A: charge 1,250, CO-45 450, PR-1 100, PR-2 50, paid 650
        ln(CLAIM_A, R.CONTRACTUAL_ALLOWANCE, "450.00"),
        ln(CLAIM_A, R.AR_PATIENT, "150.00", "SELF_PAY"),
        ln(CLAIM_A, R.AR_PAYER, "-1250.00"),
        # claim B reversed: charge -300, CO-45 -100, paid -200
        ln(CLAIM_B_REV, R.CONTRACTUAL_ALLOWANCE, "-100.00"),
        ln(CLAIM_B_REV, R.AR_PAYER, "300.00"),
        # claim B corrected: charge 300, CO-45 120, paid 180
        ln(CLAIM_B, R.CONTRACTUAL_ALLOWANCE, "120.00"),
        ln(CLAIM_B, R.AR_PAYER, "-300.00"),
        ln(PLB_L6, R.INTEREST_INCOME, "-5.25"),
        ln(PLB_WO, R.PAYER_CREDIT_BALANCE, "40.00"),
    ]


def era_events(*, state: str = "staged", message_state: str = "processed") -> list[EventFact]:
    def ev(key: str, kind: str, amount: str) -> EventFact:
        return EventFact(
            key=key,
            kind=kind,
            message_id="M-ERA",
            facility="6543210903",
            occurred_on=DAY,
            amount=usd(amount),
            state=state,
            message_state=message_state,
        )

    return [
        ev(ERA, "RemittanceReceived", "595.25"),
        ev(CLAIM_A, "ClaimAdjudicated", "650.00"),
        ev(CLAIM_B_REV, "ClaimAdjudicated", "-200.00"),
        ev(CLAIM_B, "ClaimAdjudicated", "180.00"),
        ev(PLB_L6, "ProviderAdjustment", "-5.25"),
        ev(PLB_WO, "ProviderAdjustment", "40.00"),
    ]


def era_remittance(*, amount: str = "595.25", carries_cash: bool = True) -> RemittanceFact:
    return RemittanceFact(
        key=ERA,
        message_id="M-ERA",
        remittance_id="MEDICARE:TRN1",
        payer_id="MEDICARE",
        trace="TRN1",
        occurred_on=DAY,
        amount=usd(amount),
        carries_cash=carries_cash,
        member_keys=(CLAIM_A, CLAIM_B_REV, CLAIM_B, PLB_L6, PLB_WO),
    )


# ---- journals as the store builds them ----------------------------------------------------------


def journal(
    journal_id: str,
    rows: Sequence[LineFact],
    *,
    status: str = "posted",
    connector: str = "embedded",
    created_at: datetime = NOW - timedelta(minutes=5),
    last_error: str | None = None,
) -> tuple[JournalFact, list[LineFact]]:
    """Aggregate rows into journal lines (sides apart, like ledger.aggregate_lines) and link each
    row to its line; returns the journal and the linked rows."""
    groups: dict[tuple[str, AccountRole, str, str, str, str, bool], list[LineFact]] = defaultdict(list)
    for row in rows:
        debit = not row.net.is_negative()
        groups[
            (row.account, row.role, row.net.currency, row.facility, row.cost_center, row.payer_class, debit)
        ].append(row)
    lines: list[JournalLineFact] = []
    linked: list[LineFact] = []
    for (account, role, currency, facility, cost_center, payer_class, debit), members in sorted(
        groups.items(),
        key=lambda item: (item[0][0], item[0][1].value, item[0][4], item[0][5], not item[0][6]),
    ):
        total = Money.zero(currency)
        for m in members:
            total = total + abs(m.net)
        line_id = next(_ids)
        zero = Money.zero(currency)
        lines.append(
            JournalLineFact(
                id=line_id,
                account=account,
                role=role,
                debit=total if debit else zero,
                credit=zero if debit else total,
                facility=facility,
                cost_center=cost_center,
                payer_class=payer_class,
            )
        )
        linked.extend(replace(m, journal_id=journal_id, journal_line_id=line_id) for m in members)
    fact = JournalFact(
        id=journal_id,
        lane="realtime",
        legal_entity=LE,
        posting_date=DAY,
        status=status,
        connector=connector,
        erp_document="GL-00000001" if status == "posted" else None,
        last_error=last_error,
        created_at=created_at,
        lines=tuple(lines),
    )
    return fact, linked


def gl_document(fact: JournalFact, *, drop: Iterable[str] = ()) -> ErpDocument:
    """What the embedded ledger writes for a journal: one entry per line; ``drop`` leaves out the
    entries on these accounts (a deleted gl_entry)."""
    dropped = set(drop)
    return ErpDocument(
        reference=fact.id,
        document=fact.erp_document or "GL-?",
        lines=tuple(
            ErpLine(
                account=jl.account,
                debit=jl.debit,
                credit=jl.credit,
                facility=jl.facility,
                cost_center=jl.cost_center,
                payer_class=jl.payer_class,
            )
            for jl in fact.lines
            if jl.account not in dropped
        ),
    )


def by_event(rows: Iterable[LineFact]) -> dict[str, list[LineFact]]:
    found: dict[str, list[LineFact]] = defaultdict(list)
    for row in rows:
        found[row.event_key].append(row)
    return found


def message(
    message_id: str,
    status: str,
    *,
    channel: str = "mllp:10.0.0.5",
    received_at: datetime = NOW - timedelta(hours=1),
    work_items: tuple[str, ...] = (),
    duplicate_of: str | None = None,
    duplicate_found: bool = False,
    terminal_reason: str | None = "1 events",
) -> MessageFact:
    return MessageFact(
        id=message_id,
        channel=channel,
        format="hl7v2",
        status=status,
        received_at=received_at,
        duplicate_of=duplicate_of,
        duplicate_found=duplicate_found,
        terminal_reason=terminal_reason,
        work_items=work_items,
    )
