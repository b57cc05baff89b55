"""Reconciliation and controls (DESIGN.md section 8): pure functions over facts the store gathers.

``reconcile(Inputs, now=..., thresholds=...) -> Report`` runs every control: per remittance (cash
posted = BPR02), the daily tie-out per facility and event kind (source = subledger = journals =
ERP), journal integrity and ERP comparison, the AR roll-forward per legal entity and payer class,
and completeness of messages. Nothing here does I/O: the store's fact readers (``store/facts/``)
read the facts, ``pipeline/reconciliation.py`` runs the report and the CLI, API and workbench show
it. docs/reconciliation.md explains every figure.
"""

from revbridge.reconcile.breaks import Break, Control, Thresholds
from revbridge.reconcile.carrying_roles import CARRIER_ROLE, carried
from revbridge.reconcile.erp import account_document
from revbridge.reconcile.facts import (
    ArBalance,
    ErpDocument,
    ErpLine,
    EventFact,
    EventState,
    JournalFact,
    JournalLineFact,
    JournalStatus,
    LineFact,
    MessageFact,
    MessageState,
    RemittanceFact,
)
from revbridge.reconcile.report import Inputs, Report, reconcile

__all__ = [
    "CARRIER_ROLE",
    "ArBalance",
    "Break",
    "Control",
    "ErpDocument",
    "ErpLine",
    "EventFact",
    "EventState",
    "Inputs",
    "JournalFact",
    "JournalLineFact",
    "JournalStatus",
    "LineFact",
    "MessageFact",
    "MessageState",
    "RemittanceFact",
    "Report",
    "Thresholds",
    "account_document",
    "carried",
    "reconcile",
]
