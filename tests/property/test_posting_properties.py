"""Properties of the whole posting stage, ``rules.post`` (DESIGN.md sections 5, 6 and 12).

``post`` is pure: the same events, configuration and context give the same answer, and it runs
with the clock, the file system and the network taken away. Every draft it stages and every
journal it makes balances; every posting event ends in exactly one state, staged exactly when
it has lines; replaying through ``post`` twice stages nothing the second time; context sent with
a charge is used by the charge; a closed period moves a posting or refuses it, by policy.
"""

from __future__ import annotations

import builtins
import socket
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postings import CONFIG, DAY, assert_balanced, changed, documents

from revbridge.canonical.events import (
    CanonicalEvent,
    ChargeCaptured,
    Coverage,
    EncounterCancelled,
    EncounterRegistered,
)
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode
from revbridge.core.tokens import PatientToken
from revbridge.ledger import Lane, net_positions, realtime_journal
from revbridge.ledger.period import ClosedPeriodPolicy, Period, PeriodCalendar, PeriodStatus
from revbridge.masterdata import Configuration
from revbridge.rules import Context, EventState, Posted, Standing, StaticContext, post
from revbridge.rules.context import is_context

Document = tuple[list[CanonicalEvent], StaticContext]


def _context(static: StaticContext, **more: Any) -> Context:
    return Context(encounters=static.encounters, charges=static.charges, **more)


def _with_policy(config: Configuration, policy: ClosedPeriodPolicy) -> Configuration:
    posting = replace(config.master.posting, closed_period_policy=policy)
    return replace(config, master=replace(config.master, posting=posting))


