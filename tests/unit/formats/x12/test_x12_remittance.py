"""The 835 reader: events as DESIGN.md section 3 describes them, keys, occurrences, and the
problems a remittance that cannot be trusted must give instead of events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from x12_build import codes, context, era, parse, x12

from revbridge.canonical.events import (
    CasAdjustment,
    ClaimAdjudicated,
    ProviderAdjustment,
    RemittanceReceived,
    ServiceLinePayment,
)
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer

TOKEN = fixed_tokenizer()
REMIT = "1512345678:TRACE1"
KEY = "x12:835:1512345678:TRACE1"

# The worked ERA of DESIGN.md section 5: claim A paid, claim B reversed and corrected, PLB L6 + WO.
WORKED = era(
    "LX*1",
    "CLP*A100*1*1250.00*650.00*150.00*12*ICN-A",
    "NM1*QC*1*DOE*JANE****MI*M-A",
    "SVC*HC:99213:25*1250.00*650.00**1",
    "DTM*472*20231215",
    "CAS*CO*45*450.00",
    "CAS*PR*1*100.00**2*50.00",
    "AMT*B6*800.00",
    "CLP*B200*22*-300.00*-200.00*0*12*ICN-B",
    "CAS*CO*45*-100.00",
    "NM1*QC*1*ROE*RICHARD****MI*M-B",
    "CLP*B200*1*300.00*180.00*0*12*ICN-B2",
    "CAS*CO*45*120.00",
    "NM1*QC*1*ROE*RICHARD****MI*M-B",
    "PLB*1234567893*20241231*L6:INT*-5.25*WO:REF1*40.00",
    bpr02="595.25",
)


def usd(value: str) -> Money:
    return Money(Decimal(value), "USD")


def test_worked_era_yields_every_event_with_its_key_and_amounts() -> None:
    outcome = parse(x12(WORKED))
    assert outcome.problems == ()
    remittance, claim_a, reversal, corrected, interest, recoupment = outcome.items
    assert remittance == RemittanceReceived(
        key=KEY,
        source=SourceRef("msg-1", "ST[1]/BPR[1]"),
        occurred_on=date(2024, 1, 5),
        facility="1234567893",
        remittance_id=REMIT,
        payer_id="1512345678",
        payer_name="BENCH HEALTH PLAN",
        trace="TRACE1",
        handling="I",
        method="ACH",
        amount=usd("595.25"),
        carries_cash=True,
        claim_count=3,
    )
    line_cas = (
        CasAdjustment(
            group="CO", reason="45", amount=usd("450.00"), locator="ST[1]/2100[1]/2110[1]/CAS[1]-3"
        ),
        CasAdjustment(group="PR", reason="1", amount=usd("100.00"), locator="ST[1]/2100[1]/2110[1]/CAS[2]-3"),
        CasAdjustment(group="PR", reason="2", amount=usd("50.00"), locator="ST[1]/2100[1]/2110[1]/CAS[2]-6"),
    )
    assert claim_a == ClaimAdjudicated(
        key=f"{KEY}:A100:ICN-A:1:1",
        source=SourceRef("msg-1", "ST[1]/2100[1]"),
        occurred_on=date(2024, 1, 5),
        facility="1234567893",
        remittance_id=REMIT,
        payer_id="1512345678",
        claim_id="A100",
        payer_claim_id="ICN-A",
        status="1",
        patient=TOKEN("member", "M-A"),
        charge=usd("1250.00"),
        paid=usd("650.00"),
        patient_responsibility=usd("150.00"),
        adjustments=line_cas,
        lines=(
            ServiceLinePayment(
                procedure="HC:99213:25",
                charge=usd("1250.00"),
                paid=usd("650.00"),
                units=Decimal(1),
                service_date=date(2023, 12, 15),
                adjustments=line_cas,
                locator="ST[1]/2100[1]/2110[1]",
            ),
        ),
        occurrence=1,
    )
    assert isinstance(reversal, ClaimAdjudicated)
    assert isinstance(corrected, ClaimAdjudicated)
    assert isinstance(recoupment, ProviderAdjustment)
    assert reversal.is_reversal
    assert (reversal.charge, reversal.paid) == (usd("-300.00"), usd("-200.00"))
    assert reversal.adjustments == (
        CasAdjustment(group="CO", reason="45", amount=usd("-100.00"), locator="ST[1]/2100[2]/CAS[1]-3"),
    )
    assert reversal.key == f"{KEY}:B200:ICN-B:22:1"
    assert not corrected.is_reversal
    assert corrected.key == f"{KEY}:B200:ICN-B2:1:1"
    assert reversal.patient == corrected.patient == TOKEN("member", "M-B")
    assert interest == ProviderAdjustment(
        key=f"{KEY}:PLB:1:1",
        source=SourceRef("msg-1", "ST[1]/PLB[1]-4"),
        occurred_on=date(2024, 1, 5),
        facility="1234567893",
        remittance_id=REMIT,
        payer_id="1512345678",
        reason="L6",
        reference="INT",
        amount=usd("-5.25"),
    )
    assert (recoupment.reason, recoupment.reference, recoupment.amount) == ("WO", "REF1", usd("40.00"))
    assert recoupment.key == f"{KEY}:PLB:1:2"
    assert recoupment.source.locator == "ST[1]/PLB[1]-6"


def test_occurrence_counts_claims_with_the_same_key_parts() -> None:
    claim = [
        "CLP*C1*1*100.00*100.00*0*12*ICN1",
        "CLP*C1*1*100.00*100.00*0*12*ICN1",
        "CLP*C1*2*50.00*50.00*0*12*ICN1",
    ]
    outcome = parse(x12(era(*claim, bpr02="250.00")))
    assert outcome.problems == ()
    keys = [(e.key, e.occurrence) for e in outcome.items if isinstance(e, ClaimAdjudicated)]
    assert keys == [(f"{KEY}:C1:ICN1:1:1", 1), (f"{KEY}:C1:ICN1:1:2", 2), (f"{KEY}:C1:ICN1:2:1", 1)]


def test_payer_id_falls_back_to_the_payer_n1_when_trn03_is_empty() -> None:
    outcome = parse(x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00", originator="")))
    assert outcome.problems == ()
    assert {e.key.split(":")[2] for e in outcome.items} == {"PAYER01"}
    remittance = outcome.items[0]
    assert isinstance(remittance, RemittanceReceived)
    assert remittance.remittance_id == "PAYER01:TRACE1"


def test_notification_only_remittance_carries_no_cash() -> None:
    outcome = parse(x12(era("CLP*C1*4*10.00*0*0*12*ICN", "CAS*CO*16*10.00", bpr02="0", handling="H")))
    assert outcome.problems == ()
    remittance = outcome.items[0]
    assert isinstance(remittance, RemittanceReceived)
    assert not remittance.carries_cash
    assert remittance.amount == usd("0")


@pytest.mark.parametrize(
    ("bpr16", "code", "used"),
    [
        ("", ProblemCode.MISSING_FIELD, date(2024, 1, 4)),
        ("20241399", ProblemCode.INVALID_DATE, date(2024, 1, 4)),
    ],
)
def test_unusable_payment_date_is_a_warning_and_the_production_date_is_used(
    bpr16: str, code: ProblemCode, used: date
) -> None:
    outcome = parse(x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00", bpr16=bpr16)))
    assert codes(outcome) == [(code, "ST[1]/BPR[1]-16")]
    assert outcome.problems[0].severity is Severity.WARNING
    assert {e.occurred_on for e in outcome.items} == {used}


def test_without_production_date_the_received_date_is_used() -> None:
    body = [s for s in era("CLP*C1*1*10.00*10.00", bpr02="10.00", bpr16="") if not s.startswith("DTM*405")]
    outcome = parse(x12(body))
    assert {e.occurred_on for e in outcome.items} == {date(2024, 3, 1)}


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


def test_trailing_zeros_beyond_the_minor_unit_are_exact() -> None:
    outcome = parse(x12(era("CLP*C1*1*10.0000*10.", bpr02="10")))
    assert outcome.problems == ()
    claim = outcome.items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert claim.charge == usd("10.00")


def test_every_cas_triple_and_quantity_is_read() -> None:
    cas = "CAS*CO*1*1.00*2*2*2.00**3*3.00*1.5*4*4.00**5*5.00**6*6.00"
    outcome = parse(x12(era("CLP*C1*1*121.00*100.00", cas, bpr02="100.00")))
    assert outcome.problems == ()
    claim = outcome.items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert [(a.reason, a.amount.amount, a.quantity, a.locator) for a in claim.adjustments] == [
        ("1", Decimal("1.00"), Decimal(2), "ST[1]/2100[1]/CAS[1]-3"),
        ("2", Decimal("2.00"), None, "ST[1]/2100[1]/CAS[1]-6"),
        ("3", Decimal("3.00"), Decimal("1.5"), "ST[1]/2100[1]/CAS[1]-9"),
        ("4", Decimal("4.00"), None, "ST[1]/2100[1]/CAS[1]-12"),
        ("5", Decimal("5.00"), None, "ST[1]/2100[1]/CAS[1]-15"),
        ("6", Decimal("6.00"), None, "ST[1]/2100[1]/CAS[1]-18"),
    ]


def test_every_plb_pair_is_read_signed_as_sent() -> None:
    plb = "PLB*PROV*20241231*L6*-1.00*WO:A*2.00*FB:B*-3.00*72*4.00*CS*5.00*J1*-6.00"
    outcome = parse(x12(era("CLP*C1*1*10.00*10.00", plb, bpr02="9.00")))
    assert outcome.problems == ()
    pairs = [
        (e.reason, e.reference, e.amount.amount) for e in outcome.items if isinstance(e, ProviderAdjustment)
    ]
    assert pairs == [
        ("L6", "", Decimal("-1.00")),
        ("WO", "A", Decimal("2.00")),
        ("FB", "B", Decimal("-3.00")),
        ("72", "", Decimal("4.00")),
        ("CS", "", Decimal("5.00")),
        ("J1", "", Decimal("-6.00")),
    ]


def test_cas_problems_are_located() -> None:
    outcome = parse(x12(era("CAS*CO*45*1.00", "CLP*C1*1*10.00*10.00", "CAS*XX*45*0", bpr02="10.00")))
    assert outcome.items == ()
    assert codes(outcome) == [
        (ProblemCode.MALFORMED_SEGMENT, "ST[1]/1000B[1]/CAS[1]"),
        (ProblemCode.INVALID_VALUE, "ST[1]/2100[1]/CAS[1]-1"),
    ]


def test_stray_component_separator_in_svc01_is_read_and_noted_once() -> None:
    body = era(
        "CLP*C1*1*20.00*20.00",
        "SVC*HC>99213>26*10.00*10.00",
        "SVC*HC>99214*10.00*10.00",
        bpr02="20.00",
    )
    outcome = parse(x12(body))
    assert codes(outcome, Severity.INFO) == [
        (ProblemCode.MALFORMED_SEGMENT, "ST[1]/2100[1]/2110[1]/SVC[1]-1")
    ]
    assert outcome.ok
    claim = outcome.items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert [line.procedure for line in claim.lines] == ["HC:99213:26", "HC:99214"]


def test_service_line_dates_units_and_revenue_code() -> None:
    body = era(
        "CLP*C1*1*30.00*30.00",
        "SVC*HC:1*10.00*10.00*0450*3",
        "DTM*150*20231201",
        "DTM*151*20231203",
        "SVC*HC:2*10.00*10.00",
        "DTM*150*20231201",
        "DTM*472*20231202",
        "SVC*HC:3*10.00*10.00**X",
        bpr02="30.00",
    )
    outcome = parse(x12(body))
    assert codes(outcome) == [(ProblemCode.INVALID_VALUE, "ST[1]/2100[1]/2110[3]/SVC[1]-5")]
    assert outcome.problems[0].severity is Severity.WARNING
    claim = outcome.items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert [(ln.revenue_code, ln.units, ln.service_date) for ln in claim.lines] == [
        ("0450", Decimal(3), date(2023, 12, 1)),
        ("", None, date(2023, 12, 2)),
        ("", None, None),
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


def test_insured_id_stands_in_when_the_patient_has_none() -> None:
    body = era("CLP*C1*1*10.00*10.00", "NM1*QC*1*DOE*JANE", "NM1*IL*1*DOE*JOHN****MI*SUB-1", bpr02="10.00")
    claim = parse(x12(body)).items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert claim.patient == TOKEN("member", "SUB-1")


def test_medical_record_numbers_share_the_hl7_token_kind() -> None:
    body = era("CLP*C1*1*10.00*10.00", "NM1*QC*1*DOE*JANE****MR*MRN-7", bpr02="10.00")
    claim = parse(x12(body)).items[1]
    assert isinstance(claim, ClaimAdjudicated)
    assert claim.patient == TOKEN("mrn", "MRN-7")


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
