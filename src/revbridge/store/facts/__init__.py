"""The facts reconciliation compares, read from the store: one small reader per kind of fact.

``source`` (posting events, remittance headers), ``subledger`` (``event_lines``), ``journals``
(journals and their lines), ``embedded`` (what the embedded ERP holds), ``messages`` (messages and
their work-item codes) and ``receivables`` (AR balances, movements and drill-down) each turn rows
into the records of ``revbridge.reconcile.facts``; ``gather`` composes them for one business day
in one read-only transaction. Nothing here runs a control or writes: the controls are pure
(``revbridge.reconcile``) and the pipeline (``pipeline/reconciliation.py``) runs them.
"""

from revbridge.store.facts.embedded import EMBEDDED
from revbridge.store.facts.inputs import configuration_on, gather
from revbridge.store.facts.receivables import ar_events
from revbridge.store.facts.source import journal_id_of, message_id_of

__all__ = ["EMBEDDED", "ar_events", "configuration_on", "gather", "journal_id_of", "message_id_of"]
