"""Properties of posting (DESIGN.md section 12): every journal balances per legal entity and
currency, and replay is a diff (replaying twice equals replaying once; equal sets need nothing).

The documents come from tests/support/postings.py. ``rules.apply`` is the rulebook step of the
posting stage; tests/property/test_posting_properties.py checks the whole stage, ``rules.post``.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from postings import CONFIG, assert_balanced, changed, documents

from revbridge.canonical.events import CanonicalEvent, RemittanceReceived
from revbridge.core.money import Money
from revbridge.ledger import (
    AccountRole,
    JournalDraft,
    Lane,
    batch_journals,
    diff,
    net_positions,
    realtime_journal,
)
from revbridge.rules import StaticContext, apply


@settings(max_examples=200, deadline=None)
@given(documents)
def test_every_journal_balances_per_legal_entity_and_currency(
    document: tuple[list[CanonicalEvent], StaticContext],
) -> None:
    events, context = document
    posting = apply(events, CONFIG, context)

    assert posting.problems == ()
    assert posting.waiting == ()
    assert_balanced(posting.drafts)
    for draft in posting.drafts:
        if draft.lane is Lane.REALTIME:
            journal = realtime_journal(draft)
            assert journal.total_debits("USD") == sum((line.debit for line in draft.lines), Money.zero())
    batch = [d for d in posting.drafts if d.lane is Lane.BATCH]
    for journal in batch_journals(batch, "window"):
        assert journal.total_debits("USD") == sum((line.credit for line in journal.lines), Money.zero())
    header = events[0]
    if isinstance(header, RemittanceReceived) and posting.drafts:
        cash = sum(
            (line.net.amount for line in posting.drafts[0].lines if line.role is AccountRole.CASH_CLEARING),
            Decimal(0),
        )
        assert cash == header.amount.amount  # cash posted = BPR02


@settings(max_examples=150, deadline=None)
@given(st.lists(documents, min_size=1, max_size=4), st.integers(min_value=0, max_value=3))
def test_replaying_twice_equals_replaying_once(
    docs: list[tuple[list[CanonicalEvent], StaticContext]], change: int
) -> None:
    before, after = CONFIG, changed(CONFIG, change)
    posted: list[JournalDraft] = []
    current: list[JournalDraft] = []
    for n, (events, context) in enumerate(docs):
        keyed = [replace(e, key=f"d{n}:{e.key}") for e in events]
        posted += apply(keyed, before, context).drafts
        current += apply(keyed, after, context).drafts

    once = diff(posted, current)
    replayed = posted + list(once)
    assert_balanced(once)
    assert net_positions(replayed) == net_positions(current)
    assert diff(replayed, current) == ()  # the second replay posts nothing
    assert diff(current, current) == ()
    if change == 3:
        assert once == ()
