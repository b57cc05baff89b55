"""The shared corpus's 835s through the X12 reader and the reference configuration (issue 6's
acceptance, in pure form): every balanced ERA that carries cash posts cash = BPR02, contractual
allowances = its CO adjustments, patient transfers = its PR adjustments; notification-only ERAs
post nothing; the deliberately unmapped payer is a problem until its mapping is added."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rules_events import net_by_role

from revbridge.canonical.events import CanonicalEvent, ClaimAdjudicated, RemittanceReceived
from revbridge.core.problem import ProblemCode
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2
from revbridge.formats.x12 import X12
from revbridge.ledger import realtime_journal
from revbridge.masterdata import Configuration, Payer
from revbridge.rules import NO_CONTEXT, NOTIFICATION_ONLY, EncounterFacts, StaticContext, WaitReason, apply


def transactions(path: Path) -> list[list[CanonicalEvent]]:
    """The events of each ST of each interchange in the file, in order."""
    result: list[list[CanonicalEvent]] = []
    for n, envelope in enumerate(X12.split(path.read_bytes())):
        outcome = X12.to_events(
            envelope.payload,
            ParseContext(message_id=f"m{n}", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 2)),
        )
        by_st: dict[str, list[CanonicalEvent]] = {}
        for event in outcome.items:
            by_st.setdefault(event.source.locator.split("/")[0], []).append(event)
        result += by_st.values()
    return result


# file, BPR02, the CO adjustments that are contractual, PR adjustments, other nets expected
POSTING = [
    ("badx12__X221-era-sample.edi", "132", "94", "0", {}),
    ("badx12__X221-multiple-claims-single-check.edi", "810.8", "1038", "970.2", {}),
    (
        "lfh_x12__cob-contractural-adjustment.835",
        "34.00",
        "0",
        "0",
        {"payer_credit_balance": Decimal("-9.00")},
    ),
    (
        "lfh_x12__medicare-part-a.835",
        "150000.00",
        "76368.24",
        "0",
        {"third_party_settlement": Decimal("-1.27")},
    ),
    ("lfh_x12__secondary-payment.835", "1222.00", "85.00", "220.00", {}),
]


@pytest.mark.parametrize(("name", "bpr02", "co", "pr", "others"), POSTING)
def test_balanced_corpus_eras_post_cash_contractuals_and_transfers(
    corpus: Path, config: Configuration, name: str, bpr02: str, co: str, pr: str, others: dict[str, Decimal]
) -> None:
    (events,) = transactions(corpus / "x12_835" / name)
    posting = apply(events, config, NO_CONTEXT)

    assert posting.problems == ()
    (draft,) = posting.drafts
    nets = net_by_role(posting.drafts)
    assert nets["cash_clearing"] == Decimal(bpr02)
    assert nets.get("contractual_allowance", Decimal(0)) == Decimal(co)
    assert nets.get("ar_patient", Decimal(0)) == Decimal(pr)
    for role, amount in others.items():
        assert nets[role] == amount
    claims = [e for e in events if isinstance(e, ClaimAdjudicated)]
    co_total = sum((a.amount.amount for c in claims for a in c.adjustments if a.group == "CO"), Decimal(0))
    pr_total = sum((a.amount.amount for c in claims for a in c.adjustments if a.group == "PR"), Decimal(0))
    assert (co_total, pr_total) == (Decimal(co), Decimal(pr))
    realtime_journal(draft)  # builds: balanced, one legal entity


@pytest.mark.parametrize(
    "name", ["editools__4010_ohio_adamh_reversals_denials.txt", "pyx12__835_mult_loops.txt"]
)
def test_notification_only_eras_post_nothing(corpus: Path, config: Configuration, name: str) -> None:
    documents = transactions(corpus / "x12_835" / name)
    assert documents
    for events in documents:
        header = next(e for e in events if isinstance(e, RemittanceReceived))
        assert not header.carries_cash
        posting = apply(events, config, NO_CONTEXT)
        assert (posting.drafts, posting.problems, posting.ignored_by) == ((), (), NOTIFICATION_ONLY)


def test_unknown_payer_is_a_problem_until_mapped_then_posts(corpus: Path, config: Configuration) -> None:
    (events,) = transactions(corpus / "x12_835" / "lfh_x12__managed-care.835")

    before = apply(events, config, NO_CONTEXT)
    assert before.drafts == ()
    assert [p.code for p in before.problems] == [ProblemCode.UNMAPPED_PAYER]
    assert ("value", "1935665544") in before.problems[0].details

    rushmore = Payer(code="RUSHMORE", name="Rushmore Life", payer_class="COMMERCIAL", aliases=("1935665544",))
    mapped = replace(config, master=replace(config.master, payers=(*config.master.payers, rushmore)))
    after = apply(events, mapped, NO_CONTEXT)
    assert after.problems == ()
    assert net_by_role(after.drafts) == {
        "cash_clearing": Decimal("945.00"),
        "contractual_allowance": Decimal("155.00"),  # CO-A2 50 + CO-A2 55 + CO-45 50
        "ar_patient": Decimal("900.00"),  # PR-1 300 + 600
        "ar_payer": Decimal("-2000.00"),
    }
    assert {line.dimensions.facility for line in after.drafts[0].lines} == {"MHN-STJ"}


def test_redox_dft_charge_waits_for_its_encounter_then_posts_to_its_department(
    corpus: Path, config: Configuration
) -> None:
    payload = (corpus / "hl7v2" / "redox__DFT_P03_parser_spec_cr.hl7").read_bytes()
    (envelope,) = HL7V2.split(payload)
    outcome = HL7V2.to_events(
        envelope.payload,
        ParseContext(message_id="m", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 2)),
    )
    events = list(outcome.items)

    waiting = apply(events, config, NO_CONTEXT)
    assert [(w.reason, w.reference) for w in waiting.waiting] == [(WaitReason.ENCOUNTER, "86210313010")]

    known = StaticContext({("MHN-STJ", "86210313010"): EncounterFacts(primary_payer_id="1512345678")}, {})
    posting = apply(events, config, known)
    assert posting.problems == ()
    (draft,) = posting.drafts
    assert {(line.account, line.side.value, line.amount.amount) for line in draft.lines} == {
        ("1211", "debit", Decimal("125.10")),
        ("4010", "credit", Decimal("125.10")),
    }
