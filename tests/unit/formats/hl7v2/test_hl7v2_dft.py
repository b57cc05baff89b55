"""DFT^P03 -> one posting event per FT1: types, amounts, dates, keys and located problems."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from revbridge.canonical.events import (
    AdjustmentPosted,
    CanonicalEvent,
    ChargeCaptured,
    ChargeReversed,
    PatientPaymentReceived,
)
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.formats.base import Limits, ParseContext
from revbridge.formats.hl7v2 import HL7V2

MSH = "MSH|^~\\&|APP|FAC|RCV|RFAC|20240301120000||DFT^P03|CTRL1|P|2.5"


def segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name, *(fields.get(n, "") for n in range(1, max(fields) + 1))])


PID = segment(
    "PID",
    {
        1: "1",
        3: "MRN123^^^HOSP^MR",
        5: "DOE^JANE",
        7: "19800101",
        8: "F",
        11: "1 MAIN ST^^TOWN^ST^00000",
        18: "ACCT9",
    },
)
PV1 = segment("PV1", {1: "1", 2: "O", 3: "CLINIC^1^A", 10: "MED", 19: "V100"})


def ft1(**values: str) -> str:
    """An FT1 from keyword arguments f<n>=value; a plain charge of 125.10 unless told otherwise."""
    fields = {1: "1", 2: "T1", 4: "20240228", 6: "CG", 7: "84460^^PROC", 10: "1", 11: "125.10", 13: "LAB^^X"}
    for name, value in values.items():
        fields[int(name[1:])] = value
    return segment("FT1", {n: v for n, v in fields.items() if v is not None})


def run(ctx: ParseContext, *segments: str, sep: str = "\r") -> Outcome[CanonicalEvent]:
    return HL7V2.to_events((sep.join(segments) + sep).encode(), ctx)


def codes(outcome: Outcome[CanonicalEvent]) -> list[tuple[ProblemCode, str]]:
    return [(p.code, p.locator) for p in outcome.problems]


def test_a_charge(ctx: ParseContext) -> None:
    outcome = run(ctx, MSH, "EVN|P03", PID, PV1, ft1(f25="99213^Office Visit^CPT"))
    assert outcome.problems == ()
    assert outcome.items == (
        ChargeCaptured(
            key="hl7v2:FAC:T1",
            source=SourceRef("msg-1", "FT1[1]"),
            occurred_on=date(2024, 2, 28),
            facility="FAC",
            charge_id="T1",
            encounter="V100",
            patient=ctx.tokenizer("mrn", "MRN123"),
            department="LAB",
            procedure="99213",
            quantity=Decimal(1),
            amount=Money.of("125.10"),
        ),
    )


def test_procedure_falls_back_to_the_transaction_code(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1()).items
    assert isinstance(event, ChargeCaptured)
    assert event.procedure == "84460"


@pytest.mark.parametrize(
    ("f11", "amount"),
    [
        ("125.10", Money.of("125.10")),
        ("125.10^USD", Money.of("125.10")),
        ("99.99&EUR^UP", Money.of("99.99", "EUR")),
        ("+7", Money.of("7")),
        ("10^AP", Money.of("10")),  # a price type (table 0205), not a currency
        ("  12.5 ", Money.of("12.50")),
    ],
)
def test_extended_amount_forms(ctx: ParseContext, f11: str, amount: Money) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1(f11=f11)).items
    assert isinstance(event, ChargeCaptured)
    assert event.amount == amount
    assert event.amount.currency == amount.currency


def test_unit_cost_times_quantity_when_no_extended_amount(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1(f11="", f10="3", f22="20.50^USD")).items
    assert isinstance(event, ChargeCaptured)
    assert event.amount == Money.of("61.50")
    assert event.quantity == Decimal(3)


def test_missing_amount_is_located_at_the_ft1_and_keyed(ctx: ParseContext) -> None:
    outcome = run(ctx, MSH, PID, PV1, ft1(f2="T1"), ft1(f1="2", f2="T2", f11=""))
    assert [e.key for e in outcome.items] == ["hl7v2:FAC:T1"]
    [problem] = outcome.problems
    assert (problem.code, problem.locator, problem.event_key) == (
        ProblemCode.MISSING_AMOUNT,
        "FT1[2]",
        "hl7v2:FAC:T2",
    )
    assert problem.where.message_id == "msg-1"
    assert problem.severity is Severity.ERROR


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"f11": "12,50"}, (ProblemCode.INVALID_AMOUNT, "FT1[1]-11")),
        ({"f11": "1e3"}, (ProblemCode.INVALID_AMOUNT, "FT1[1]-11")),
        ({"f11": "", "f22": "abc"}, (ProblemCode.INVALID_AMOUNT, "FT1[1]-22")),
        ({"f11": "1.005"}, (ProblemCode.INEXACT_AMOUNT, "FT1[1]-11")),
        ({"f11": "", "f22": "0.333", "f10": "3"}, (ProblemCode.INEXACT_AMOUNT, "FT1[1]-22")),
        ({"f11": "10^XYZ"}, (ProblemCode.UNSUPPORTED_CURRENCY, "FT1[1]-11")),
        ({"f11": "10&ABCD"}, (ProblemCode.UNSUPPORTED_CURRENCY, "FT1[1]-11")),
        ({"f10": "two"}, (ProblemCode.INVALID_VALUE, "FT1[1]-10")),
        ({"f4": "20240230"}, (ProblemCode.INVALID_DATE, "FT1[1]-4.1")),
        ({"f4": "2024"}, (ProblemCode.INVALID_DATE, "FT1[1]-4.1")),
        ({"f4": "2024010124"}, (ProblemCode.INVALID_DATE, "FT1[1]-4.1")),  # hour 24
        ({"f4": "202401011260"}, (ProblemCode.INVALID_DATE, "FT1[1]-4.1")),  # minute 60
        ({"f4": "20240101+2500"}, (ProblemCode.INVALID_DATE, "FT1[1]-4.1")),
        ({"f6": "ZZ"}, (ProblemCode.UNSUPPORTED_TRANSACTION, "FT1[1]-6")),
        ({"f6": ""}, (ProblemCode.MISSING_FIELD, "FT1[1]-6")),
    ],
)
def test_bad_values_are_located_problems(
    ctx: ParseContext, values: dict[str, str], expected: tuple[ProblemCode, str]
) -> None:
    outcome = run(ctx, MSH, PID, PV1, ft1(**values))
    assert outcome.items == ()
    assert codes(outcome) == [expected]
    assert outcome.problems[0].event_key == "hl7v2:FAC:T1"


def test_a_credit_is_a_reversal_with_positive_magnitudes(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1(f6="CD", f10="-2", f11="-250.20")).items
    assert event == ChargeReversed(
        key="hl7v2:FAC:T1:CD",
        source=SourceRef("msg-1", "FT1[1]"),
        occurred_on=date(2024, 2, 28),
        facility="FAC",
        charge_id="T1",
        encounter="V100",
        patient=ctx.tokenizer("mrn", "MRN123"),
        department="LAB",
        procedure="84460",
        quantity=Decimal(2),
        amount=Money.of("250.20"),
    )


@pytest.mark.parametrize(("f10", "f11"), [("-1", "125.10"), ("1", "-125.10"), ("-1", "-125.10")])
def test_a_negative_charge_is_a_reversal(ctx: ParseContext, f10: str, f11: str) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1(f10=f10, f11=f11)).items
    assert isinstance(event, ChargeReversed)
    assert event.amount == Money.of("125.10")
    assert event.quantity == Decimal(1)


def test_payment_and_adjustment(ctx: ParseContext) -> None:
    outcome = run(
        ctx,
        MSH,
        PID,
        PV1,
        ft1(f2="P1", f6="py", f7="CASH", f11="-40.00"),
        ft1(f1="2", f2="A1", f6=" aj ", f7="CHARITY^Charity care", f11="-15.5", f13="BILL"),
    )
    assert outcome.problems == ()
    assert outcome.items == (
        PatientPaymentReceived(
            key="hl7v2:FAC:P1:PY",
            source=SourceRef("msg-1", "FT1[1]"),
            occurred_on=date(2024, 2, 28),
            facility="FAC",
            payment_id="P1",
            encounter="V100",
            patient=ctx.tokenizer("mrn", "MRN123"),
            amount=Money.of("40.00"),
        ),
        AdjustmentPosted(
            key="hl7v2:FAC:A1:AJ",
            source=SourceRef("msg-1", "FT1[2]"),
            occurred_on=date(2024, 2, 28),
            facility="FAC",
            adjustment_id="A1",
            encounter="V100",
            patient=ctx.tokenizer("mrn", "MRN123"),
            code="CHARITY",
            department="BILL",
            amount=Money.of("15.50"),
        ),
    )


def test_lower_case_charge(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, PID, PV1, ft1(f6="cg")).items
    assert isinstance(event, ChargeCaptured)


@pytest.mark.parametrize(
    ("f4", "msh7", "expected"),
    [
        ("20090923^20090923", "20240301", date(2009, 9, 23)),
        ("202401011230-0500", "20240301", date(2024, 1, 1)),
        ("20240101123045.1234+0100", "20240301", date(2024, 1, 1)),
        ("", "20240229235959", date(2024, 2, 29)),
        ("", "", date(2024, 3, 1)),  # ctx.received_on
    ],
)
def test_service_date(ctx: ParseContext, f4: str, msh7: str, expected: date) -> None:
    header = MSH.replace("20240301120000", msh7)
    [event] = run(ctx, header, PID, PV1, ft1(f4=f4)).items
    assert event.occurred_on == expected


def test_invalid_message_date_when_it_is_needed(ctx: ParseContext) -> None:
    header = MSH.replace("20240301120000", "yesterday")
    outcome = run(ctx, header, PID, PV1, ft1(f4=""), ft1(f1="2", f2="T2", f4="20240102"))
    assert [e.key for e in outcome.items] == ["hl7v2:FAC:T2"]
    assert codes(outcome) == [(ProblemCode.INVALID_DATE, "MSH[1]-7")]
    assert outcome.problems[0].event_key == "hl7v2:FAC:T1"


def test_keys_without_a_transaction_id(ctx: ParseContext) -> None:
    outcome = run(ctx, MSH, PID, PV1, ft1(f2="", f1="7"), ft1(f2="", f1=""))
    assert [e.key for e in outcome.items] == ["hl7v2:FAC:CTRL1#7", "hl7v2:FAC:CTRL1#2"]
    charges = [e for e in outcome.items if isinstance(e, ChargeCaptured)]
    assert [c.charge_id for c in charges] == ["CTRL1#7", "CTRL1#2"]


def test_a_repeated_transaction_id_is_a_conflict(ctx: ParseContext) -> None:
    outcome = run(ctx, MSH, PID, PV1, ft1(), ft1(f1="2"))
    assert [e.key for e in outcome.items] == ["hl7v2:FAC:T1"]
    assert codes(outcome) == [(ProblemCode.EVENT_CONFLICT, "FT1[2]-2")]


def test_charges_need_an_encounter_but_payments_do_not(ctx: ParseContext) -> None:
    pv1_without_visit = "PV1|1|O"
    pid_without_account = PID.replace("ACCT9", "")
    outcome = run(
        ctx,
        MSH,
        pid_without_account,
        pv1_without_visit,
        ft1(),
        ft1(f1="2", f2="T2"),
        ft1(f1="3", f2="P1", f6="PY"),
    )
    assert [type(e).__name__ for e in outcome.items] == ["PatientPaymentReceived"]
    assert outcome.items[0].encounter == ""  # type: ignore[union-attr]
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "PV1[1]-19")]  # once, not per charge


def test_encounter_falls_back_to_the_account_number(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, PID, "PV1|1|O", ft1()).items
    assert isinstance(event, ChargeCaptured)
    assert event.encounter == "ACCT9"
    [event] = run(ctx, MSH, PID, ft1()).items
    assert isinstance(event, ChargeCaptured)
    assert event.encounter == "ACCT9"


def test_no_patient_identifier_still_posts_the_charge(ctx: ParseContext) -> None:
    [event] = run(ctx, MSH, "PID|1||||DOE^JANE", PV1, ft1()).items
    assert isinstance(event, ChargeCaptured)
    assert event.patient is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (MSH.replace("|FAC|", "||"), [(ProblemCode.MISSING_FIELD, "MSH[1]-4")]),
        (MSH.replace("|CTRL1|", "||"), [(ProblemCode.MISSING_FIELD, "MSH[1]-10")]),
    ],
)
def test_sender_and_control_id_are_required(
    ctx: ParseContext, header: str, expected: list[tuple[ProblemCode, str]]
) -> None:
    outcome = run(ctx, header, PID, PV1, ft1())
    assert outcome.items == ()
    assert codes(outcome) == expected


def test_a_dft_without_ft1(ctx: ParseContext) -> None:
    outcome = run(ctx, MSH, PID, PV1)
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.MISSING_FIELD, "FT1[1]")]


def test_p11_and_custom_delimiters_and_lf(ctx: ParseContext) -> None:
    header = "MSH#*@!$#APP#FAC*1.2*ISO#RCV#RFAC#20240301##DFT*P11#CTRL9#P#2.6"
    segments = [
        header,
        "PID#1##MRN123*** HOSP*MR",
        "PV1#1#O" + "#" * 17 + "V7",
        "FT1#1#T9##20240102##CG#X1###2#30.00!F!x",
    ]
    outcome = run(ctx, *segments, sep="\n")
    assert codes(outcome) == [(ProblemCode.INVALID_AMOUNT, "FT1[1]-11")]  # "30.00#x" once unescaped
    segments[-1] = "FT1#1#T9##20240102##CG#X1###2#30.00*USD"
    [event] = run(ctx, *segments, sep="\n").items
    assert isinstance(event, ChargeCaptured)
    assert (event.key, event.facility, event.encounter, event.amount, event.quantity) == (
        "hl7v2:FAC:T9",
        "FAC",
        "V7",
        Money.of("30.00"),
        Decimal(2),
    )
    assert event.patient == ctx.tokenizer("mrn", "MRN123")


def test_one_bad_ft1_does_not_hide_the_good_ones(ctx: ParseContext) -> None:
    outcome = run(
        ctx, MSH, PID, PV1, ft1(f2="A"), ft1(f1="2", f2="B", f6="XX"), ft1(f1="3", f2="C", f11="9.99")
    )
    assert [e.key for e in outcome.items] == ["hl7v2:FAC:A", "hl7v2:FAC:C"]
    assert [(p.code, p.event_key) for p in outcome.problems] == [
        (ProblemCode.UNSUPPORTED_TRANSACTION, "hl7v2:FAC:B")
    ]


def test_limits(ctx: ParseContext) -> None:
    small = ParseContext(
        message_id="m",
        tokenizer=ctx.tokenizer,
        received_on=ctx.received_on,
        limits=Limits(max_message_bytes=100, max_element_length=10),
    )
    outcome = HL7V2.to_events(("\r".join([MSH, PID, PV1, ft1()]) + "\r").encode(), small)
    assert codes(outcome) == [(ProblemCode.LIMIT_EXCEEDED, "")]
    tiny_fields = ParseContext(
        message_id="m",
        tokenizer=ctx.tokenizer,
        received_on=ctx.received_on,
        limits=Limits(max_element_length=20),
    )
    outcome = HL7V2.to_events(("\r".join([MSH, PID, PV1, ft1()]) + "\r").encode(), tiny_fields)
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.LIMIT_EXCEEDED, "PID[1]-11")]
