"""The document reader and typed getters: Decimal money, located problems, never an exception."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fhir_helpers import by_code, claim, ctx, encode

from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Limits
from revbridge.formats.fhir import parse
from revbridge.formats.fhir.bundle import read_document
from revbridge.formats.fhir.reader import Reader


def reader() -> Reader:
    return Reader(message_id="m", default_currency="USD", tokenizer=fixed_tokenizer())


def test_money_is_decimal_exactly_as_written() -> None:
    r = reader()
    amount = r.money({"total": {"value": Decimal("0.10"), "currency": "EUR"}}, "total", "Claim")
    assert amount is not None
    assert amount.value == Decimal("0.10")
    assert isinstance(amount.value, Decimal)
    assert (amount.currency, amount.path) == ("EUR", "Claim.total")
    assert r.problems == []


def test_money_without_currency_takes_the_default() -> None:
    amount = reader().money({"net": {"value": 40}}, "net", "X")
    assert amount is not None
    assert amount.money() == Money.of("40", "USD")


def test_inexact_money_is_kept_and_warned_with_its_rounding() -> None:
    r = reader()
    amount = r.money({"amount": {"value": Decimal("112.41600000000001")}}, "amount", "EOB.payment")
    assert amount is not None
    assert amount.value == Decimal("112.41600000000001")
    assert amount.money() == Money.of("112.42")
    (problem,) = r.problems
    assert problem.code is ProblemCode.INEXACT_AMOUNT
    assert problem.severity is Severity.WARNING
    assert problem.locator == "EOB.payment.amount.value"
    assert "rounded half-even to 112.42" in problem.message


def test_half_even_rounding() -> None:
    amount = reader().money({"m": {"value": Decimal("2.125")}}, "m", "X")
    assert amount is not None
    assert amount.money() == Money.of("2.12")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("12.50", ProblemCode.INVALID_AMOUNT),  # FHIR decimals are JSON numbers, not strings
        (True, ProblemCode.INVALID_AMOUNT),
        (Decimal("1E+400"), ProblemCode.INVALID_AMOUNT),
        (None, ProblemCode.MISSING_AMOUNT),
    ],
)
def test_bad_money_values_are_located(value: object, code: ProblemCode) -> None:
    r = reader()
    assert r.money({"total": {"value": value}}, "total", "Claim") is None
    (problem,) = r.problems
    assert problem.code is code
    assert problem.locator == "Claim.total.value"


def test_unknown_currency_is_a_problem_that_does_not_echo_junk() -> None:
    r = reader()
    assert r.money({"t": {"value": 1, "currency": "Peter Chalmers"}}, "t", "X") is None
    (problem,) = r.problems
    assert problem.code is ProblemCode.UNSUPPORTED_CURRENCY
    assert problem.locator == "X.t.currency"
    assert "Chalmers" not in problem.message
    r2 = reader()
    r2.money({"t": {"value": 1, "currency": "XYZ"}}, "t", "X")
    assert "'XYZ'" in r2.problems[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-01-25", date(2017, 1, 25)),
        ("2017-01-25T23:55:04+01:00", date(2017, 1, 25)),  # the local date as written
        ("2017-01-25T23:55:04.123Z", date(2017, 1, 25)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    r = reader()
    assert r.day({"d": text}, "d", "X") == expected
    assert r.problems == []


@pytest.mark.parametrize(
    ("text", "severity"),
    [("2017-02-30", Severity.ERROR), ("25.01.2017", Severity.ERROR), ("2017-01", Severity.WARNING)],
)
def test_bad_and_partial_dates(text: str, severity: Severity) -> None:
    r = reader()
    assert r.day({"d": text}, "d", "X") is None
    (problem,) = r.problems
    assert (problem.code, problem.severity, problem.locator) == (ProblemCode.INVALID_DATE, severity, "X.d")


def test_codes_outside_their_value_set_are_not_echoed() -> None:
    r = reader()
    assert r.code({"status": "Peter James Chalmers"}, "status", "Claim", frozenset({"active"})) == ""
    (problem,) = r.problems
    assert problem.locator == "Claim.status"
    assert "Chalmers" not in problem.message


def test_wrong_json_types_are_located() -> None:
    r = reader()
    assert r.string({"s": 5}, "s", "X") == ""
    assert r.integer({"i": "5"}, "i", "X") is None
    assert r.boolean({"b": "yes"}, "b", "X") is None
    assert r.children({"a": {}}, "a", "X") == []
    assert r.reference({"r": {}}, "r", "X") is None
    assert [p.locator for p in r.problems] == ["X.s", "X.i", "X.b", "X.a", "X.r"]


def test_document_problems() -> None:
    cases = {
        b"{not json": ProblemCode.MALFORMED_MESSAGE,
        b'{"resourceType": "Claim", "x": NaN}': ProblemCode.MALFORMED_MESSAGE,
        b"\xff\xfe\x00junk": ProblemCode.MALFORMED_MESSAGE,
        b"[1, 2]": ProblemCode.MALFORMED_MESSAGE,
        b'{"id": "1"}': ProblemCode.MISSING_FIELD,
        b"[" * 100_000: ProblemCode.MALFORMED_MESSAGE,
    }
    for payload, code in cases.items():
        r = reader()
        assert read_document(payload, r, Limits()) is None
        assert [p.code for p in r.problems] == [code], payload[:20]


def test_size_limit() -> None:
    r = reader()
    assert read_document(b"{}" + b" " * 100, r, Limits(max_message_bytes=50)) is None
    assert r.problems[0].code is ProblemCode.LIMIT_EXCEEDED


def test_byte_order_mark_is_accepted() -> None:
    r = reader()
    document = read_document(b"\xef\xbb\xbf" + encode(claim()).encode(), r, Limits())
    assert document is not None
    assert document.resource_type == "Claim"


def test_parse_builds_typed_models() -> None:
    parsed = parse(encode(claim()).encode(), ctx())
    (resource,) = parsed.resources
    model = resource.model
    assert (model.head.id, model.status, model.use, model.claim_type) == (
        "c1",
        "active",
        "claim",
        "professional",
    )
    assert model.total.value == Decimal("135.50")
    assert [i.sequence for i in model.items] == [1, 2]
    assert model.items[0].modifiers == ("25",)
    assert model.items[0].quantity == 2
    assert parsed.problems == ()


def test_missing_required_elements_are_located() -> None:
    resource = claim()
    for name in ("status", "use", "patient", "created", "provider", "insurance"):
        del resource[name]
    parsed = parse(encode(resource).encode(), ctx())
    assert by_code(parsed.problems)["MISSING_FIELD"] == [
        "Claim.status",
        "Claim.use",
        "Claim.patient",
        "Claim.created",
        "Claim.provider",
        "Claim.insurance",
    ]


def test_an_invalid_id_is_refused() -> None:
    parsed = parse(encode(claim(id="a/b")).encode(), ctx())
    assert by_code(parsed.problems) == {"INVALID_VALUE": ["Claim.id"]}
    assert parsed.resources[0].model.head.id == ""
