"""What reconciliation reads: plain records of the store's rows, built by ``store/facts/``.

Reconciliation compares the same money as it appears at each stage (DESIGN.md section 8): the
source's events, the subledger rows the rules produced for them, the journals built from those
rows and the documents the ERP says it holds. Each stage is one record type here. Amounts are
``Money``; a subledger or ERP amount is signed debit-positive. Nothing here identifies a patient:
event keys, journal ids and ERP references are business identifiers already stored without PHI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from revbridge.core.money import Money
from revbridge.ledger.role import AccountRole


class EventState(StrEnum):
    """``events.state`` as the posting stage leaves it."""

    RECORDED = "recorded"  # not yet through the posting stage
    CONTEXT = "context"  # context only, posts nothing
    WAITING = "waiting"  # waits for its encounter or original
    STAGED = "staged"  # its lines are in the subledger
    EXCEPTED = "excepted"  # a work item holds it
    IGNORED = "ignored"  # an explicit rule says it posts nothing
    APPLIED = "applied"  # went through the rules and they post nothing for it


class MessageState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    WAITING = "waiting"
    PROCESSED = "processed"
    EXCEPTED = "excepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {MessageState.PROCESSED, MessageState.EXCEPTED, MessageState.IGNORED, MessageState.DUPLICATE}
)


class JournalStatus(StrEnum):
    STAGED = "staged"
    SUBMITTING = "submitting"
    ACCEPTED = "accepted"  # the ERP took it and is still working on it
    POSTED = "posted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFact:
    """One posting event (context events post nothing and are not reconciled by amount)."""

    key: str
    kind: str  # the canonical class name: ChargeCaptured, RemittanceReceived, ...
    message_id: str
    facility: str  # as sent; ``Inputs.facilities`` maps it to a facility code
    occurred_on: date
    amount: Money | None  # the headline amount (store/events.py ``headline``)
    state: str  # an EventState value; kept as text so an unknown state is reported, not a crash
    message_state: str  # the state of the message that carried it


@dataclass(frozen=True, slots=True, kw_only=True)
class RemittanceFact:
    """The payment header of a remittance (RemittanceReceived), with the keys of its members."""

    key: str
    message_id: str
    remittance_id: str  # payer + TRN02
    payer_id: str
    trace: str  # TRN02
    occurred_on: date
    amount: Money  # BPR02
    carries_cash: bool
    member_keys: tuple[str, ...]  # its ClaimAdjudicated and ProviderAdjustment events


@dataclass(frozen=True, slots=True, kw_only=True)
class LineFact:
    """One subledger row (``event_lines``): a draft line, exactly one event behind it."""

    id: int
    event_key: str
    document_key: str
    revision: str
    legal_entity: str
    posting_date: date
    account: str
    role: AccountRole
    net: Money  # debit positive
    facility: str
    cost_center: str
    payer_class: str
    journal_id: str | None  # None while its batch window is open
    journal_line_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalLineFact:
    id: int
    account: str
    role: AccountRole
    debit: Money
    credit: Money
    facility: str
    cost_center: str
    payer_class: str

    @property
    def net(self) -> Money:
        return self.debit - self.credit


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalFact:
    id: str
    lane: str
    legal_entity: str
    posting_date: date
    status: str  # a JournalStatus value
    connector: str
    erp_document: str | None
    last_error: str | None
    created_at: datetime
    lines: tuple[JournalLineFact, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpLine:
    """An amount as the ERP reports it. A dimension the ERP does not report is ""."""

    account: str  # the ERP's own account code
    debit: Money
    credit: Money
    facility: str = ""
    cost_center: str = ""
    payer_class: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErpDocument:
    """What the ERP holds under one of our journal ids, read back from the ERP itself.

    ``dimensions`` names the dimensions its lines report (the embedded ledger reports facility,
    cost centre and payer class; Tryton's read-back only accounts). ``netted``: the ERP reports a
    net per account, not debits and credits apart. ``accounts`` maps our account numbers to the
    ERP's codes where they differ (a connector setting).
    """

    reference: str
    document: str
    lines: tuple[ErpLine, ...]
    dimensions: frozenset[str] = frozenset({"facility", "cost_center", "payer_class"})
    netted: bool = False
    accounts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFact:
    id: str
    channel: str  # "mllp:10.0.0.5", "http:fhir:key", "file:era.835", "cli"
    format: str
    status: str  # a MessageState value
    received_at: datetime
    duplicate_of: str | None
    duplicate_found: bool  # the message it names as original exists
    terminal_reason: str | None
    work_items: tuple[str, ...]  # codes of every work item recorded against it, any status

    @property
    def source(self) -> str:
        """The channel kind: mllp, http, file, cli."""
        return self.channel.split(":", 1)[0] or "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArBalance:
    """A receivable balance from the subledger or the journals, per legal entity, payer class,
    role and currency; ``journaled`` says whether the rows behind it are in journals yet."""

    legal_entity: str
    payer_class: str
    role: AccountRole
    amount: Money  # debit positive
    journaled: bool = True
