"""Hypothesis fuzz of the X12 tokenizer, split and readers: arbitrary bytes, delimiter soup behind
a valid ISA, and mutated corpus files never raise and never hang, and what comes out keeps its
invariants (payloads are slices of the input, every problem has a code and a message, every event
has a key, amounts are exact)."""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revbridge.canonical import codec
from revbridge.canonical.events import CanonicalEvent
from revbridge.core.problem import Outcome
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import Limits, ParseContext
from revbridge.formats.x12 import X12
from revbridge.formats.x12.segments import Delimiters, SegmentReader, Source, read_delimiters

CTX = ParseContext(
    message_id="fuzz",
    tokenizer=fixed_tokenizer(),
    received_on=date(2024, 1, 1),
    limits=Limits(max_message_bytes=1 << 20, max_element_length=512),
)
FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
ISA = "ISA*00*          *00*          *ZZ*FUZZ           *ZZ*FUZZ           *240105*1200*^*00501*1*0*P*:~"
ALPHABET = "*:~^>|\r\n \t0123456789.-ABCLPSVTXEGIQNMR\ufeff\x00é"
SEGMENTS = st.sampled_from(
    [
        "GS*HP*A*B*20240105*1200*1*X*005010X221A1",
        "GS*HC*A*B*20240105*1200*1*X*005010X222A1",
        "GS*HP*A*B*20240105*1200*1*X*004010X091A1",
        "ST*835*1",
        "ST*837*1",
        "ST*270*1",
        "SE*5*1",
        "GE*1*1",
        "IEA*1*1",
        "BPR*I*10.00*C*ACH************20240105",
        "BPR*H*x",
        "TRN*1*T*1512345678",
        "N1*PR*P*XV*P1",
        "N1*PE*H*XX*1",
        "LX*1",
        "TS3*1*11*20241231*1*10.00",
        "CLP*C*1*10.00*10.00*0*12*I",
        "CLP*C*22*-10.00*-10.00",
        "CAS*CO*45*1.00**2*x",
        "CAS*ZZ",
        "NM1*QC*1*DOE*JANE****MI*M1",
        "SVC*HC:1*10.00*9.00**1",
        "SVC*HC>1*5*5",
        "DTM*472*20240230",
        "AMT*B6*1e9",
        "PLB*1*20241231*L6:A*-1.00*WO*2",
        "BHT*0019*00*1*20240105",
        "HL*1**20*1",
        "NM1*85*2*H*****XX*1",
        "HL*2*1*22*0",
        "NM1*PR*2*P*****PI*P1",
        "CLM*C1*10.00***11:B:7",
        "LX*A",
        "SV1*HC:1*10.00*UN*1",
        "SV2*0450**5.00*UN*1",
        "DTP*472*RD8*20240101-20240102",
    ]
)


def check(outcome: Outcome[CanonicalEvent]) -> None:
    for problem in outcome.problems:
        assert problem.code and problem.message
        assert problem.where.message_id == "fuzz"
    for event in outcome.items:
        assert event.key.startswith(("x12:835:", "x12:837:"))
        codec.dumps(event)  # every amount and date is encodable


def to_events(data: bytes) -> None:
    check(X12.to_events(data, CTX))
    for envelope in X12.split(data):
        assert envelope.payload and envelope.payload in data
        check(X12.to_events(envelope.payload, CTX))


@functools.cache
def corpus_files(corpus: Path) -> tuple[bytes, ...]:
    return tuple(
        p.read_bytes() for folder in ("x12_835", "x12_837") for p in sorted((corpus / folder).iterdir())
    )


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    to_events(data)


@FAST
@given(st.text(alphabet=ALPHABET, max_size=1024))
def test_delimiter_soup_behind_a_valid_isa(text: str) -> None:
    to_events((ISA + text).encode("utf-8"))


@FAST
@given(st.lists(SEGMENTS, max_size=60), st.sampled_from(["~", "~\n", "~\r\n"]))
def test_shuffled_segments(segments: list[str], terminator: str) -> None:
    to_events((ISA[:-1] + terminator + terminator.join(segments) + terminator).encode())


@FAST
@given(
    st.integers(min_value=0, max_value=9),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=40), st.binary(max_size=8))
    ),
)
def test_mutated_corpus_files(corpus: Path, which: int, edits: list[tuple[int, int, bytes]]) -> None:
    files = corpus_files(corpus)
    data = bytearray(files[which % len(files)])
    for at, cut, insert in edits:
        at %= len(data) + 1
        data[at : at + cut] = insert
    to_events(bytes(data))


@FAST
@given(st.text(alphabet=ALPHABET, max_size=512), st.integers(min_value=1, max_value=64))
def test_tokenizer_segments_do_not_depend_on_where_chunks_end(text: str, chunk: int) -> None:
    from revbridge.formats.x12 import segments

    source = Source((ISA + text).encode("utf-8"))
    found = read_delimiters(source.text(0, 512), 0)
    assert isinstance(found, Delimiters)
    whole = list(SegmentReader(source, 0, found, 1 << 20))
    saved = segments._CHUNK
    segments._CHUNK = chunk
    try:
        assert list(SegmentReader(source, 0, found, 1 << 20)) == whole
    finally:
        segments._CHUNK = saved


def test_pathological_inputs_finish() -> None:
    """Inputs that would make a careless reader quadratic or unbounded; pytest-timeout is the judge."""
    isa = ISA.encode()
    to_events(isa + b"~" * 2_000_000)
    to_events(isa + b"A" * 900_000)
    to_events(b"ISA" * 300_000)
    to_events(isa + b"GS*HP~ST*835*1~" + b"CAS*CO" + b"*45*1.00*" * 5_000 + b"~")
    to_events(isa + b"\r\n" * 400_000 + b"IEA*0*1~")
    outcome = X12.to_events(isa + b"NM1*" + b"X" * 1_000, CTX)
    assert [p.code.value for p in outcome.problems] == ["LIMIT_EXCEEDED"]
