"""The 835 reader's refusals: a remittance that does not balance, cannot be read or lacks its keys
gives located problems instead of events, and each problem names the remittance it holds back so
that the sound transaction sets of the same file still post."""

from __future__ import annotations

from datetime import date

import pytest
from x12_build import codes, context, era, parse, x12

from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer

TOKEN = fixed_tokenizer()
KEY = "x12:835:1512345678:TRACE1"


def test_unbalanced_service_line_withholds_the_whole_transaction() -> None:
    body = era(
        "CLP*C1*1*100.00*80.00*0*12*ICN",
        "SVC*HC:99213*100.00*80.00",
        "CAS*CO*45*19.99",
        bpr02="80.00",
    )
    outcome = parse(x12(body))
    assert outcome.items == ()
    assert codes(outcome) == [
        (ProblemCode.UNBALANCED_SERVICE_LINE, "ST[1]/2100[1]/2110[1]/SVC[1]-3"),
        (ProblemCode.UNBALANCED_CLAIM, "ST[1]/2100[1]/CLP[1]-4"),
        (ProblemCode.UNBALANCED_REMITTANCE, "ST[1]/BPR[1]-2"),
    ]
    line, claim, remittance = outcome.problems
    assert dict(line.details) == {
        "SVC02": "100.00",
        "sum_CAS": "19.99",
        "SVC03": "80.00",
        "difference": "0.01",
    }
    assert claim.event_key == f"{KEY}:C1:ICN:1:1"
    assert dict(remittance.details)["unbalanced_service_lines"] == "1"
    assert dict(remittance.details)["unbalanced_claims"] == "1"


def test_unbalanced_transaction_names_the_amounts() -> None:
    outcome = parse(
        x12(era("CLP*C1*1*100.00*80.00", "CAS*CO*45*20.00", "PLB*1*20241231*L6*-1.00", bpr02="80.00"))
    )
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.UNBALANCED_REMITTANCE, "ST[1]/BPR[1]-2")]
    assert dict(outcome.problems[0].details) == {
        "BPR02": "80.00",
        "sum_CLP04": "80.00",
        "sum_PLB": "-1.00",
        "sum_CLP04_minus_PLB": "81.00",
        "difference": "-1.00",
        "unbalanced_claims": "0",
        "unbalanced_service_lines": "0",
    }
    assert outcome.problems[0].event_key == KEY


def test_one_bad_transaction_does_not_stop_a_good_one() -> None:
    good = era("CLP*C1*1*10.00*10.00", bpr02="10.00", trace="GOOD")
    bad = era("CLP*C2*1*10.00*10.00", bpr02="11.00", trace="BAD")
    outcome = parse(x12(bad, good))
    assert codes(outcome) == [(ProblemCode.UNBALANCED_REMITTANCE, "ST[1]/BPR[1]-2")]
    assert {e.key.split(":")[3] for e in outcome.items} == {"GOOD"}
    assert [e.source.locator for e in outcome.items] == ["ST[2]/BPR[1]", "ST[2]/2100[1]"]


@pytest.mark.parametrize(
    ("segment", "code", "locator"),
    [
        ("CLP*C1*1*1O.00*10.00", ProblemCode.INVALID_AMOUNT, "ST[1]/2100[1]/CLP[1]-3"),
        ("CLP*C1*1*1e1*10.00", ProblemCode.INVALID_AMOUNT, "ST[1]/2100[1]/CLP[1]-3"),
        ("CLP*C1*1*10.001*10.00", ProblemCode.INEXACT_AMOUNT, "ST[1]/2100[1]/CLP[1]-3"),
        ("CLP*C1*1*10.00", ProblemCode.MISSING_AMOUNT, "ST[1]/2100[1]/CLP[1]-4"),
        ("CLP**1*10.00*10.00", ProblemCode.MISSING_FIELD, "ST[1]/2100[1]/CLP[1]-1"),
    ],
)
def test_unreadable_claim_amounts_are_located_errors_and_nothing_posts(
    segment: str, code: ProblemCode, locator: str
) -> None:
    outcome = parse(x12(era(segment, bpr02="10.00")))
    assert outcome.items == ()
    assert codes(outcome) == [(code, locator)]


def test_cas_problems_are_located() -> None:
    outcome = parse(x12(era("CAS*CO*45*1.00", "CLP*C1*1*10.00*10.00", "CAS*XX*45*0", bpr02="10.00")))
    assert outcome.items == ()
    assert codes(outcome) == [
        (ProblemCode.MALFORMED_SEGMENT, "ST[1]/1000B[1]/CAS[1]"),
        (ProblemCode.INVALID_VALUE, "ST[1]/2100[1]/CAS[1]-1"),
    ]


