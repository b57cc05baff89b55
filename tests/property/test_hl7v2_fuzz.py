"""Hypothesis fuzz of the HL7 v2 tokenizer, split, to_events and the ACK builders: arbitrary
bytes, delimiter soup and mutated corpus messages never raise, and what comes out keeps its
invariants (payloads are slices of the input, problems are located in the right message,
amounts are positive magnitudes)."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revbridge.canonical import codec
from revbridge.canonical.events import (
    AdjustmentPosted,
    ChargeCaptured,
    ChargeReversed,
    PatientPaymentReceived,
)
from revbridge.core.tokens import fixed_tokenizer
from revbridge.formats.base import ParseContext
from revbridge.formats.hl7v2 import HL7V2, AckCode, AckError, build_ack, build_reject, parse

CTX = ParseContext(message_id="fuzz", tokenizer=fixed_tokenizer(), received_on=date(2024, 1, 1))
NOW = datetime(2024, 1, 1, tzinfo=UTC)
FAST = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])

# Text that looks enough like HL7 to reach deep into the translation.
ALPHABET = "|^~\\&#\r\n \t0123456789.-+MSHFT1PIDV0EVNGIAXCYDJPQ\ufeffé\x00\x0b\x1c"
SEGMENTS = st.sampled_from(
    [
        "MSH|^~\\&|A|F|R|RF|20240101||DFT^P03|C1|P|2.5",
        "MSH|^~\\&|A|F|R|RF|20240101||ADT^A01|C2|P|2.5",
        "MSH#*@!$#A#F#R#RF#20240101##BAR*P01#C3#P#2.5",
        "EVN|A01|20240101",
        "PID|1||123^^^H^MR||N^N||19000101|||||||||ACC",
        "PV1|1|I|W^1|||||||MED|||||||||V1||||||||||||||||||||||||||20240101",
        "FT1|1|T1||20240101||CG|X|||1|10.00",
        "FT1|2|T2||20240101^20240102||cd|X|||-1|-5^USD",
        "FT1|3|||bad||PY|X|||x|1e5",
        "FT1|4|T4||||AJ||||2|||||||||||3.335",
        "IN1|1|P|608|||||||||||||||||||||||||||||||||M1",
        "GT1|1|G1",
        "BHS|^~\\&",
        "BTS|1",
        "ZZZ|custom\\F\\x\\X41\\",
    ]
)


def check(data: bytes) -> None:
    envelopes = list(HL7V2.split(data))
    for envelope in envelopes:
        assert envelope.payload in data
        assert envelope.format == "hl7v2"
        outcome = HL7V2.to_events(envelope.payload, CTX)
        for problem in outcome.problems:
            assert problem.where.message_id == "fuzz"
            str(problem)
        for event in outcome.items:
            assert event.key.startswith("hl7v2:")
            codec.loads(codec.dumps(event))
            if isinstance(event, ChargeCaptured | ChargeReversed | PatientPaymentReceived | AdjustmentPosted):
                assert event.amount.amount >= 0
                assert event.amount.is_exact()
            if isinstance(event, ChargeCaptured | ChargeReversed):
                assert event.quantity >= Decimal(0)
        message, _ = parse(envelope.payload)
        if message is not None:
            error = AckError(code="207", text="fuzz")
            assert build_ack(message, AckCode.AE, control_ids=lambda: "X", now=NOW, error=error)
        assert build_reject(envelope.payload, control_ids=lambda: "X", now=NOW).startswith(b"MSH")
    HL7V2.detect(data[:64])


@FAST
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FAST
@given(st.text(alphabet=ALPHABET, max_size=600))
def test_delimiter_soup(text: str) -> None:
    check(text.encode("utf-8"))


@FAST
@given(
    st.lists(SEGMENTS, min_size=1, max_size=12),
    st.sampled_from(["\r", "\n", "\r\n", "\r\r\n"]),
)
def test_shuffled_segments(segments: list[str], separator: str) -> None:
    check(separator.join(segments).encode("utf-8"))


@functools.cache
def corpus_messages(corpus: Path) -> list[bytes]:
    out: set[bytes] = set()
    for path in sorted((corpus / "hl7v2").iterdir()):
        out.update(e.payload for e in HL7V2.split(path.read_bytes()))
    return sorted(out)


@FAST
@given(st.data())
def test_mutated_corpus_messages(corpus: Path, data: st.DataObject) -> None:
    messages = corpus_messages(corpus)
    payload = bytearray(data.draw(st.sampled_from(messages)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(payload)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        noise = data.draw(
            st.binary(min_size=1, max_size=4) | st.sampled_from([b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n"])
        )
        if action == "insert":
            payload[position:position] = noise
        elif action == "delete":
            del payload[position : position + len(noise)]
        elif action == "replace":
            payload[position : position + len(noise)] = noise
        else:
            del payload[position:]
    check(bytes(payload))
