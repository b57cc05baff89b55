"""No patient data leaves the HL7 v2 translation: every name, birth date, address, phone, MRN,
SSN and member id below carries a unique sentinel, and none of them may appear in any encoded
event or in any problem (message, locator, details), on the happy path or on every error path."""

from __future__ import annotations

from datetime import date

import pytest

from revbridge.canonical import codec
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2

SENTINELS = {
    "mrn": "SNTLMRN4471",
    "ssn": "SNTLSSN0923",
    "alt_id": "SNTLALT5532",
    "family": "SNTLFAMILY",
    "given": "SNTLGIVEN",
    "maiden": "SNTLMAIDEN",
    "dob": "18870613",
    "street": "SNTLSTREET 9",
    "city": "SNTLCITY",
    "phone_home": "5550199871",
    "phone_work": "5550199872",
    "guarantor_id": "SNTLGTID77",
    "guarantor_name": "SNTLGTNAME",
    "guarantor_street": "SNTLGTSTREET",
    "guarantor_phone": "5550199873",
    "guarantor_dob": "18870614",
    "guarantor_ssn": "SNTLGTSSN",
    "kin_name": "SNTLKIN",
    "insured_name": "SNTLINSURED",
    "insured_dob": "18870615",
    "insured_street": "SNTLINSSTREET",
    "policy": "SNTLPOLICY",
    "member": "SNTLMEMBER",
    "employer": "SNTLEMPLOYER",
}
S = SENTINELS


def segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


PID = segment(
    "PID",
    {
        1: "1",
        2: S["alt_id"],
        3: f"{S['mrn']}^^^HOSP^MR~{S['ssn']}^^^SSA^SS",
        4: S["alt_id"],
        5: f"{S['family']}^{S['given']}^Q",
        6: S["maiden"],
        7: S["dob"],
        8: "F",
        11: f"{S['street']}^^{S['city']}^ST^00000",
        13: S["phone_home"],
        14: S["phone_work"],
        18: "ACCT1",
        19: S["ssn"],
    },
)
PV1 = segment("PV1", {1: "1", 2: "I", 3: "W^1^A", 10: "MED", 19: "V1", 44: "20240301"})
GT1 = segment(
    "GT1",
    {
        1: "1",
        2: S["guarantor_id"],
        3: S["guarantor_name"],
        5: S["guarantor_street"],
        6: S["guarantor_phone"],
        8: S["guarantor_dob"],
        12: S["guarantor_ssn"],
    },
)
NK1 = segment("NK1", {1: "1", 2: S["kin_name"], 4: S["street"]})
IN1 = segment(
    "IN1",
    {
        1: "1",
        2: "PLAN",
        3: "608",
        4: "PAYER INC",
        11: S["employer"],
        16: S["insured_name"],
        18: S["insured_dob"],
        19: S["insured_street"],
        36: S["policy"],
        49: S["member"],
    },
)
IN1_MEMBER_ONLY = IN1.replace(S["policy"], "")


def ft1(**values: str) -> str:
    fields = {1: "1", 2: "T1", 4: "20240301", 6: "CG", 7: "X1", 10: "1", 11: "10.00", 13: "LAB"}
    fields.update({int(k[1:]): v for k, v in values.items()})
    return segment("FT1", fields)


def msh(message_type: str, facility: str = "FAC", control: str = "C1") -> str:
    return f"MSH|^~\\&|APP|{facility}|RCV|RFAC|20240301||{message_type}|{control}|P|2.5"


def payload(*segments: str) -> bytes:
    return ("\r".join(segments) + "\r").encode()


CASES = {
    "dft": payload(
        msh("DFT^P03"),
        PID,
        PV1,
        GT1,
        IN1,
        ft1(),
        ft1(f1="2", f2="T2", f6="CD", f11="-5"),
        ft1(f1="3", f2="T3", f6="PY", f11="-3"),
        ft1(f1="4", f2="T4", f6="AJ", f11="-1"),
    ),
    "adt": payload(msh("ADT^A01"), "EVN|A01|20240301", PID, NK1, PV1, GT1, IN1, IN1_MEMBER_ONLY),
    "adt_cancel": payload(msh("ADT^A11"), PID, PV1),
    # Error paths: sentinels shifted into fields whose problems describe them.
    "dft_errors": payload(
        msh("DFT^P03"),
        PID,
        ft1(f4=S["dob"] + "99"),
        ft1(f1="2", f2="T2", f6=S["family"]),
        ft1(f1="3", f2="T3", f11=S["ssn"]),
        ft1(f1="4", f2="T4", f11="10^" + S["given"]),
        ft1(f1="5", f2="T5", f10=S["phone_home"] + "x"),
        ft1(f1="6", f2="T6", f11="", f22=S["street"]),
        ft1(f1="7", f2="T7", f11=""),
        "@@" + S["family"],
    ),
    "adt_errors": payload(
        msh("ADT^A01"),
        "EVN|" + S["mrn"] + "|" + S["dob"] + "X",
        PID.replace("ACCT1", ""),
        "PV1|1|I||||||||||||||||||||||||||||||||||||||||||" + S["dob"] + "Z",
    ),
    "unsupported": payload(msh(S["family"] + "^" + S["given"]), PID),
    "no_sender": payload(msh("DFT^P03", facility="", control=""), PID, ft1()),
    "garbage": payload(S["family"] + " " + S["dob"], PID),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_sentinel_leaves_the_translation(case: str) -> None:
    ctx = ParseContext(message_id="m1", tokenizer=fixed_tokenizer(), received_on=date(2024, 3, 1))
    outcome: Outcome[CanonicalEvent] = HL7V2.to_events(CASES[case], ctx)
    if case in ("dft", "adt", "adt_cancel"):
        assert outcome.items, "the happy path must produce events for this test to mean anything"
        assert outcome.ok
    else:
        assert outcome.problems, "the error path must produce problems for this test to mean anything"
    texts = [codec.dumps(event) for event in outcome.items]
    texts += [f"{p} {p.locator} {p.event_key} {p.details}" for p in outcome.problems]
    blob = "\n".join(texts)
    for name, sentinel in SENTINELS.items():
        assert sentinel not in blob, f"{name} leaked in case {case}"
    # Dates of birth, also in the ISO form an event would carry.
    for dob in (S["dob"], S["guarantor_dob"], S["insured_dob"]):
        assert f"{dob[:4]}-{dob[4:6]}-{dob[6:]}" not in blob


def test_identifiers_arrive_as_tokens() -> None:
    ctx = ParseContext(message_id="m1", tokenizer=fixed_tokenizer(), received_on=date(2024, 3, 1))
    [event] = HL7V2.to_events(CASES["adt"], ctx).items
    encoded = codec.encode(event)
    assert encoded["patient"] == ctx.tokenizer("mrn", S["mrn"])
    assert encoded["guarantor"] == ctx.tokenizer("guarantor", S["guarantor_id"])
    assert [c["member"] for c in encoded["coverages"]] == [
        ctx.tokenizer("member", S["policy"]),
        ctx.tokenizer("member", S["member"]),
    ]
