"""Posting rules: canonical events + configuration -> balanced journal drafts (DESIGN.md section 5).

``apply(events, config, context, final=False) -> Posting`` is the whole interface. The rulebook
itself is configuration and lives in ``revbridge.masterdata``; this package computes the lines.
"""

from revbridge.rules.apply import apply
from revbridge.rules.context import NO_CONTEXT, ChargeFacts, EncounterFacts, PostingContext, StaticContext
from revbridge.rules.posting import Posting, Waiting, WaitReason
from revbridge.rules.remittance import NOTIFICATION_ONLY

__all__ = [
    "NOTIFICATION_ONLY",
    "NO_CONTEXT",
    "ChargeFacts",
    "EncounterFacts",
    "Posting",
    "PostingContext",
    "StaticContext",
    "WaitReason",
    "Waiting",
    "apply",
]