def test_foreign_currency_is_refused() -> None:
    body = era("CLP*C1*1*10.00*10.00", bpr02="10.00")
    body.insert(2, "CUR*PR*CAD")
    outcome = parse(x12(body))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.UNSUPPORTED_CURRENCY, "ST[1]/CUR[1]-2")]


@pytest.mark.parametrize(
    ("kwargs", "locator"),
    [
        ({"trace": ""}, "ST[1]/TRN[1]-2"),
        ({"originator": "", "payer_n1": ""}, "ST[1]/TRN[1]-3"),
        ({"payee": ""}, "ST[1]/1000B[1]/N1[1]-4"),
    ],
)
def test_missing_keys_are_errors(kwargs: dict[str, str], locator: str) -> None:
    outcome = parse(x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00", **kwargs)))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, locator)]


def test_missing_bpr_is_an_error() -> None:
    body = [s for s in era("CLP*C1*1*10.00*10.00") if not s.startswith("BPR")]
    outcome = parse(x12(body))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "ST[1]/BPR[1]")]


def test_claims_after_plb_are_refused() -> None:
    outcome = parse(x12(era("PLB*P*20241231*L6*-1.00", "CLP*C1*1*10.00*10.00", bpr02="1.00")))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MALFORMED_SEGMENT, "ST[1]/CLP[1]")]


def test_informational_amounts_and_dates_that_cannot_be_read_are_warnings() -> None:
    body = era(
        "LX*1",
        "TS3*123*11*20231399*1*ABC",
        "CLP*C1*1*10.00*10.00",
        "DTM*232*2023",
        "AMT*AU*ten",
        "QTY*CA*x",
        bpr02="10.00",
    )
    outcome = parse(x12(body))
    assert codes(outcome) == [
        (ProblemCode.INVALID_DATE, "ST[1]/2000[1]/TS3[1]-3"),
        (ProblemCode.INVALID_AMOUNT, "ST[1]/2000[1]/TS3[1]-5"),
        (ProblemCode.INVALID_DATE, "ST[1]/2100[1]/DTM[1]-2"),
        (ProblemCode.INVALID_AMOUNT, "ST[1]/2100[1]/AMT[1]-2"),
        (ProblemCode.INVALID_VALUE, "ST[1]/2100[1]/QTY[1]-2"),
    ]
    assert {p.severity for p in outcome.problems} == {Severity.WARNING}
    assert len(outcome.items) == 2


def test_jpy_amounts_with_decimals_are_inexact() -> None:
    ctx = context()
    outcome = parse(
        x12(era("CLP*C1*1*10.50*10.50", bpr02="10.50")),
        type(ctx)(message_id="m", tokenizer=TOKEN, received_on=date(2024, 1, 1), default_currency="JPY"),
    )
    assert outcome.items == ()
    assert codes(outcome)[0] == (ProblemCode.INEXACT_AMOUNT, "ST[1]/BPR[1]-2")


def test_every_problem_of_a_bad_transaction_names_its_remittance() -> None:
    """The worker holds a whole message back for errors that name no event; a bad transaction set
    names its remittance, so the sound ones in the same file can still post."""
    bad = era("CLP*C1*1*10.00*9.00", "SVC*HC:1*10.00*9.00", "AMT*B6*x", bpr02="9.00", trace="BAD")
    good = era("CLP*C2*1*10.00*10.00", bpr02="10.00", trace="GOOD")
    outcome = parse(x12(bad, good))
    assert [(p.code, p.event_key) for p in outcome.problems] == [
        (ProblemCode.INVALID_AMOUNT, "x12:835:1512345678:BAD"),
        (ProblemCode.UNBALANCED_SERVICE_LINE, "x12:835:1512345678:BAD"),
        (ProblemCode.UNBALANCED_CLAIM, "x12:835:1512345678:BAD:C1::1:1"),
        (ProblemCode.UNBALANCED_REMITTANCE, "x12:835:1512345678:BAD"),
    ]
    assert {e.key.split(":")[3] for e in outcome.items} == {"GOOD"}


def test_without_trace_or_payer_the_problems_name_no_event() -> None:
    outcome = parse(x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00", trace="")))
    assert [(p.code, p.event_key) for p in outcome.problems] == [(ProblemCode.MISSING_FIELD, None)]
