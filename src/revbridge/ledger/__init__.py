"""The ledger: balanced journals and the pure policies around them.

This is the bottom of the accounting half of the pipeline. ``rules`` produces ``JournalDraft``s;
the pipeline stages them per lane, closes batch windows with ``batch_journals``, moves or refuses
postings in closed periods with ``place``, and replays with ``replay.diff``. A ``Journal`` cannot
exist unbalanced. Nothing here does I/O or knows master data.
"""

from revbridge.ledger.journal import (
    Dimensions,
    Journal,
    JournalDraft,
    JournalError,
    JournalLine,
    Lane,
    Side,
    aggregate_lines,
    batch_journals,
    journal_id,
    realtime_journal,
)
from revbridge.ledger.period import ClosedPeriodPolicy, Period, PeriodCalendar, PeriodStatus, place
from revbridge.ledger.replay import diff, net_positions
from revbridge.ledger.role import AccountRole
from revbridge.ledger.window import WindowPolicy, is_due

__all__ = [
    "AccountRole",
    "ClosedPeriodPolicy",
    "Dimensions",
    "Journal",
    "JournalDraft",
    "JournalError",
    "JournalLine",
    "Lane",
    "Period",
    "PeriodCalendar",
    "PeriodStatus",
    "Side",
    "WindowPolicy",
    "aggregate_lines",
    "batch_journals",
    "diff",
    "is_due",
    "journal_id",
    "net_positions",
    "place",
    "realtime_journal",
]
