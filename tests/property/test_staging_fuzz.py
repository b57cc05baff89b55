"""Fuzz of the staging reader: arbitrary rows (any JSON values where fields should be) and
arbitrary bytes never raise out of the parser, and whatever it produces is well formed: exact
money within the currency's decimals, keys naming facility, kind and id, problems located at a
row of the document's table."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revbridge.core.money import Money
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.staging import STAGING, document

pytestmark = pytest.mark.slow

CTX = ParseContext(message_id="fuzz", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))
FIELDS = [
    "id",
    "facility",
    "encounter",
    "department",
    "amount",
    "date",
    "quantity",
    "code",
    "against",
    "currency",
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(["", "12.50", "-3", "1e5", "2026-02-30", "USD", "EUR", "JPY", "payer", "A-1", " "]),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
)
ROWS = st.fixed_dictionaries(
    {
        "key": st.one_of(st.integers(0, 99).map(str), st.integers()),
        "kind": st.sampled_from(["charge", "payment", "adjustment", "", "refund"]),
        "fields": st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=len(FIELDS)),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ROWS, VALUES), min_size=1, max_size=4))
def test_arbitrary_rows_never_raise_and_events_are_well_formed(rows: list[Any]) -> None:
    outcome = STAGING.to_events(document("pas", "stage", rows), CTX)
    for event in outcome.items:
        assert event.key.startswith(f"staging:{event.facility}/")
        money = getattr(event, "amount")  # noqa: B009
        assert isinstance(money, Money) and money.is_exact() and money.amount > 0
    for problem in outcome.problems:
        assert problem.where is not None and problem.where.locator.startswith("stage[")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    payload = b'{"revbridge_staging": 1, ' + data
    (envelope,) = STAGING.split(payload)
    STAGING.to_events(envelope.payload, CTX)
    json.dumps([p.message for p in STAGING.to_events(payload, CTX).problems])
