"""The torture run's well-behaved senders: the hospital's systems, each writing down every
acknowledgement it gets.

MLLP lanes (one per facility, each message sent only after the previous one's ACK, in order),
one HTTP sender (FHIR and portal JSON) and one file sender (X12 835 into a node's drop folder).
A sender that gets no acknowledgement (connection refused or cut, a 5xx, a timeout) sends the
same bytes again, to the next intake node, until it gets one: a message is the sender's
responsibility until then. Each acknowledgement is one JSON line: source, sender, the message's
identity in the store (its dedupe key, computed by revbridge's own format splitters), the ack
code and, for MLLP, the seconds the ACK took.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from revbridge.core.ids import content_hash
from revbridge.demo.truth import Channel, Message
from revbridge.formats.registry import FORMATS

SB, EB = b"\x0b", b"\x1c\x0d"
GIVE_UP_SECONDS = 300.0  # a message not acknowledged by then is written down as given up
ROTATE_EVERY = 50  # an MLLP lane moves to the next intake node after this many ACKs


def identities(fmt: str, payload: bytes) -> list[str]:
    """The dedupe keys the store files ``payload``'s messages under (as MessageStore.submit)."""
    return [
        env.dedupe_key or f"{env.format}:sha256:{content_hash(env.payload)}"
        for env in FORMATS[fmt].split(payload)
    ]


class Records:
    """One JSONL file per sender, appended to and flushed per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def write(self, source: str, sender: str, ids: Sequence[str], ack: str, seconds: float | None) -> None:
        line = json.dumps({"source": source, "sender": sender, "ids": list(ids), "ack": ack, "s": seconds})
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass
class Pacer:
    """Each message at its place in the day, the day compressed into ``minutes`` (0: at once)."""

    day_start: datetime
    minutes: float
    started: float = field(default_factory=time.monotonic)

    def wait(self, m: Message, stop: threading.Event) -> None:
        if self.minutes:
            due = (m.at - self.day_start).total_seconds() / 86400 * self.minutes * 60
            stop.wait(max(0.0, self.started + due - time.monotonic()))


def read_frame(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(EB):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the ACK")
        data += chunk
    return data


def ack_code(frame: bytes) -> str:
    for segment in frame.strip(SB + EB).split(b"\r"):
        if segment.startswith(b"MSA"):
            return segment.split(b"|")[1].decode("ascii", "replace")
    return "no MSA"


@dataclass
class MllpLane:
    name: str
    messages: list[Message]
    endpoints: list[tuple[str, int]]
    records: Records
    pacer: Pacer
    stop: threading.Event
    _sock: socket.socket | None = None
    _turn: int = 0
    _sent: int = 0

    def run(self) -> None:
        self._turn = hash(self.name) % len(self.endpoints)
        for m in self.messages:
            self.pacer.wait(m, self.stop)
            self._deliver(m.payload, identities("hl7v2", m.payload))
        self._close()

    def _deliver(self, payload: bytes, ids: list[str]) -> None:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            try:
                sock = self._connect()
                sent = time.perf_counter()
                sock.sendall(SB + payload + EB)
                code = ack_code(read_frame(sock))
                self.records.write("mllp", self.name, ids, code, time.perf_counter() - sent)
                self._sent += 1
                if self._sent % ROTATE_EVERY == 0:  # as a load balancer would move it now and then
                    self._close()
                    self._turn += 1
                return
            except OSError:
                self._close()
                self._turn += 1  # the next intake node
                time.sleep(0.1)
        self.records.write("mllp", self.name, ids, "gave up", None)

    def _connect(self) -> socket.socket:
        if self._sock is None:
            host, port = self.endpoints[self._turn % len(self.endpoints)]
            self._sock = socket.create_connection((host, port), timeout=30)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _http_path(m: Message) -> str:
    if m.channel is Channel.HTTP_PORTAL:
        return "/api/v1/ingest/portal/payments"
    kind = json.loads(m.payload).get("resourceType", "")
    return "/api/v1/fhir" if kind == "Bundle" else f"/api/v1/fhir/{kind}"


@dataclass
class HttpSender:
    messages: list[Message]
    endpoints: list[tuple[str, int]]
    api_key: str
    records: Records
    pacer: Pacer
    stop: threading.Event

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        clients = [
            httpx.Client(base_url=f"http://{h}:{p}", headers=headers, timeout=30) for h, p in self.endpoints
        ]
        turn = 0
        try:
            for m in self.messages:
                self.pacer.wait(m, self.stop)
                fmt = "fhir" if m.channel is Channel.HTTP_FHIR else "portal"
                turn = self._deliver(clients, turn, m, identities(fmt, m.payload))
        finally:
            for client in clients:
                client.close()

    def _deliver(self, clients: list[httpx.Client], turn: int, m: Message, ids: list[str]) -> int:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            try:
                response = clients[turn % len(clients)].post(_http_path(m), content=m.payload)
            except httpx.HTTPError:
                response = None
            if response is not None and (response.status_code < 500 and response.status_code != 429):
                self.records.write(m.channel.value, "http", ids, str(response.status_code), None)
                return turn
            turn += 1
            time.sleep(0.1)
        self.records.write(m.channel.value, "http", ids, "gave up", None)
        return turn


@dataclass
class FileSender:
    """Drops each X12 file into one node's inbox (in turn) with a ``.ready`` marker; a file moved
    to ``done/`` beside the inbox is its acknowledgement (moved only after the commit)."""

    messages: list[Message]
    inboxes: list[Path]
    records: Records
    pacer: Pacer
    stop: threading.Event
    _waiting: dict[str, tuple[Path, list[str]]] = field(default_factory=dict)

    def run(self) -> None:
        for n, m in enumerate(self.messages):
            self.pacer.wait(m, self.stop)
            inbox = self.inboxes[n % len(self.inboxes)]
            name = f"torture-{n:05d}-{m.kind.value}.edi".replace("/", "_")
            (inbox / name).write_bytes(m.payload)
            (inbox / (name + ".ready")).write_text("")
            self._waiting[name] = (inbox, identities("x12", m.payload))
            self.collect()
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while self.collect() and time.monotonic() < deadline:
            time.sleep(0.2)
        for _inbox, ids in self._waiting.values():
            self.records.write("file", "files", ids, "gave up", None)

    def collect(self) -> int:
        """Note the files moved to done/ since the last look; returns how many still wait."""
        for name, (inbox, ids) in list(self._waiting.items()):
            if (inbox.parent / "done" / name).exists():
                self.records.write("file", "files", ids, "done", None)
                del self._waiting[name]
            elif (inbox.parent / "rejected" / name).exists():
                self.records.write("file", "files", ids, "rejected", None)
                del self._waiting[name]
        return len(self._waiting)


def start_threads(targets: Sequence[Callable[[], None]], names: Sequence[str]) -> list[threading.Thread]:
    threads = [threading.Thread(target=t, name=n, daemon=True) for t, n in zip(targets, names, strict=True)]
    for t in threads:
        t.start()
    return threads
