"""MLLP against frames other systems really send (issue 18): NUL bytes inside the MSH get AR
and are never echoed; a sender's ``[SOM]`` marker before the MSH is stored and gets AA."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime import build_runtime
from sqlalchemy import select

from revbridge.bootstrap import Runtime
from revbridge.service import Service
from revbridge.store.schema import messages

SB, EB = b"\x0b", b"\x1c\x0d"
DFT = (
    b"MSH|^~\\&|APP|FAC|RCV|RFAC|20240301120000||DFT^P03|CTRL1|P|2.5\r"
    b"PID|1||MRN8675309^^^HOSP^MR||ZZSENTINELNAME^JANE\r"
    b"FT1|1|T1||20240228||CG|84460|||1|125.10\r"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, Service]]:
    rt = build_runtime(f"sqlite:///{tmp_path / 'mllp.db'}", tmp_path, mllp_port=0, http_port=0)
    service = Service(rt, http=False, workers=1)
    service.start()
    yield rt, service
    service.stop()
    rt.close()


def exchange(port: int, frame: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(SB + frame + EB)
        data = b""
        while not data.endswith(EB):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(SB) and data.endswith(EB)
    return data[1:-2]


def stored(rt: Runtime) -> int:
    with rt.db.reading() as conn:
        return len(conn.execute(select(messages.c.id)).all())


@pytest.mark.parametrize(
    "frame",
    [
        DFT.replace(b"CTRL1", b"CT\x00\x00RL1"),
        DFT.replace(b"|FAC|", b"|F\x00AC|"),
        DFT.replace(b"MSH|", b"MSH\x00", 1),
        DFT.replace(b"|2.5\r", b"|2.5\x1b\r", 1),
    ],
)
def test_control_characters_in_msh_get_ar_nothing_echoed_nothing_stored(
    served: tuple[Runtime, Service], frame: bytes
) -> None:
    rt, service = served
    ack = exchange(service.mllp_port, frame)
    assert all(b >= 0x20 or b == 0x0D for b in ack), ack
    segments = ack.decode().split("\r")
    msa = next(s for s in segments if s.startswith("MSA"))
    assert msa.split("|")[1] == "AR"
    err = next(s for s in segments if s.startswith("ERR"))
    assert "control characters" in err
    assert b"ZZSENTINELNAME" not in ack and b"MRN8675309" not in ack
    assert stored(rt) == 0


def test_a_marker_before_the_msh_gets_aa_and_is_stored(served: tuple[Runtime, Service]) -> None:
    rt, service = served
    ack = exchange(service.mllp_port, b"[SOM]" + DFT)
    msa = next(s for s in ack.decode().split("\r") if s.startswith("MSA"))
    assert msa.split("|")[1:3] == ["AA", "CTRL1"]
    assert stored(rt) == 1
