"""Which account role carries each event kind's source amount (DESIGN.md section 8).

The daily tie-out compares an event's headline amount (the charge, BPR02, CLP04, the payment)
with what the subledger booked for that event. A journal line names its role, so the comparison
reads the role that, by the reference rulebook (revenue-accounting.md C.3), carries the amount:

| event kind             | source amount     | carried by (signed, debit positive)                      |
|------------------------|-------------------|----------------------------------------------------------|
| ChargeCaptured         | the charge        | gross_revenue credit                                      |
| ChargeReversed         | the credit        | gross_revenue debit                                       |
| RemittanceReceived     | BPR02             | cash_clearing debit                                       |
| ClaimAdjudicated       | CLP04 (paid)      | payer AR relieved less the adjustments booked for the     |
|                        |                   | claim: minus the net of its non-cash lines                |
| ProviderAdjustment     | the PLB amount    | the net of its non-cash lines (the PLB reason's role)     |
| PatientPaymentReceived | the payment       | cash_clearing debit                                       |
| RefundIssued           | the refund        | cash_clearing credit                                      |
| AdjustmentPosted       | the adjustment    | ar_patient / ar_payer credit (the receivable it reduces)  |
| ClaimSubmitted         | CLM02             | ar_unbilled credit (the reclass, when the rulebook has    |
|                        |                   | one; by default a claim posts nothing)                    |

Claims and PLBs exclude cash because an 835's cash is one line on its payment header; a claim
response without a header books its own cash, and the formula gives CLP04 either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole
from revbridge.reconcile.facts import LineFact

Measure = Callable[[Iterable[LineFact], str], Money]


def _net(lines: Iterable[LineFact], currency: str, roles: frozenset[AccountRole] | None = None) -> Money:
    total = Money.zero(currency)
    for line in lines:
        if roles is None or line.role in roles:
            total = total + line.net
    return total


def _roles(*roles: AccountRole, sign: int) -> Measure:
    wanted = frozenset(roles)

    def measure(lines: Iterable[LineFact], currency: str) -> Money:
        net = _net(lines, currency, wanted)
        return net if sign > 0 else -net

    return measure


def _non_cash(sign: int) -> Measure:
    def measure(lines: Iterable[LineFact], currency: str) -> Money:
        net = _net((ln for ln in lines if ln.role is not AccountRole.CASH_CLEARING), currency)
        return net if sign > 0 else -net

    return measure


CARRIERS: Mapping[str, Measure] = MappingProxyType(
    {
        "ChargeCaptured": _roles(AccountRole.GROSS_REVENUE, sign=-1),
        "ChargeReversed": _roles(AccountRole.GROSS_REVENUE, sign=1),
        "RemittanceReceived": _roles(AccountRole.CASH_CLEARING, sign=1),
        "ClaimAdjudicated": _non_cash(sign=-1),
        "ProviderAdjustment": _non_cash(sign=1),
        "PatientPaymentReceived": _roles(AccountRole.CASH_CLEARING, sign=1),
        "RefundIssued": _roles(AccountRole.CASH_CLEARING, sign=-1),
        "AdjustmentPosted": _roles(AccountRole.AR_PATIENT, AccountRole.AR_PAYER, sign=-1),
        "ClaimSubmitted": _roles(AccountRole.AR_UNBILLED, sign=-1),
    }
)

# The role named in reports beside each kind.
CARRIER_ROLE: Mapping[str, str] = MappingProxyType(
    {
        "ChargeCaptured": "gross_revenue",
        "ChargeReversed": "gross_revenue",
        "RemittanceReceived": "cash_clearing",
        "ClaimAdjudicated": "ar_payer less adjustments",
        "ProviderAdjustment": "PLB reason role",
        "PatientPaymentReceived": "cash_clearing",
        "RefundIssued": "cash_clearing",
        "AdjustmentPosted": "ar_patient / ar_payer",
        "ClaimSubmitted": "ar_unbilled",
    }
)


def carried(kind: str, lines: Iterable[LineFact], currency: str) -> Money | None:
    """The amount the subledger carries for an event of ``kind``; None for a kind with no carrier."""
    measure = CARRIERS.get(kind)
    return measure(lines, currency) if measure is not None else None
