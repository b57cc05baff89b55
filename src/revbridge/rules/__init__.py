"""Posting rules: canonical events + configuration -> balanced journal drafts (DESIGN.md section 5).

``post(events, config, context) -> Posted`` (posting.py) is the whole posting stage and every
money decision: context changes, the rulebook (``apply``, one source document at a time),
replay's difference, closed periods, realtime journals, event states. The rulebook itself is
configuration and lives in ``revbridge.masterdata``; this package computes the lines.
"""

from revbridge.rules.apply import apply
from revbridge.rules.context import (
    NO_CONTEXT,
    ChargeFacts,
    Context,
    EncounterFacts,
    PostingContext,
    Standing,
    StaticContext,
    needs,
)
from revbridge.rules.outcome import Posting, Waiting, WaitReason
from revbridge.rules.posting import EventState, Posted, close_window, post
from revbridge.rules.remittance import NOTIFICATION_ONLY

__all__ = [
    "NOTIFICATION_ONLY",
    "NO_CONTEXT",
    "ChargeFacts",
    "Context",
    "EncounterFacts",
    "EventState",
    "Posted",
    "Posting",
    "PostingContext",
    "Standing",
    "StaticContext",
    "WaitReason",
    "Waiting",
    "apply",
    "close_window",
    "needs",
    "post",
]
