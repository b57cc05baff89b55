"""Hypothesis fuzz of the MLLP listener over real sockets, with a tiny frame limit.

Arbitrary byte streams (garbage, frames, oversized frames, stray block characters) are split at
arbitrary points and sent chunk by chunk to a listening ``MllpServer``. The listener must never
raise, never hang, and answer every complete frame exactly once, in order, with the exact bytes
of that frame handed to the handler; a frame over the limit gets one reject and the connection
ends. A reference model of the framing (``expected``) says what the answers must be.

The first harness uses an echo handler, so each answer names the frame it answers; the second
runs the real HL7 v2 intake (parse, reject builder, commit) behind the socket, so every answer
must be a well-formed HL7 acknowledgement that survives the MLLP framing itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from runtime import build_runtime

from revbridge.formats.hl7v2 import build_reject
from revbridge.formats.hl7v2.ack import frame_too_large
from revbridge.observability.metrics import Metrics
from revbridge.sources.mllp import MllpServer, MllpSettings

SB, EB = b"\x0b", b"\x1c\x0d"
LIMIT = 96
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def echo_ack(frame: bytes) -> bytes:
    return b"ACK:" + hashlib.sha256(frame).hexdigest()[:16].encode()


def reject(head: bytes, limit: int) -> bytes:
    return build_reject(head, control_ids=lambda: "FUZZ", now=NOW, error=frame_too_large(limit))


def expected(stream: bytes, limit: int) -> tuple[list[bytes], bool]:
    """The frames the listener must answer, in order, and whether it must then refuse one."""
    frames: list[bytes] = []
    pos = 0
    while True:
        start = stream.find(SB, pos)
        if start < 0:
            return frames, False
        end = stream.find(EB, start + 1)
        if end < 0:  # unterminated: refused only once it is already over the limit
            return frames, len(stream) - start - 1 > limit
        if end - start - 1 > limit:
            return frames, True
        frames.append(stream[start + 1 : end])
        pos = end + len(EB)


@dataclass
class Listener:
    server: MllpServer
    loop: asyncio.AbstractEventLoop
    errors: list[str] = field(default_factory=list)
    seen: list[bytes] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port


def serve(handler: Any, limit: int = LIMIT) -> Iterator[Listener]:
    loop = asyncio.new_event_loop()
    errors: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(str(ctx.get("exception") or ctx["message"])))
    server = MllpServer(
        MllpSettings(port=0, max_frame=limit, idle_timeout=5.0, max_connections_per_peer=64),
        handler,
        reject,
        Metrics(),
    )
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="mllp-fuzz", daemon=True)
    thread.start()
    assert ready.wait(10)
    listener = Listener(server, loop, errors)
    yield listener
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture(scope="module")
def echo_listener() -> Iterator[Listener]:
    seen: list[bytes] = []

    async def handler(frame: bytes, _peer: str) -> bytes:
        seen.append(frame)
        return echo_ack(frame)

    for listener in serve(handler):
        listener.seen = seen
        yield listener


def exchange(port: int, chunks: list[bytes], timeout: float = 20.0) -> tuple[bytes, float]:
    """Send the chunks (pausing between them so the listener reads them apart) while reading
    every answer; returns what came back and how long the conversation took."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = bytearray()

    def read() -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.001)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the listener hung up after an oversized frame
    reader.join(timeout)
    hung = reader.is_alive()
    sock.close()
    assert not hung, "the listener did not finish the conversation"
    return bytes(received), time.monotonic() - started


def answers(received: bytes) -> list[bytes]:
    assert received == b"" or (received.startswith(SB) and received.endswith(EB)), received[:200]
    return [part[1:] for part in received.split(EB) if part]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


CONTROL = st.sampled_from([SB, EB, b"\x1c", b"\x0d", b"\x0b\x0b", b"\x1c\x1c\x0d", b"\r\n"])
PIECE = st.one_of(
    st.binary(max_size=40),  # garbage between frames
    st.builds(lambda body: SB + body + EB, st.binary(max_size=LIMIT)),  # frames within the limit
    st.builds(lambda body: SB + body + EB, st.binary(min_size=LIMIT - 2, max_size=LIMIT + 3)),  # at the limit
    st.builds(lambda body: SB + body, st.binary(max_size=3 * LIMIT)),  # unterminated
    CONTROL,
)
STREAMS = st.lists(PIECE, max_size=12).map(b"".join)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@FUZZ
@given(stream=STREAMS, cuts=CUTS)
def test_every_complete_frame_is_answered_once_in_order(
    echo_listener: Listener, stream: bytes, cuts: list[int]
) -> None:
    frames, refused = expected(stream, LIMIT)
    echo_listener.seen.clear()
    received, took = exchange(echo_listener.port, split(stream, cuts))
    got = answers(received)
    want = [echo_ack(f) for f in frames]
    if refused:
        assert got[:-1] == want and got[-1:] != [] and b"MSA|AR" in got[-1], (got, want)
    else:
        assert got == want
    assert echo_listener.seen == frames
    assert echo_listener.errors == []
    assert took < 15


