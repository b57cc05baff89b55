"""Golden tests over ../shared/corpus/hl7v2: each file yields the messages, events and totals its
row in SOURCES.md states, and malformed variants of them give located problems, never exceptions."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from revbridge.canonical.events import CanonicalEvent, ChargeCaptured, EncounterRegistered
from revbridge.core.locator import SourceRef
from revbridge.core.money import Money
from revbridge.core.problem import Outcome, ProblemCode, Severity
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Envelope, ParseContext
from revbridge.formats.hl7v2 import HL7V2, NON_FINANCIAL_TRIGGER, parse, read

REDOX = "redox__DFT_P03_parser_spec_cr.hl7"
MIEWEB = "nodehl7complete__mieweb_dft-example_2xDFT_P03_lf.hl7"
MIRTH = "mirth__simplesender_TestADT_124msgs_A01_A04_A31_crlf.txt"
MIXED = "lfh_hl7v2fhir__HL7ADTMessageTest_ADT_A03_mixed_cr_lf.hl7"
HL7APY = "hl7apy__test_validation_adt_a01_cr.hl7"
BATCH = "pythonhl7__samples_sample_file_FHS_BHS_ADT_A04_cr.hl7"


def ctx(n: int = 1) -> ParseContext:
    return ParseContext(message_id=f"m{n}", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))


def translate(corpus: Path, name: str) -> list[tuple[Envelope, Outcome[CanonicalEvent]]]:
    data = (corpus / "hl7v2" / name).read_bytes()
    assert HL7V2.detect(data[:256])
    return [(e, HL7V2.to_events(e.payload, ctx(n))) for n, e in enumerate(HL7V2.split(data), start=1)]


def problems_of(outcome: Outcome[CanonicalEvent]) -> list[tuple[ProblemCode, str]]:
    return [(p.code, p.locator) for p in outcome.problems]


def test_every_corpus_file_is_covered(corpus: Path) -> None:
    assert sorted(p.name for p in (corpus / "hl7v2").iterdir()) == sorted(
        [REDOX, MIEWEB, MIRTH, MIXED, HL7APY, BATCH]
    )


def test_redox_dft_one_charge_of_125_10(corpus: Path) -> None:
    [(envelope, outcome)] = translate(corpus, REDOX)
    assert envelope.dedupe_key == "NCA|152210"
    assert envelope.problems == ()
    assert outcome.problems == ()
    assert outcome.items == (
        ChargeCaptured(
            key="hl7v2:NCA:691234",
            source=SourceRef("m1", "FT1[1]"),
            occurred_on=date(2009, 9, 23),
            facility="NCA",
            charge_id="691234",
            encounter="86210313010",
            patient=fixed_tokenizer()("mrn", "11401562"),
            department="MED",
            procedure="99213",
            quantity=Decimal(1),
            amount=Money.of("125.10"),
        ),
    )
    message, _ = parse(envelope.payload)
    assert message is not None
    assert [read(message, f"FT1[1]-26({n})") for n in (1, 2)] == ["MOD1", "MOD2"]
    assert read(message, "FT1[1]-29.1") == "61519-1234-12-01"
    assert read(message, "FT1[1]-4.2") == "20090923"


def test_mieweb_two_dfts_whose_charges_have_no_amount(corpus: Path) -> None:
    translated = translate(corpus, MIEWEB)
    assert len(translated) == 2
    codes = []
    for n, (envelope, outcome) in enumerate(translated, start=1):
        assert envelope.problems == ()
        assert outcome.items == ()
        assert problems_of(outcome) == [
            (ProblemCode.MISSING_FIELD, "PID[1]-18"),  # no PV1 and no account number
            (ProblemCode.MISSING_AMOUNT, "FT1[1]"),
        ]
        assert all(p.where.message_id == f"m{n}" for p in outcome.problems)
        message, _ = parse(envelope.payload)
        assert message is not None
        assert message.count("FT1") == 1
        assert (read(message, "FT1-6"), read(message, "FT1-10")) == ("CG", "1")
        codes.append(read(message, "FT1-7"))
    assert codes == ["73630", "76775"]
    first, _ = parse(translated[0][0].payload)
    assert first is not None
    assert [read(first, f"FT1-26({r})") for r in (1, 2)] == ["RT", "GA"]
    assert read(first, "PID-3.4.2") == "1.3.6.1.4.1.21367.2005.1.1"  # a sub-component OID
    second, _ = parse(translated[1][0].payload)
    assert second is not None
    assert read(second, "FT1-16.9") == "TESTLOCATION "  # a trailing space inside a field is data
    assert [read(second, f"FT1-19({r})") for r in (1, 2)] == ["440.0", "441.4"]


def test_mirth_124_adt_messages(corpus: Path) -> None:
    translated = translate(corpus, MIRTH)
    assert len(translated) == 124
    # The sample repeats 15 messages 8 or 9 times each, so intake deduplicates it to 15 ...
    payloads_by_key: dict[str, set[bytes]] = {}
    for envelope, _ in translated:
        payloads_by_key.setdefault(envelope.dedupe_key, set()).add(envelope.payload)
    assert len(payloads_by_key) == 15
    # ... except that one repeat of 1|603266 differs (a garbled NK1 address): same sender and
    # control id with other content, which the store must report as a conflict, not a duplicate.
    assert [k for k, v in payloads_by_key.items() if len(v) > 1] == ["1|603266"]
    ignored = Counter(o.ignored_by for _, o in translated)
    assert ignored == {NON_FINANCIAL_TRIGGER: 66, None: 58}
    events = [event for _, outcome in translated for event in outcome.items]
    assert all(isinstance(e, EncounterRegistered) for e in events)
    registered = [e for e in events if isinstance(e, EncounterRegistered)]
    assert Counter(e.trigger for e in registered) == {"A01": 49, "A04": 9}
    assert sum(len(e.coverages) for e in registered) == 108
    assert all(outcome.problems == () for _, outcome in translated)
    assert len({e.key for e in registered}) == 7  # 6 distinct A01 and 1 A04, repeated
    segments: Counter[str] = Counter()
    for envelope, _ in translated:
        message, problems = parse(envelope.payload)
        assert message is not None
        assert problems == ()
        segments.update(s.name for s in message.segments)
    assert sum(segments.values()) == 969
    assert (segments["GT1"], segments["IN1"], segments["IN2"]) == (58, 108, 50)
    first = registered[0]
    assert (first.key, first.facility, first.encounter, first.patient_class, first.department) == (
        "hl7v2:1:603262:A01",
        "1",
        "6635094",
        "I",
        "MD",
    )
    assert [(c.payer_id, c.plan, c.priority) for c in first.coverages] == [
        ("608", "BC-CNY", 1),
        ("705", "SELF PAY", 2),
    ]
    assert first.coverages[0].member == fixed_tokenizer()("member", "YNZ4562U45951")
    assert first.guarantor == fixed_tokenizer()("guarantor", "382559")
    assert first.admitted_on == date(2006, 3, 2)


def test_mixed_cr_lf_a03_has_16_segments(corpus: Path) -> None:
    [(envelope, outcome)] = translate(corpus, MIXED)
    message, problems = parse(envelope.payload)
    assert message is not None
    assert problems == ()
    assert len(message.segments) == 16
    assert [s.name for s in message.segments] == [
        "MSH", "EVN", "PID", "PD1", "PV1", "PV2", "AL1", "AL1",
        "DG1", "PR1", "PR1", "OBX", "OBX", "IN1", "IN1", "IN1",
    ]  # fmt: skip
    # MSH-4 is empty, so nothing can be keyed; EVN-1 (A01) disagrees with MSH-9 (A03).
    assert outcome.items == ()
    assert [(p.code, p.locator, p.severity) for p in outcome.problems] == [
        (ProblemCode.MISSING_FIELD, "MSH[1]-4", Severity.ERROR),
        (ProblemCode.INVALID_VALUE, "EVN[1]-1", Severity.WARNING),
    ]


def test_hl7apy_a01_has_no_visit_number(corpus: Path) -> None:
    [(envelope, outcome)] = translate(corpus, HL7APY)
    message, _ = parse(envelope.payload)
    assert message is not None
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "NK1", "PV1", "IN1"]
    assert read(message, "IN1-49") != ""
    assert outcome.items == ()
    assert problems_of(outcome) == [(ProblemCode.MISSING_FIELD, "PV1[1]-19")]
    assert outcome.problems[0].event_key == "hl7v2:SENDING FAC:0123456789:A01"


def test_fhs_bhs_batch_gives_one_message(corpus: Path) -> None:
    data = (corpus / "hl7v2" / BATCH).read_bytes()
    [(envelope, outcome)] = translate(corpus, BATCH)
    assert envelope.payload == data[data.index(b"MSH|") : data.index(b"BTS|")]
    message, _ = parse(envelope.payload)
    assert message is not None
    assert [s.name for s in message.segments] == ["MSH", "EVN", "PID", "PD1", "NK1", "PV1"]
    assert envelope.dedupe_key == "ABCHS|12334456778890"
    assert problems_of(outcome) == [(ProblemCode.MISSING_FIELD, "PV1[1]-19")]
    trailers = data[data.index(b"BTS|") :].split(b"\r")
    assert trailers[:2] == [b"BTS|1", b"FTS|1"]  # one message in one batch, as split found


# ---- malformed variants of corpus files -------------------------------------------------------


def redox(corpus: Path) -> bytes:
    return (corpus / "hl7v2" / REDOX).read_bytes()


def test_truncated_header(corpus: Path) -> None:
    [envelope] = HL7V2.split(redox(corpus)[:20])
    assert envelope.problems == ()
    outcome = HL7V2.to_events(envelope.payload, ctx())
    assert problems_of(outcome) == [(ProblemCode.MISSING_FIELD, "MSH[1]-9")]


def test_truncated_before_the_ft1(corpus: Path) -> None:
    data = redox(corpus)
    [envelope] = HL7V2.split(data[: data.index(b"FT1|")])
    outcome = HL7V2.to_events(envelope.payload, ctx())
    assert problems_of(outcome) == [(ProblemCode.MISSING_FIELD, "FT1[1]")]


def test_no_msh(corpus: Path) -> None:
    data = redox(corpus)
    body = data[data.index(b"EVN|") :]
    [envelope] = HL7V2.split(body)
    assert envelope.payload == body
    assert [(p.code, p.locator) for p in envelope.problems] == [(ProblemCode.MALFORMED_MESSAGE, "segment[1]")]
    outcome = HL7V2.to_events(body, ctx())
    assert problems_of(outcome) == [(ProblemCode.MALFORMED_MESSAGE, "segment[1]")]


def test_bad_delimiters(corpus: Path) -> None:
    data = redox(corpus).replace(b"MSH|^~\\&|", b"MSH|^^\\&|", 1)
    [envelope] = HL7V2.split(data)
    assert [(p.code, p.locator) for p in envelope.problems] == [(ProblemCode.MALFORMED_MESSAGE, "MSH[1]-2")]
    outcome = HL7V2.to_events(envelope.payload, ctx())
    assert problems_of(outcome) == [(ProblemCode.MALFORMED_MESSAGE, "MSH[1]-2")]


def test_garbage_bytes_around_a_message(corpus: Path) -> None:
    garbage = bytes(range(256))
    envelopes = list(HL7V2.split(garbage + b"\r" + redox(corpus) + b"\r" + garbage))
    assert [bool(e.problems) for e in envelopes] == [True, False]
    assert envelopes[0].payload.startswith(garbage[:10])
    outcome = HL7V2.to_events(envelopes[1].payload, ctx())
    # The garbage after the message joined it as one unreadable segment line per line of it.
    assert [e.key for e in outcome.items] == ["hl7v2:NCA:691234"]
    assert {p.code for p in outcome.problems} == {ProblemCode.MALFORMED_SEGMENT}


@pytest.mark.parametrize("name", [REDOX, MIEWEB, MIXED, HL7APY, BATCH])
def test_every_truncation_gives_problems_or_events_never_exceptions(corpus: Path, name: str) -> None:
    data = (corpus / "hl7v2" / name).read_bytes()
    for cut in range(len(data) + 1):
        for envelope in HL7V2.split(data[:cut]):
            outcome = HL7V2.to_events(envelope.payload, ctx())
            assert outcome.items or outcome.problems or outcome.ignored_by, (name, cut)
