"""Feeding generated traffic through the real sources, as the hospital's systems would.

HL7 v2 goes over MLLP to the listener (one connection per facility, so each facility's ADT and
DFT stay in order, and the next message is sent only after the ACK); X12 files are dropped into
the directory source's inbox with a ``.ready`` marker; FHIR and portal JSON are POSTed to their
routes with a ``system`` API key. Nothing here shortcuts the store: every message is acknowledged
by the same code that acknowledges production traffic.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from revbridge.demo.truth import Channel, Message

SB, EB = b"\x0b", b"\x1c\x0d"


@dataclass
class Targets:
    mllp_port: int
    http_port: int
    inbox: Path
    api_key: str
    host: str = "127.0.0.1"


@dataclass
class Fed:
    sent: int = 0
    acks: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # AA / AE / AR / HTTP codes
    failures: list[str] = field(default_factory=list)

    def note(self, outcome: str) -> None:
        self.acks[outcome] += 1


class _MllpSender:
    def __init__(self, host: str, port: int) -> None:
        self._sock = socket.create_connection((host, port), timeout=60)

    def send(self, payload: bytes) -> str:
        self._sock.sendall(SB + payload + EB)
        data = b""
        while not data.endswith(EB):
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the listener closed the connection before its ACK")
            data += chunk
        for segment in data.strip(SB + EB).split(b"\r"):
            if segment.startswith(b"MSA"):
                return segment.split(b"|")[1].decode("ascii", "replace")
        return "no MSA"

    def close(self) -> None:
        self._sock.close()


def _fhir_path(payload: bytes) -> str:
    kind = json.loads(payload).get("resourceType", "")
    return "/api/v1/fhir" if kind == "Bundle" else f"/api/v1/fhir/{kind}"


def feed(
    messages: Sequence[Message],
    targets: Targets,
    *,
    on_sent: Callable[[Message], None],
    before_send: Callable[[Message], None] | None = None,
) -> Fed:
    """Send every message by its channel, in order per facility; returns what came back."""
    fed = Fed()
    lock = threading.Lock()
    lanes: dict[str, list[Message]] = defaultdict(list)
    others: list[Message] = []
    for m in messages:
        (lanes[m.facility] if m.channel is Channel.MLLP else others).append(m)

    def done(m: Message, outcome: str) -> None:
        with lock:
            fed.sent += 1
            fed.note(outcome)
        on_sent(m)

    def mllp_lane(batch: list[Message]) -> None:
        sender = _MllpSender(targets.host, targets.mllp_port)
        try:
            for m in batch:
                if before_send is not None:
                    before_send(m)
                done(m, sender.send(m.payload))
        except OSError as exc:
            with lock:
                fed.failures.append(f"MLLP: {type(exc).__name__}")
        finally:
            sender.close()

    threads = [threading.Thread(target=mllp_lane, args=(batch,), daemon=True) for batch in lanes.values()]
    for t in threads:
        t.start()
    base = f"http://{targets.host}:{targets.http_port}"
    headers = {"Authorization": f"Bearer {targets.api_key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for n, m in enumerate(others):
            if before_send is not None:
                before_send(m)
            if m.channel is Channel.FILE:
                name = f"{m.at:%Y%m%d%H%M%S}-{n:05d}-{m.kind.value}.edi".replace("/", "_")
                target = targets.inbox / name
                target.write_bytes(m.payload)
                target.with_name(name + ".ready").write_text("")
                done(m, "file")
                continue
            path = (
                _fhir_path(m.payload) if m.channel is Channel.HTTP_FHIR else "/api/v1/ingest/portal/payments"
            )
            response = client.post(path, content=m.payload)
            done(m, f"HTTP {response.status_code}")
    for t in threads:
        t.join()
    return fed
