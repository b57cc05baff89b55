"""``apply``: the posting events of one source document -> journal drafts, problems or a wait.

Pure: the configuration and the store's context come in as arguments, the clock does not exist
here. The document is what one message (or one 835 transaction) carries: a DFT's FT1s, an ERA's
remittance with its claims and provider adjustments, one portal payment. Context events in it are
skipped; the pipeline records them before it applies the document.

Every posting event gets its own draft (one journal per source document in the realtime lane,
one staging unit in the batch lane), except a remittance, whose claims and provider adjustments
share its one journal. A problem for an event means no lines for that event; a problem anywhere
in a remittance means no lines for the remittance.
"""

from __future__ import annotations

from collections.abc import Sequence

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    ChargeCaptured,
    ChargeReversed,
    ClaimAdjudicated,
    ClaimSubmitted,
    CoverageUpdated,
    EncounterCancelled,
    EncounterRegistered,
    EncounterUpdated,
    PatientPaymentReceived,
    PaymentPlanUpdated,
    ProviderAdjustment,
    RefundIssued,
    RemittanceReceived,
)
from revbridge.core.problem import Problem
from revbridge.ledger.journal import JournalDraft
from revbridge.masterdata.configuration import Configuration
from revbridge.rules import charge, patient, remittance
from revbridge.rules.context import PostingContext
from revbridge.rules.outcome import Posting, Waiting


def apply(
    events: Sequence[CanonicalEvent],
    config: Configuration,
    context: PostingContext,
    *,
    final: bool = False,
) -> Posting:
    drafts: list[JournalDraft] = []
    problems: list[Problem] = []
    waiting: list[Waiting] = []
    remittance_events: list[RemittanceReceived | ClaimAdjudicated | ProviderAdjustment] = []

    def take(result: JournalDraft | Waiting | tuple[Problem, ...] | None) -> None:
        match result:
            case JournalDraft():
                drafts.append(result)
            case Waiting():
                waiting.append(result)
            case None:
                pass  # nothing to post, by rule
            case _:
                problems.extend(result)

    for event in events:
        match event:
            case ChargeCaptured():
                take(charge.charge(event, config, context, final=final))
            case ChargeReversed():
                take(charge.reversal(event, config, context, final=final))
            case PatientPaymentReceived():
                take(patient.payment(event, config))
            case RefundIssued():
                take(patient.refund(event, config))
            case AdjustmentPosted():
                take(patient.adjustment(event, config, context, final=final))
            case ClaimSubmitted():
                take(patient.claim(event, config))
            case RemittanceReceived() | ClaimAdjudicated() | ProviderAdjustment():
                remittance_events.append(event)
            case (
                EncounterRegistered()
                | EncounterUpdated()
                | EncounterCancelled()
                | CoverageUpdated()
                | PaymentPlanUpdated()
            ):
                continue
    notification_only = False
    for item in remittance.group(remittance_events):
        result = remittance.remittance(item, config)
        notification_only = notification_only or (result is None and item.header is not None)
        take(result)
    if waiting:
        return Posting(waiting=tuple(waiting))
    ignored = remittance.NOTIFICATION_ONLY if notification_only and not drafts and not problems else None
    # The same problem (one unmapped account for many claims) is reported once, in order.
    return Posting(drafts=tuple(drafts), problems=tuple(dict.fromkeys(problems)), ignored_by=ignored)
