"""The MLLP listener against real clients and real sockets: python-hl7's MLLPClient, raw sockets,
and a server process killed at the worst moments."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7.client import MLLPClient
from lineformat import FORMATS  # noqa: F401 - keeps tests/support importable for the helpers below
from runtime import build_runtime
from sqlalchemy import create_engine, select

from revbridge.bootstrap import Runtime
from revbridge.formats.hl7v2 import HL7V2
from revbridge.service import Service
from revbridge.store import events
from revbridge.store.schema import messages

SB, EB = b"\x0b", b"\x1c\x0d"


def corpus_messages(corpus: Path) -> list[bytes]:
    found = []
    for path in sorted((corpus / "hl7v2").iterdir()):
        found.extend(env.payload for env in HL7V2.split(path.read_bytes()) if not env.problems)
    return found


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, Service]]:
    rt = build_runtime(
        f"sqlite:///{tmp_path / 'mllp.db'}", tmp_path, mllp_port=0, http_port=0, mllp_max_frame=4096
    )
    service = Service(rt, http=False, workers=1)
    service.start()
    yield rt, service
    service.stop()
    rt.close()


def msa(ack: str | bytes) -> list[str]:
    text = ack.decode() if isinstance(ack, bytes) else ack
    segment = next(s for s in text.strip("\x0b\x1c\r\n").split("\r") if s.startswith("MSA"))
    return segment.split("|")


def test_python_hl7_client_gets_one_aa_per_corpus_message(
    served: tuple[Runtime, Service], corpus: Path
) -> None:
    rt, service = served
    sent = corpus_messages(corpus)
    assert len(sent) == 124 + 2 + 1 + 1 + 1 + 1
    with MLLPClient("127.0.0.1", service.mllp_port) as client:
        acks = [client.send_message(m.decode("utf-8")) for m in sent]
    for message, ack in zip(sent, acks, strict=True):
        fields = msa(ack)
        control_id = message.split(b"\r", 1)[0].split(b"|")[9].decode()
        assert fields[1] == "AA", ack
        assert fields[2] == control_id
    assert rt.status()["messages"]["pending"] + rt.status()["messages"]["processed"] > 0


def test_a_message_sent_twice_gets_the_same_ack_and_one_event(
    served: tuple[Runtime, Service], corpus: Path
) -> None:
    rt, service = served
    dft = (corpus / "hl7v2/redox__DFT_P03_parser_spec_cr.hl7").read_text()
    with MLLPClient("127.0.0.1", service.mllp_port) as client:
        first = client.send_message(dft)
        time.sleep(0.05)
        second = client.send_message(dft)
    assert first == second
    deadline = time.monotonic() + 10
    while rt.status()["messages"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rt.status()["messages"]["duplicate"] == 1
    assert events.count(rt.db, kind="ChargeCaptured") == 1


def _raw_exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while not data.endswith(EB):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_garbage_before_the_frame_is_skipped_and_several_frames_share_a_connection(
    served: tuple[Runtime, Service], corpus: Path
) -> None:
    _rt, service = served
    msgs = corpus_messages(corpus)[:2]
    with socket.create_connection(("127.0.0.1", service.mllp_port), timeout=10) as sock:
        sock.sendall(b"\r\nkeepalive\r\n" + SB + msgs[0] + EB + b"  " + SB + msgs[1] + EB)
        data = b""
        while data.count(EB) < 2:
            data += sock.recv(65536)
    assert [msa(part)[1] for part in data.split(EB)[:2]] == ["AA", "AA"]
    metrics = service.runtime.metrics.mllp_skipped_bytes._value.get()
    assert metrics == len(b"\r\nkeepalive\r\n") + 2


def test_a_frame_without_msh_gets_ar_with_err(served: tuple[Runtime, Service]) -> None:
    rt, service = served
    reply = _raw_exchange(service.mllp_port, SB + b"PID|1||123\r" + EB)
    text = reply.decode()
    assert msa(text)[1] == "AR"
    assert "\rERR|" in text
    with rt.db.reading() as conn:
        assert conn.execute(select(messages.c.id)).first() is None


def test_an_oversized_frame_gets_ar_and_the_connection_closes(served: tuple[Runtime, Service]) -> None:
    _rt, service = served
    big = b"MSH|^~\\&|A|B|C|D|20260101||DFT^P03|BIG1|P|2.5\r" + b"NTE|1||" + b"x" * 5000 + b"\r"
    with socket.create_connection(("127.0.0.1", service.mllp_port), timeout=10) as sock:
        sock.sendall(SB + big + EB)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert msa(data)[1] == "AR"
    assert msa(data)[2] == "BIG1"
    assert b"exceeds the maximum of 4096 bytes" in data


# ---- a real server process, killed -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Path, db: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REVBRIDGE_HOME": str(home),
        "REVBRIDGE_HTTP_PORT": "0",
        "REVBRIDGE_MLLP_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "revbridge", "serve", "--db", db, "--workers", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def _stored_control_ids(db: str) -> list[str]:
    engine = create_engine(db)
    with engine.connect() as conn:
        keys = [k for (k,) in conn.execute(select(messages.c.dedupe_key))]
    engine.dispose()
    return keys


def test_a_server_killed_right_after_acking_has_the_message(tmp_path: Path, corpus: Path) -> None:
    db = f"sqlite:///{tmp_path / 'srv.db'}"
    port = _free_port()
    proc = _start_server(tmp_path, db, port)
    dft = (corpus / "hl7v2/redox__DFT_P03_parser_spec_cr.hl7").read_bytes()
    try:
        reply = _raw_exchange(port, SB + dft + EB)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert msa(reply)[1] == "AA"
    assert len(_stored_control_ids(db)) == 1


def test_a_server_killed_before_its_commit_sent_no_ack(tmp_path: Path, corpus: Path) -> None:
    import sqlite3

    db_path = tmp_path / "srv.db"
    db = f"sqlite:///{db_path}"
    port = _free_port()
    proc = _start_server(tmp_path, db, port)
    blocker = sqlite3.connect(db_path, isolation_level=None, timeout=1)
    blocker.execute("BEGIN IMMEDIATE")  # the server's commit now waits on this lock
    dft = (corpus / "hl7v2/redox__DFT_P03_parser_spec_cr.hl7").read_bytes()
    got: list[bytes] = []
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def send() -> None:
        sock.sendall(SB + dft + EB)
        try:
            got.append(sock.recv(65536))
        except OSError:
            got.append(b"")

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(1.0)  # the frame is in; the commit is blocked
    assert not got, "an ACK was sent before the commit"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    sender.join(timeout=10)
    sock.close()
    blocker.execute("ROLLBACK")
    blocker.close()
    assert got == [b""], "the killed server must not have acknowledged"
    assert _stored_control_ids(db) == []
