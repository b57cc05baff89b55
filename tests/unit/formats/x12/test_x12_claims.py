"""The 837 reader: one ClaimSubmitted per CLM with the payer and billing provider of its HL
hierarchy, and a TOTAL_MISMATCH instead of an event when the lines do not add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from x12_build import V837I, V837P, codes, parse, x12

from revbridge.canonical.events import ClaimLine, ClaimSubmitted
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer

TOKEN = fixed_tokenizer()
HEADER = [
    "BHT*0019*00*244579*20061015*1023*CH",
    "NM1*41*2*PREMIER BILLING SERVICE*****46*TGJ23",
    "NM1*40*2*KEY INSURANCE COMPANY*****46*66783JJT",
    "HL*1**20*1",
    "NM1*85*2*BEN KILDARE SERVICE*****XX*1912301953",
]
SUBSCRIBER = [
    "HL*2*1*22*0",
    "SBR*P*18*******CI",
    "NM1*IL*1*SMITH*JANE****MI*JS001",
    "NM1*PR*2*KEY INSURANCE COMPANY*****PI*999996666",
]
CLAIM = [
    "CLM*26463774*100.00***11:B:1*Y*A*Y*I",
    "HI*BK:0340*BF:V7389",
    "LX*1",
    "SV1*HC:99213:25*40.00*UN*1***1",
    "DTP*472*D8*20061003",
    "LX*2",
    "SV1*HC:87070*60.00*UN*2***1",
    "DTP*472*RD8*20061004-20061005",
]


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


def claims(*body: str, version: str = V837P, sender: str = "SUBMITTER") -> tuple[ClaimSubmitted, ...]:
    outcome = parse(x12(list(body), code="837", version=version, sender=sender))
    assert outcome.ok, outcome.problems
    return tuple(e for e in outcome.items if isinstance(e, ClaimSubmitted))


def test_professional_claim_becomes_one_event() -> None:
    assert claims(*HEADER, *SUBSCRIBER, *CLAIM) == (
        ClaimSubmitted(
            key="x12:837:SUBMITTER:26463774:1",
            source=SourceRef("msg-1", "ST[1]/2300[1]"),
            occurred_on=date(2006, 10, 15),
            facility="1912301953",
            claim_id="26463774",
            payer_id="999996666",
            patient=TOKEN("member", "JS001"),
            claim_type="professional",
            frequency="1",
            total=usd("100.00"),
            lines=(
                ClaimLine(
                    line_number=1,
                    procedure="HC:99213:25",
                    charge=usd("40.00"),
                    units=Decimal(1),
                    service_date=date(2006, 10, 3),
                ),
                ClaimLine(
                    line_number=2,
                    procedure="HC:87070",
                    charge=usd("60.00"),
                    units=Decimal(2),
                    service_date=date(2006, 10, 4),
                ),
            ),
        ),
    )


def test_institutional_claim_reads_sv2_revenue_codes() -> None:
    body = [
        *HEADER,
        *SUBSCRIBER,
        "CLM*756048Q*89.93***14:A:7*Y*A*Y*Y",
        "LX*1",
        "SV2*0305*HC:85025*13.39*UN*1",
        "LX*2",
        "SV2*0730**76.54*UN*3",
    ]
    [claim] = claims(*body, version=V837I)
    assert (claim.claim_type, claim.frequency, claim.key) == (
        "institutional",
        "7",
        "x12:837:SUBMITTER:756048Q:7",
    )
    assert [(ln.revenue_code, ln.procedure, ln.charge, ln.units) for ln in claim.lines] == [
        ("0305", "HC:85025", usd("13.39"), Decimal(1)),
        ("0730", "", usd("76.54"), Decimal(3)),
    ]


def test_total_mismatch_withholds_only_that_claim() -> None:
    bad = ["CLM*BAD*99.00***11:B:1", "LX*1", "SV1*HC:99213*40.00*UN*1"]
    outcome = parse(x12([*HEADER, *SUBSCRIBER, *bad, *CLAIM], code="837", version=V837P))
    assert codes(outcome) == [(ProblemCode.TOTAL_MISMATCH, "ST[1]/2300[1]/CLM[1]-2")]
    problem = outcome.problems[0]
    assert dict(problem.details) == {"CLM02": "99.00", "sum_lines": "40.00", "difference": "59.00"}
    assert problem.event_key == "x12:837:SENDER:BAD:1"
    assert [e.key for e in outcome.items] == ["x12:837:SENDER:26463774:1"]


def test_each_claim_takes_the_payer_of_its_subscriber_not_of_other_payer_loops() -> None:
    other_payer = [
        "SBR*S*01*******CI",
        "NM1*IL*1*DOE*JANE****MI*OTHER-ID",
        "NM1*PR*2*OTHER PLAN*****PI*OTHER",
    ]
    second = ["HL*3*1*22*1", "NM1*IL*1*DOE*JOHN****MI*JD002", "NM1*PR*2*MEDICARE B*****PI*00435"]
    patient = ["HL*4*3*23*0", "PAT*19", "NM1*QC*1*DOE*JUNIOR"]
    claim2 = ["CLM*SECOND*10.00***11:B:1", "LX*1", "SV1*HC:1*10.00*UN*1"]
    first, after = claims(
        *HEADER, *SUBSCRIBER, *CLAIM[:1], *other_payer, *CLAIM[1:], *second, *patient, *claim2
    )
    assert (first.payer_id, first.patient) == ("999996666", TOKEN("member", "JS001"))
    assert (after.payer_id, after.patient) == ("00435", TOKEN("member", "JD002"))
    assert after.source.locator == "ST[1]/2300[2]"


def test_missing_payer_and_billing_provider_are_errors_on_the_claim() -> None:
    outcome = parse(x12(["HL*1**20*1", "HL*2*1*22*0", *CLAIM], code="837", version=V837P))
    assert outcome.items == ()
    assert codes(outcome) == [
        (ProblemCode.MISSING_FIELD, "ST[1]/2300[1]"),
        (ProblemCode.MISSING_FIELD, "ST[1]/2300[1]"),
    ]


def test_service_lines_without_their_segments_are_located() -> None:
    body = [*HEADER, *SUBSCRIBER, "CLM*C1*10.00", "LX*1", "SV1*HC:1*10.00", "SV1*HC:2*5.00", "LX*2"]
    outcome = parse(x12(body, code="837", version=V837P))
    assert codes(outcome) == [
        (ProblemCode.MALFORMED_SEGMENT, "ST[1]/2300[1]/2400[1]/SV1[2]"),
        (ProblemCode.MISSING_FIELD, "ST[1]/2300[1]/2400[2]"),
    ]
    assert outcome.items == ()


def test_unreadable_dates_and_line_numbers_are_warnings() -> None:
    header = [HEADER[0].replace("20061015", "20061315"), *HEADER[1:]]
    body = [*header, *SUBSCRIBER, "CLM*C1*10.00", "LX*A", "SV1*HC:1*10.00*UN*1", "DTP*472*D8*2006"]
    outcome = parse(x12(body, code="837", version=V837P))
    assert codes(outcome) == [
        (ProblemCode.INVALID_DATE, "ST[1]/BHT[1]-4"),
        (ProblemCode.INVALID_VALUE, "ST[1]/2300[1]/2400[1]/LX[1]-1"),
        (ProblemCode.INVALID_DATE, "ST[1]/2300[1]/2400[1]/DTP[1]-3"),
    ]
    assert {p.severity for p in outcome.problems} == {Severity.WARNING}
    [claim] = outcome.items
    assert isinstance(claim, ClaimSubmitted)
    assert (claim.occurred_on, claim.lines[0].line_number, claim.lines[0].service_date) == (
        date(2024, 3, 1),
        1,
        None,
    )


@pytest.mark.parametrize("version", ["005010X224A2", "004010X097A1", ""])
def test_other_837_guides_are_unsupported(version: str) -> None:
    outcome = parse(x12([*HEADER, *SUBSCRIBER, *CLAIM], code="837", version=version))
    assert outcome.items == ()
    assert (ProblemCode.UNSUPPORTED_TRANSACTION, "ST[1]-1") in codes(outcome)


def test_004010_professional_claims_are_read() -> None:
    [claim] = claims(*HEADER, *SUBSCRIBER, *CLAIM, version="004010X098A1")
    assert claim.claim_type == "professional"


def test_submitter_id_is_trimmed_into_the_key() -> None:
    [claim] = claims(*HEADER, *SUBSCRIBER, *CLAIM, sender="ABC")
    assert claim.key == "x12:837:ABC:26463774:1"


def test_problems_inside_a_claim_name_it_and_others_do_not() -> None:
    header = [HEADER[0].replace("20061015", "2006"), *HEADER[1:]]
    body = [*header, *SUBSCRIBER, "CLM*C1*10.00", "LX*1", "SV1*HC:1*1O.00*UN*1", *CLAIM]
    outcome = parse(x12(body, code="837", version=V837P))
    assert [(p.code, p.event_key) for p in outcome.problems] == [
        (ProblemCode.INVALID_DATE, None),
        (ProblemCode.INVALID_AMOUNT, "x12:837:SENDER:C1:1"),
    ]
    assert [e.key for e in outcome.items] == ["x12:837:SENDER:26463774:1"]