@pytest.fixture
def no_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock, the file system and the network raise while the test runs."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("post() reached outside itself")

    monkeypatch.setattr(time, "time", refuse)
    monkeypatch.setattr(time, "monotonic", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(builtins, "open", refuse)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_post_balances_and_gives_every_posting_event_one_state(document: Document) -> None:
    events, static = document
    posted = post(events, CONFIG, _context(static))

    assert posted.problems == ()
    assert posted.waiting == ()
    assert_balanced(posted.drafts)
    keys = [event.key for event in events if not is_context(event)]
    assert [key for key, _ in posted.states] == keys
    with_lines = {key for draft in posted.drafts for key in draft.event_keys}
    for key, state in posted.states:
        assert (state is EventState.STAGED) == (key in with_lines)
    for item in posted.staged:
        if item.draft.lane is Lane.REALTIME:
            assert item.journal == realtime_journal(item.draft)
        else:
            assert item.journal is None  # its window makes it


@settings(max_examples=60, deadline=None)
@given(documents)
def test_post_is_a_function_of_its_arguments_alone(document: Document) -> None:
    events, static = document
    first = post(events, CONFIG, _context(static))
    assert post(events, CONFIG, _context(static)) == first


def test_post_reads_no_clock_no_file_and_no_network(no_world: None) -> None:
    events = [
        _registered("V1", payer="636"),
        _charge("c1", "V1", "125.00"),
    ]
    posted = post(events, CONFIG, Context())
    assert posted.problems == ()
    assert [state for _, state in posted.states] == [EventState.STAGED]


@settings(max_examples=100, deadline=None)
@given(st.lists(documents, min_size=1, max_size=4), st.integers(min_value=0, max_value=3))
def test_replaying_through_post_twice_stages_nothing_the_second_time(
    docs: list[Document], change: int
) -> None:
    after = changed(CONFIG, change)
    for n, (events, static) in enumerate(docs):
        keyed = [replace(e, key=f"d{n}:{e.key}") for e in events]
        first = post(keyed, CONFIG, _context(static))
        once = post(keyed, after, _context(static, final=True, standing=Standing(drafts=first.drafts)))
        assert_balanced(once.drafts)
        stands = (*first.drafts, *once.drafts)
        fresh = post(keyed, after, _context(static))
        assert net_positions(stands) == net_positions(fresh.drafts)
        twice = post(keyed, after, _context(static, final=True, standing=Standing(drafts=stands)))
        assert twice.staged == ()
        if change == 3:
            assert once.staged == ()


def test_a_replay_leaves_a_document_alone_while_an_event_of_it_fails() -> None:
    events = [_registered("V1", payer="636"), _charge("c1", "V1", "80.00")]
    first = post(events, CONFIG, Context())
    unmapped = [events[0], replace(events[1], department="NOWHERE")]
    replayed = post(unmapped, CONFIG, Context(final=True, standing=Standing(drafts=first.drafts)))
    assert [p.code for p in replayed.problems] == [ProblemCode.UNMAPPED_DEPARTMENT]
    assert replayed.staged == ()  # what stands is not reversed because the new result has a hole
    assert dict(replayed.states) == {"c1": EventState.EXCEPTED}


def test_an_encounter_sent_with_its_charge_is_the_charges_context() -> None:
    posted = post([_registered("V7", payer="636"), _charge("c1", "V7", "50.00")], CONFIG, Context())
    assert posted.problems == ()
    (change,) = posted.encounters
    assert (change.facility, change.encounter, change.facts.primary_payer_id) == ("MHN-STJ", "V7", "636")
    (line,) = [ln for ln in posted.drafts[0].lines if ln.debit.amount]
    assert line.dimensions.payer_class == "MEDICAID"  # payer 636 is New York State Medicaid
    (memory,) = posted.charges
    assert (memory.charge_id, memory.facts.payer_class) == ("T-c1", "MEDICAID")


def test_a_charge_waits_for_an_encounter_cancelled_before_it() -> None:
    cancelled = EncounterCancelled(
        key="x", source=SourceRef("m", "EVN"), occurred_on=DAY, facility="NCA", encounter="V7", patient=TOKEN
    )
    events = [_registered("V7", payer="636"), cancelled, _charge("c1", "V7", "50.00")]
    posted = post(events, CONFIG, Context())
    assert posted.staged == ()
    assert [w.reference for w in posted.waiting] == ["V7"]
    assert dict(posted.states) == {"c1": EventState.WAITING}
    final = post(events, CONFIG, Context(final=True))
    assert [p.code for p in final.problems] == [ProblemCode.MISSING_CONTEXT]


@pytest.mark.parametrize("policy", list(ClosedPeriodPolicy))
def test_a_closed_period_moves_a_posting_or_refuses_it(policy: ClosedPeriodPolicy) -> None:
    march = Period(
        legal_entity="MHN", start=date(2024, 3, 1), end=date(2024, 3, 31), status=PeriodStatus.CLOSED
    )
    events = [_registered("V1", payer="636"), _charge("c1", "V1", "10.00")]
    posted: Posted = post(events, _with_policy(CONFIG, policy), Context(calendar=PeriodCalendar((march,))))
    if policy is ClosedPeriodPolicy.NEXT_OPEN_DAY:
        (draft,) = posted.drafts
        assert (draft.posting_date, draft.moved_from) == (date(2024, 4, 1), DAY)
        assert dict(posted.states) == {"c1": EventState.STAGED}
    else:
        assert posted.staged == ()
        assert [(p.code, p.event_key) for p in posted.problems] == [(ProblemCode.CLOSED_PERIOD, "c1")]
        assert dict(posted.states) == {"c1": EventState.EXCEPTED}


TOKEN = PatientToken("tok")


def _registered(encounter: str, *, payer: str) -> EncounterRegistered:
    return EncounterRegistered(
        key=f"reg-{encounter}",
        source=SourceRef("m", "PV1"),
        occurred_on=DAY,
        facility="NCA",
        encounter=encounter,
        patient=TOKEN,
        patient_class="O",
        department="ED",
        coverages=(Coverage(payer_id=payer),),
    )


def _charge(key: str, encounter: str, amount: str) -> ChargeCaptured:
    return ChargeCaptured(
        key=key,
        source=SourceRef("m", "FT1[1]"),
        occurred_on=DAY,
        facility="NCA",
        charge_id=f"T-{key}",
        encounter=encounter,
        department="ED",
        amount=Money(Decimal(amount), "USD"),
    )
