"""No patient name, member id, address, phone number or birth date leaves the X12 readers: not in
events, not in problems, not even when a broken file puts them where amounts or codes belong."""

from __future__ import annotations

import pytest
from x12_build import V837P, context, era, parse, x12

from revbridge.canonical.codec import dumps
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Limits

LAST, FIRST = "ZQSENTINELLAST", "ZQSENTINELFIRST"
MEMBER, INSURED, MRN = "ZQMEMBER4711", "ZQINSURED0815", "ZQMRN99"
STREET, CITY, PHONE, BIRTH = "1 ZQSENTINEL STREET", "ZQCITY", "5559876543", "19011231"
SENTINELS = (LAST, FIRST, MEMBER, INSURED, MRN, STREET, CITY, PHONE, BIRTH)


def assert_clean(outcome: Outcome[CanonicalEvent]) -> None:
    text = "\n".join(dumps(event) for event in outcome.items)
    text += "\n".join(f"{p} {p.details} {p.event_key}" for p in outcome.problems)
    for sentinel in SENTINELS:
        assert sentinel not in text


REMITTANCE = era(
    "LX*1",
    "CLP*C1*1*30.00*20.00*10.00*12*ICN1",
    f"NM1*QC*1*{LAST}*{FIRST}****MI*{MEMBER}",
    f"NM1*IL*1*{LAST}*{FIRST}****MI*{INSURED}",
    f"NM1*74*1*{LAST}*{FIRST}****C*{MEMBER}",
    f"PER*CX*{LAST}*TE*{PHONE}",
    "SVC*HC:99213*30.00*20.00",
    "CAS*PR*1*10.00",
    "CLP*C2*1*5.00*5.00*0*12*ICN2",
    f"NM1*QC*1*{LAST}*{FIRST}****MR*{MRN}",
    bpr02="25.00",
)


def test_remittance_events_carry_tokens_not_identifiers() -> None:
    outcome = parse(x12(REMITTANCE))
    assert outcome.problems == ()
    assert_clean(outcome)
    token = fixed_tokenizer()
    assert [getattr(e, "patient", None) for e in outcome.items[1:]] == [
        token("member", MEMBER),
        token("mrn", MRN),
    ]


@pytest.mark.parametrize(
    "segment",
    [
        f"CLP*C1*1*{LAST}*10.00",
        f"CLP*C1*{LAST}*10.00*10.00*0",
        f"CAS*{LAST}*45*1.00",
        f"CAS*CO*45*{MEMBER}",
        f"CAS*CO*45*1.00*{MEMBER}",
        f"SVC*HC:1*{MEMBER}*1.00",
        f"SVC*{LAST}>1*1.00*1.00**{MEMBER}",
        f"DTM*472*{BIRTH}X",
        f"AMT*B6*{PHONE}X",
        f"QTY*CA*{CITY}",
        f"PLB*{LAST}*{BIRTH}X*L6*{MEMBER}",
        f"NM1*QC*1*{LAST}*{FIRST}****MI*{MEMBER}*{STREET}",
        f"TS3*{MEMBER}*11*{BIRTH}X*1*{PHONE}X",
        f"CUR*PR*{CITY}",
        f"ZZZ*{LAST}",
    ],
)
def test_misplaced_patient_data_never_reaches_a_problem(segment: str) -> None:
    body = era("LX*1", "CLP*C0*1*10.00*10.00", segment, bpr02="11.00")
    outcome = parse(x12(body))
    assert outcome.problems
    assert_clean(outcome)


def test_envelope_problems_do_not_echo_what_they_found() -> None:
    data = x12(era("CLP*C1*1*10.00*10.00", bpr02="10.00")).replace(b"SE*10*0001", f"SE*{LAST}*0001".encode())
    outcome = parse(data.replace(b"ST*835*", f"ST*{MEMBER}*".encode(), 1))
    assert outcome.problems
    assert_clean(outcome)


def test_overlong_names_are_not_quoted() -> None:
    body = era("CLP*C1*1*10.00*10.00", f"NM1*QC*1*{LAST * 40}", bpr02="10.00")
    outcome = parse(x12(body), context(limits=Limits(max_element_length=100)))
    assert outcome.problems
    assert_clean(outcome)


def test_claims_drop_names_addresses_birth_dates_and_phone_numbers() -> None:
    body = [
        "BHT*0019*00*1*20240105*1200*CH",
        "NM1*41*2*BILLING*****46*X1",
        f"PER*IC*{LAST}*TE*{PHONE}",
        "HL*1**20*1",
        "NM1*85*2*HOSPITAL*****XX*1234567893",
        "HL*2*1*22*1",
        f"NM1*IL*1*{LAST}*{FIRST}****MI*{INSURED}",
        f"N3*{STREET}",
        f"N4*{CITY}*PA*17111",
        f"DMG*D8*{BIRTH}*F",
        "NM1*PR*2*PLAN*****PI*PAYER1",
        "HL*3*2*23*0",
        f"NM1*QC*1*{LAST}*{FIRST}",
        f"DMG*D8*{BIRTH}*M",
        "CLM*C1*10.00***11:B:1",
        "SBR*S*01*******CI",
        f"NM1*IL*1*{LAST}*{FIRST}****MI*{MEMBER}",
        "LX*1",
        "SV1*HC:99213*10.00*UN*1",
        "CLM*C2*99.00***11:B:1",
        "LX*1",
        f"SV1*HC:99213*{MEMBER}*UN*{BIRTH}X",
    ]
    outcome = parse(x12(body, code="837", version=V837P))
    assert len(outcome.items) == 1
    assert outcome.problems
    assert_clean(outcome)
