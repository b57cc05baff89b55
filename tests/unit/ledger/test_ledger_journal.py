"""Journal invariants, lanes and aggregation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from revbridge.core.money import Money
from revbridge.ledger import (
    AccountRole,
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
from revbridge.ledger.journal import journal_to_dict

DAY = date(2024, 3, 15)
MHN = Dimensions(legal_entity="MHN", facility="MHN-STJ", payer_class="MEDICARE")


def line(
    side: Side,
    amount: str,
    *,
    account: str = "1015",
    role: AccountRole = AccountRole.CASH_CLEARING,
    dims: Dimensions = MHN,
    keys: tuple[str, ...] = ("e1",),
    currency: str = "USD",
) -> JournalLine:
    return JournalLine(
        account=account,
        role=role,
        side=side,
        amount=Money.of(amount, currency),
        dimensions=dims,
        event_keys=keys,
    )


def pair(
    amount: str, *, keys: tuple[str, ...] = ("e1",), dims: Dimensions = MHN
) -> tuple[JournalLine, JournalLine]:
    return (
        line(Side.DEBIT, amount, keys=keys, dims=dims),
        line(Side.CREDIT, amount, account="1211", role=AccountRole.AR_PAYER, keys=keys, dims=dims),
    )


def draft(
    *lines: JournalLine, key: str = "doc-1", lane: Lane = Lane.REALTIME, entity: str = "MHN", day: date = DAY
) -> JournalDraft:
    return JournalDraft(
        lane=lane, legal_entity=entity, currency="USD", posting_date=day, source_document_key=key, lines=lines
    )


def test_line_refuses_zero_negative_and_inexact_amounts() -> None:
    for bad in ("0", "-1.00", "1.005"):
        with pytest.raises(JournalError):
            line(Side.DEBIT, bad)


def test_line_refuses_an_empty_account() -> None:
    with pytest.raises(JournalError):
        line(Side.DEBIT, "1.00", account="")


def test_signed_lines_flip_sides_and_drop_zero() -> None:
    credit = JournalLine.signed(
        account="1", role=AccountRole.AR_PAYER, amount=Money.of("-3.00"), dimensions=MHN
    )
    debit = JournalLine.signed(
        account="1", role=AccountRole.AR_PAYER, amount=Money.of("3.00"), dimensions=MHN
    )
    zero = JournalLine.signed(account="1", role=AccountRole.AR_PAYER, amount=Money.of("0.00"), dimensions=MHN)
    assert credit is not None
    assert debit is not None
    assert (credit.side, credit.amount, credit.credit, credit.debit) == (
        Side.CREDIT,
        Money.of("3.00"),
        Money.of("3.00"),
        Money.of("0"),
    )
    assert (debit.side, debit.net) == (Side.DEBIT, Money.of("3.00"))
    assert zero is None
    assert credit.reversed().side is Side.DEBIT


def test_event_keys_are_kept_sorted_and_unique() -> None:
    assert line(Side.DEBIT, "1.00", keys=("b", "a", "b")).event_keys == ("a", "b")


def test_journal_refuses_unbalanced_lines() -> None:
    with pytest.raises(JournalError, match="differ"):
        Journal(
            id="j",
            lane=Lane.REALTIME,
            legal_entity="MHN",
            posting_date=DAY,
            reference="r",
            lines=(line(Side.DEBIT, "10.00"), line(Side.CREDIT, "9.99", account="1211")),
        )


def test_journal_balances_per_currency_not_in_total() -> None:
    with pytest.raises(JournalError):
        Journal(
            id="j",
            lane=Lane.REALTIME,
            legal_entity="MHN",
            posting_date=DAY,
            reference="r",
            lines=(line(Side.DEBIT, "10.00"), line(Side.CREDIT, "10.00", account="1211", currency="EUR")),
        )
    ok = Journal(
        id="j",
        lane=Lane.REALTIME,
        legal_entity="MHN",
        posting_date=DAY,
        reference="r",
        lines=(
            *pair("10.00"),
            line(Side.DEBIT, "5.00", currency="EUR"),
            line(Side.CREDIT, "5.00", account="1211", currency="EUR"),
        ),
    )
    assert ok.currencies == ("EUR", "USD")
    assert ok.total_debits("EUR") == Money.of("5.00", "EUR")


def test_journal_refuses_mixed_legal_entities_and_no_lines() -> None:
    south = Dimensions(legal_entity="MHS", facility="MHS-BAY")
    with pytest.raises(JournalError, match="legal entity"):
        Journal(
            id="j",
            lane=Lane.REALTIME,
            legal_entity="MHN",
            posting_date=DAY,
            reference="r",
            lines=(line(Side.DEBIT, "10.00"), line(Side.CREDIT, "10.00", account="1211", dims=south)),
        )
    with pytest.raises(JournalError):
        Journal(id="j", lane=Lane.REALTIME, legal_entity="MHN", posting_date=DAY, reference="r", lines=())


def test_draft_refuses_unbalanced_lines_and_a_second_currency() -> None:
    with pytest.raises(JournalError):
        draft(line(Side.DEBIT, "10.00"))
    with pytest.raises(JournalError):
        draft(
            line(Side.DEBIT, "1.00", currency="EUR"),
            line(Side.CREDIT, "1.00", account="1211", currency="EUR"),
        )


def test_realtime_journal_id_is_deterministic_and_depends_on_what_identifies_it() -> None:
    first = realtime_journal(draft(*pair("10.00")))
    assert first.id == realtime_journal(draft(*pair("10.00"))).id
    assert first.id == journal_id(legal_entity="MHN", lane=Lane.REALTIME, posting_date=DAY, reference="doc-1")
    assert first.id != realtime_journal(draft(*pair("10.00"), key="doc-2")).id
    assert first.id != realtime_journal(draft(*pair("10.00"), day=date(2024, 3, 16))).id
    revised = JournalDraft(
        lane=Lane.REALTIME,
        legal_entity="MHN",
        currency="USD",
        posting_date=DAY,
        source_document_key="doc-1",
        lines=pair("10.00"),
        revision="abc",
    )
    assert realtime_journal(revised).id != first.id
    assert realtime_journal(revised).reference == "doc-1#abc"


def test_aggregation_sums_per_account_and_dimensions_keeping_sides_and_every_event_key() -> None:
    other = Dimensions(legal_entity="MHN", facility="MHN-HOPE", payer_class="MEDICARE")
    lines = [
        *pair("10.00", keys=("a",)),
        *pair("5.00", keys=("b",)),
        *pair("1.00", keys=("c",), dims=other),
        line(Side.CREDIT, "2.00", keys=("d",)),
        line(Side.DEBIT, "2.00", account="1211", role=AccountRole.AR_PAYER, keys=("d",)),
    ]
    aggregated = aggregate_lines(lines)

    summary = {
        (x.account, x.side.value, x.dimensions.facility): (x.amount.amount, x.event_keys) for x in aggregated
    }
    assert summary == {
        ("1015", "debit", "MHN-STJ"): (Decimal("15.00"), ("a", "b")),
        ("1015", "credit", "MHN-STJ"): (Decimal("2.00"), ("d",)),
        ("1211", "credit", "MHN-STJ"): (Decimal("15.00"), ("a", "b")),
        ("1211", "debit", "MHN-STJ"): (Decimal("2.00"), ("d",)),
        ("1015", "debit", "MHN-HOPE"): (Decimal("1.00"), ("c",)),
        ("1211", "credit", "MHN-HOPE"): (Decimal("1.00"), ("c",)),
    }


def test_batch_window_gives_one_journal_per_legal_entity_and_posting_date() -> None:
    south = Dimensions(legal_entity="MHS", facility="MHS-BAY")
    drafts = [
        draft(*pair("10.00", keys=("a",)), key="a", lane=Lane.BATCH),
        draft(*pair("20.00", keys=("b",)), key="b", lane=Lane.BATCH),
        draft(*pair("30.00", keys=("c",)), key="c", lane=Lane.BATCH, day=date(2024, 3, 16)),
        draft(*pair("40.00", keys=("d",), dims=south), key="d", lane=Lane.BATCH, entity="MHS"),
    ]
    journals = batch_journals(drafts, "window-7")

    assert [(j.legal_entity, j.posting_date, j.total_debits("USD").amount) for j in journals] == [
        ("MHN", DAY, Decimal("30.00")),
        ("MHN", date(2024, 3, 16), Decimal("30.00")),
        ("MHS", DAY, Decimal("40.00")),
    ]
    assert all(j.lane is Lane.BATCH and j.reference == "window-7" for j in journals)
    assert journals[0].lines[0].event_keys == ("a", "b")
    assert len({j.id for j in journals}) == 3
    assert batch_journals(drafts, "window-8")[0].id != journals[0].id


def test_journal_json_shape() -> None:
    journal = realtime_journal(draft(*pair("10.5")))
    data = journal_to_dict(journal)

    assert data["lane"] == "realtime"
    assert data["posting_date"] == "2024-03-15"
    assert data["lines"] == [
        {
            "account": "1015",
            "role": "cash_clearing",
            "debit": "10.50",
            "credit": "0.00",
            "currency": "USD",
            "dimensions": {
                "facility": "MHN-STJ",
                "cost_center": "",
                "payer_class": "MEDICARE",
                "service_line": "",
            },
            "event_keys": ["e1"],
        },
        {
            "account": "1211",
            "role": "ar_payer",
            "debit": "0.00",
            "credit": "10.50",
            "currency": "USD",
            "dimensions": {
                "facility": "MHN-STJ",
                "cost_center": "",
                "payer_class": "MEDICARE",
                "service_line": "",
            },
            "event_keys": ["e1"],
        },
    ]
