"""Account roles: the semantic name of every journal line (DESIGN.md section 5).

A role says what a line means (cash awaiting the bank, a payer's receivable, a contractual
deduction); master data maps a role, per legal entity and optionally payer class, to a GL account
number. Roles travel beside the account on every line so reconciliation and the AR roll-forward can
work by meaning, whatever each legal entity's chart calls the account.
"""

from __future__ import annotations

from enum import StrEnum


class AccountRole(StrEnum):
    CASH_CLEARING = "cash_clearing"
    AR_PAYER = "ar_payer"
    AR_PATIENT = "ar_patient"
    AR_UNBILLED = "ar_unbilled"
    GROSS_REVENUE = "gross_revenue"
    CONTRACTUAL_ALLOWANCE = "contractual_allowance"
    DENIAL_WRITEOFF = "denial_writeoff"
    ADMINISTRATIVE_WRITEOFF = "administrative_writeoff"
    CHARITY_CARE = "charity_care"
    BAD_DEBT = "bad_debt"
    INTEREST_INCOME = "interest_income"
    PAYER_CREDIT_BALANCE = "payer_credit_balance"
    PATIENT_CREDIT_BALANCE = "patient_credit_balance"
    # Prior-year cost-report settlements and other payer-level reimbursement that is neither a
    # claim payment nor interest (PLB CV capital pass-through, for one); revenue-accounting C.3 #28.
    THIRD_PARTY_SETTLEMENT = "third_party_settlement"
    SUSPENSE = "suspense"
    # The go-live cut-over's counterpart to the receivables open at cut-over (an equity or
    # clearing account): the opening journal is Dr AR / Cr opening_balance (golive.md).
    OPENING_BALANCE = "opening_balance"