def test_a_frame_of_exactly_the_limit_with_a_split_end_block_is_answered(echo_listener: Listener) -> None:
    frame = b"A" * LIMIT
    received, _ = exchange(echo_listener.port, [SB + frame + b"\x1c", b"\x0d"])
    assert answers(received) == [echo_ack(frame)]


def test_a_frame_of_exactly_the_limit_in_one_piece_is_answered(echo_listener: Listener) -> None:
    frame = b"B" * LIMIT
    received, _ = exchange(echo_listener.port, [SB + frame + EB])
    assert answers(received) == [echo_ack(frame)]


def test_one_byte_over_the_limit_is_refused_and_the_connection_ends(echo_listener: Listener) -> None:
    ok = b"MSH|small"
    received, _ = exchange(echo_listener.port, [SB + ok + EB + SB + b"C" * (LIMIT + 1) + EB + SB + ok + EB])
    got = answers(received)
    assert got[0] == echo_ack(ok) and len(got) == 2 and b"MSA|AR" in got[1]
    assert b"exceeds the maximum of 96 bytes" in got[1]


# ---- the real HL7 v2 intake behind the socket ------------------------------------------------

HL7_LIMIT = 512
TEXT = st.text(alphabet="ABCXYZ0189 -.^&~\\|", max_size=12)


@st.composite
def hl7_message(draw: st.DrawFn) -> bytes:
    control = draw(st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=12))
    kind = draw(st.sampled_from(["ADT^A08", "ADT^A01", "DFT^P03", "ZZZ^Z99"]))
    body = draw(
        st.lists(
            st.sampled_from(["EVN|A08|20261102", "PID|1||{t}", "PV1|1|O|{t}", "FT1|1|||{t}"]), max_size=3
        )
    )
    segments = [f"MSH|^~\\&|FUZZ|F01|RB|RB|20261102120000||{kind}|{control}|P|2.5"]
    segments += [s.format(t=draw(TEXT)) for s in body]
    return "\r".join(segments).encode() + b"\r"


FRAME_BODY = st.one_of(
    hl7_message(),
    st.binary(max_size=HL7_LIMIT // 2),
    st.builds(
        lambda head, tail: b"MSH" + head + tail, st.binary(min_size=1, max_size=8), st.binary(max_size=64)
    ),
)
HL7_STREAMS = st.lists(
    st.one_of(st.builds(lambda b: SB + b.replace(EB, b"") + EB, FRAME_BODY), st.binary(max_size=16)),
    max_size=6,
).map(b"".join)


@pytest.fixture(scope="module")
def hl7_listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    home: Path = tmp_path_factory.mktemp("mllp-fuzz")
    rt = build_runtime(f"sqlite:///{home / 'fuzz.db'}", home, mllp_max_frame=HL7_LIMIT)
    failures: list[str] = []

    async def handler(frame: bytes, peer: str) -> bytes:
        try:
            return await rt.hl7.mllp_frame(frame, peer)
        except BaseException as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            raise

    try:
        for listener in serve(handler, limit=HL7_LIMIT):
            listener.errors = failures  # the handler's own failures count as uncaught
            yield listener
    finally:
        rt.close()


MSA = re.compile(rb"(?:^|\r)MSA.(AA|AE|AR).")


@FUZZ
@given(stream=HL7_STREAMS, cuts=CUTS)
def test_real_intake_answers_every_frame_with_an_acknowledgement(
    hl7_listener: Listener, stream: bytes, cuts: list[int]
) -> None:
    frames, refused = expected(stream, HL7_LIMIT)
    assume(not refused)
    received, took = exchange(hl7_listener.port, split(stream, cuts))
    got = answers(received)
    assert len(got) == len(frames), (got, frames)
    for frame, ack in zip(frames, got, strict=True):
        assert ack.startswith(b"MSH"), ack
        code = MSA.search(ack)
        assert code is not None, ack
        if code.group(1) == b"AA":
            assert frame.lstrip(b"\xef\xbb\xbf \t\r\n\x0b").startswith(b"MSH")
    assert hl7_listener.errors == []
    assert took < 15
