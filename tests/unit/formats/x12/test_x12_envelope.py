"""Envelopes: trailer checks as located problems, what they withhold, and several ISA/GS/ST."""

from __future__ import annotations

from x12_build import V835, codes, era, group, interchange, parse, transaction, x12

from revbridge.canonical.events import ClaimAdjudicated, RemittanceReceived
from revbridge.core.problem import ProblemCode, Severity

BODY = era("CLP*C1*1*10.00*10.00", bpr02="10.00")


def one(tx: list[str], **kwargs: str) -> bytes:
    return interchange([group([tx])], **kwargs).encode()


def test_a_sound_interchange_has_no_problems() -> None:
    outcome = parse(x12(BODY))
    assert outcome.problems == ()
    assert [type(e) for e in outcome.items] == [RemittanceReceived, ClaimAdjudicated]


def test_wrong_se01_withholds_the_transaction() -> None:
    outcome = parse(one(transaction(BODY, se01=99)))
    assert outcome.items == ()
    assert codes(outcome, Severity.ERROR) == [(ProblemCode.ENVELOPE_MISMATCH, "SE[1]-1")]
    assert outcome.problems[0].message == "SE01 says 99 segments but the transaction set has 10"


def test_wrong_se02_withholds_the_transaction() -> None:
    tx = transaction(BODY)
    tx[-1] = tx[-1].replace("*0001", "*9999")
    outcome = parse(one(tx))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.ENVELOPE_MISMATCH, "SE[1]-2")]


def test_missing_se_withholds_the_transaction() -> None:
    outcome = parse(one(transaction(BODY)[:-1]))
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.ENVELOPE_MISMATCH, "SE[1]")]
    assert outcome.problems[0].severity is Severity.ERROR


def test_group_and_interchange_trailer_mismatches_are_warnings_and_the_sets_still_post() -> None:
    data = interchange([group([transaction(BODY)], ge01=2)], iea="IEA*3*000000002").encode()
    outcome = parse(data)
    assert codes(outcome, Severity.WARNING) == [
        (ProblemCode.ENVELOPE_MISMATCH, "GE[1]-1"),
        (ProblemCode.ENVELOPE_MISMATCH, "IEA[1]-1"),
        (ProblemCode.ENVELOPE_MISMATCH, "IEA[1]-2"),
    ]
    assert outcome.ok
    assert len(outcome.items) == 2


def test_ge02_must_match_gs06() -> None:
    segments = group([transaction(BODY)])
    segments[-1] = "GE*1*77"
    outcome = parse(interchange([segments]).encode())
    assert codes(outcome) == [(ProblemCode.ENVELOPE_MISMATCH, "GE[1]-2")]


def test_missing_trailers_at_the_end_of_the_file_are_reported() -> None:
    data = "~\n".join(interchange([group([transaction(BODY)])]).split("~\n")[:-3]) + "~\n"
    outcome = parse(data.encode())
    assert codes(outcome) == [
        (ProblemCode.ENVELOPE_MISMATCH, "GE[1]"),
        (ProblemCode.ENVELOPE_MISMATCH, "IEA[1]"),
    ]
    assert len(outcome.items) == 2


def test_transaction_sets_are_numbered_across_groups_and_interchanges() -> None:
    first = interchange(
        [
            group(
                [transaction(BODY, control="1"), transaction(era("BAD", bpr02="1.00"), control="2")],
                control="1",
            ),
            group(
                [transaction(era("CLP*C3*1*1.00*1.00", bpr02="1.00", trace="T3"), control="3")], control="2"
            ),
        ],
        control="000000001",
    )
    second = interchange([group([transaction(BODY, control="4", se01=3)], control="3")], control="000000002")
    outcome = parse((first + second.replace("*", "|").replace(":", ">")).encode())
    assert codes(outcome) == [
        (ProblemCode.UNBALANCED_REMITTANCE, "ST[2]/BPR[1]-2"),
        (ProblemCode.ENVELOPE_MISMATCH, "SE[4]-1"),
    ]
    assert [e.source.locator for e in outcome.items] == [
        "ST[1]/BPR[1]",
        "ST[1]/2100[1]",
        "ST[3]/BPR[1]",
        "ST[3]/2100[1]",
    ]


def test_unsupported_transaction_sets_are_skipped_and_named() -> None:
    eligibility = transaction(["BHT*0022*13*1*20240105*1200", "CLP*not*read"], code="270", control="1")
    remittance = transaction(BODY, control="2")
    outcome = parse(interchange([group([eligibility, remittance])]).encode())
    assert codes(outcome) == [(ProblemCode.UNSUPPORTED_TRANSACTION, "ST[1]-1")]
    assert [e.source.locator for e in outcome.items] == ["ST[2]/BPR[1]", "ST[2]/2100[1]"]


def test_unsupported_835_version_is_refused() -> None:
    outcome = parse(interchange([group([transaction(BODY)], version="003070X091")]).encode())
    assert outcome.items == ()
    assert codes(outcome) == [(ProblemCode.UNSUPPORTED_TRANSACTION, "ST[1]-1")]


def test_st03_names_the_version_when_there_is_no_group() -> None:
    tx = transaction(BODY)
    tx[0] = f"ST*835*0001*{V835}"
    outcome = parse(interchange([tx]).encode())
    assert codes(outcome) == [
        (ProblemCode.ENVELOPE_MISMATCH, "ST[1]"),
        (ProblemCode.ENVELOPE_MISMATCH, "IEA[1]-1"),
    ]
    assert outcome.ok
    assert len(outcome.items) == 2


def test_segments_outside_any_transaction_set_are_located_by_position() -> None:
    segments = group([transaction(BODY)])
    segments.insert(1, "REF*XX*1")
    outcome = parse(interchange([segments]).encode())
    assert codes(outcome) == [(ProblemCode.MALFORMED_SEGMENT, "ISA[1]/SEG[3]")]


def test_bytes_after_the_iea_that_are_not_an_interchange_are_reported() -> None:
    outcome = parse(x12(BODY) + b"\nthis is not X12")
    assert codes(outcome) == [(ProblemCode.MALFORMED_MESSAGE, "ISA[2]")]
    assert len(outcome.items) == 2


def test_empty_and_garbage_payloads_are_malformed() -> None:
    assert codes(parse(b"  \r\n")) == [(ProblemCode.MALFORMED_MESSAGE, "")]
    assert codes(parse(b"MSH|^~\\&|")) == [(ProblemCode.MALFORMED_MESSAGE, "ISA[1]")]


def test_a_transaction_set_sent_twice_is_noticed() -> None:
    outcome = parse(x12(BODY, BODY))
    assert codes(outcome) == [(ProblemCode.EVENT_CONFLICT, "ST[2]")]
    problem = outcome.problems[0]
    assert problem.severity is Severity.WARNING
    assert dict(problem.details) == {"repeated_events": "2"}
    assert len(outcome.items) == 4
