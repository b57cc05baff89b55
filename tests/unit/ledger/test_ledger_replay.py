"""Replay is a diff: reversal of what stands posted plus the new, nothing when equal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from revbridge.core.money import Money
from revbridge.ledger import (
    AccountRole,
    Dimensions,
    JournalDraft,
    JournalLine,
    Lane,
    Side,
    diff,
    net_positions,
    realtime_journal,
)

DAY = date(2024, 3, 15)


def posting(
    amount: str,
    *,
    account: str = "1211",
    key: str = "doc-1",
    day: date = DAY,
    revision: str = "",
    lane: Lane = Lane.BATCH,
) -> JournalDraft:
    dims = Dimensions(legal_entity="MHN", facility="MHN-STJ")
    return JournalDraft(
        lane=lane,
        legal_entity="MHN",
        currency="USD",
        posting_date=day,
        source_document_key=key,
        revision=revision,
        lines=(
            JournalLine(
                account=account,
                role=AccountRole.AR_PAYER,
                side=Side.DEBIT,
                amount=Money.of(amount),
                dimensions=dims,
                event_keys=(f"{key}:e",),
            ),
            JournalLine(
                account="4110",
                role=AccountRole.GROSS_REVENUE,
                side=Side.CREDIT,
                amount=Money.of(amount),
                dimensions=dims,
                event_keys=(f"{key}:e",),
            ),
        ),
    )


def test_identical_postings_need_nothing() -> None:
    assert diff([posting("10.00")], [posting("10.00")]) == ()


def test_equal_money_in_another_scale_or_date_is_not_a_change() -> None:
    assert diff([posting("10.0")], [posting("10.00")]) == ()
    assert diff([posting("10.00", day=date(2024, 4, 1))], [posting("10.00")]) == ()


def test_a_change_posts_the_reversal_of_the_old_plus_the_new() -> None:
    old, new = posting("10.00"), posting("10.00", account="1212")
    out = diff([old], [new])

    assert len(out) == 2
    reversal, repost = out
    assert [(x.account, x.side) for x in reversal.lines] == [("1211", Side.CREDIT), ("4110", Side.DEBIT)]
    assert repost.lines == new.lines
    assert reversal.revision.endswith("-reversal")
    assert repost.revision and repost.revision != reversal.revision
    ids = {realtime_journal(d).id for d in (old, reversal, repost)}
    assert len(ids) == 3  # each gets its own ERP reference


def test_replaying_twice_posts_nothing_new() -> None:
    posted = [posting("10.00")]
    current = [posting("12.00")]
    first = diff(posted, current)
    posted += first

    assert net_positions(posted) == net_positions(current)
    assert diff(posted, current) == ()


def test_a_never_posted_document_posts_as_a_first_posting() -> None:
    new = posting("10.00")
    assert diff([], [new]) == (new,)
    assert diff([], [new])[0].revision == ""


def test_a_document_now_producing_nothing_is_reversed() -> None:
    out = diff([posting("10.00")], [])
    assert len(out) == 1
    assert net_positions([posting("10.00"), *out]) == {}


def test_returning_to_an_earlier_state_gets_fresh_journal_ids() -> None:
    a, b = posting("10.00"), posting("20.00")
    history = [a]
    step1 = diff(history, [b])
    history += step1
    step2 = diff(history, [a])
    history += step2

    assert net_positions(history) == net_positions([a])
    all_ids = [realtime_journal(d).id for d in history]
    assert len(all_ids) == len(set(all_ids))


def test_the_same_replay_computed_twice_gives_the_same_ids() -> None:
    posted, current = [posting("10.00")], [posting("11.00")]
    assert [realtime_journal(d).id for d in diff(posted, current)] == [
        realtime_journal(d).id for d in diff(posted, current)
    ]


def test_only_changed_documents_are_touched() -> None:
    posted = [posting("10.00", key="a"), posting("20.00", key="b")]
    current = [posting("10.00", key="a"), posting("25.00", key="b")]
    out = diff(posted, current)

    assert {d.source_document_key for d in out} == {"b"}
    assert net_positions([*posted, *out]) == net_positions(current)


def test_reversal_keeps_the_original_posting_date() -> None:
    out = diff([posting("10.00", day=date(2024, 2, 1))], [posting("15.00")])
    assert [d.posting_date for d in out] == [date(2024, 2, 1), DAY]
    total = sum((line.net.amount for d in out for line in d.lines if line.account == "1211"), Decimal(0))
    assert total == Decimal("5.00")
