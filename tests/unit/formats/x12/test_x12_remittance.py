"""The 835 reader: events as DESIGN.md section 3 describes them, keys, occurrences, dates and
what every CAS, PLB and SVC carries. What it refuses is test_x12_remittance_problems.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from x12_build import codes, era, parse, x12

from revbridge.canonical.events import (
    CanonicalEvent,
    CasAdjustment,
    ClaimAdjudicated,
    ProviderAdjustment,
    RemittanceReceived,
    ServiceLinePayment,
)
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode, Severity
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


@pytest.fixture(scope="module")
def worked() -> Outcome[CanonicalEvent]:
    return parse(x12(WORKED))


def test_worked_era_yields_six_events_and_no_problem(worked: Outcome[CanonicalEvent]) -> None:
    assert worked.problems == ()
    assert len(worked.items) == 6


def test_worked_era_remittance_is_bpr_and_trn(worked: Outcome[CanonicalEvent]) -> None:
    remittance, *_ = worked.items
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


def test_worked_era_claim_carries_its_service_line_and_cas(worked: Outcome[CanonicalEvent]) -> None:
    _, claim_a, *_ = worked.items
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


def test_worked_era_reversal_and_correction_have_their_own_keys(worked: Outcome[CanonicalEvent]) -> None:
    _, _, reversal, corrected, *_ = worked.items
    assert isinstance(reversal, ClaimAdjudicated)
    assert isinstance(corrected, ClaimAdjudicated)
    assert reversal.is_reversal
    assert (reversal.charge, reversal.paid) == (usd("-300.00"), usd("-200.00"))
    assert reversal.adjustments == (
        CasAdjustment(group="CO", reason="45", amount=usd("-100.00"), locator="ST[1]/2100[2]/CAS[1]-3"),
    )
    assert reversal.key == f"{KEY}:B200:ICN-B:22:1"
    assert not corrected.is_reversal
    assert corrected.key == f"{KEY}:B200:ICN-B2:1:1"
    assert reversal.patient == corrected.patient == TOKEN("member", "M-B")


def test_worked_era_plb_pairs_are_provider_adjustments(worked: Outcome[CanonicalEvent]) -> None:
    *_, interest, recoupment = worked.items
    assert isinstance(recoupment, ProviderAdjustment)
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
