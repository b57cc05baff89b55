"""Revenue-cycle analytics (issue 18): pure functions from booked facts to the figures finance reads.

Each report (``revenue``, ``denials``, ``ar-days``, ``operations``) is a function of frozen
records the store reads (``store/views/analytics.py``) and returns a ``Figures``: named tables
of plain values, Decimal money, ready for JSON, CSV, a terminal table or a chart. Money figures
are sums of posted journal lines (or of the events behind them), so every total ties to the
journals. Nothing here does I/O or knows a table; ``pipeline/analytics.py`` reads and composes.
Payers, codes and amounts only: no patient, encounter or claim identifier leaves a report.
"""

from revbridge.analytics.facts import (
    Adjudicated,
    CasTriple,
    ItemFact,
    JournalTiming,
    PostedLine,
    ReceivableBalance,
    Submitted,
)
from revbridge.analytics.figures import Figures, Period, Table, bucket

__all__ = [
    "Adjudicated",
    "CasTriple",
    "Figures",
    "ItemFact",
    "JournalTiming",
    "Period",
    "PostedLine",
    "ReceivableBalance",
    "Submitted",
    "Table",
    "bucket",
]
