"""The badly behaved MLLP sender of the torture run: a flood, malformed frames, huge bodies.

- Flood: two connections pipelining ADT^A31 (demographics: stored, then ignored) without waiting
  for ACKs; a reader per connection writes down each ACK it gets (the frames are real messages, so
  the checker holds them to the same promise as everyone's).
- Malformed: frames with no MSH (an AR is due, nothing stored), bytes outside any frame (skipped).
- Huge: a frame over the listener's max frame (an AR, then the listener closes the connection).
Whatever happens to the intake nodes, it reconnects and goes on until told to stop. The point is
what it does to the others: the well-behaved senders' ACK p99 is measured while it runs.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from torture_senders import EB, SB, Records, ack_code, read_frame

FLOOD_FACILITY = "FLOOD"


def a31(n: int) -> bytes:
    control = f"FL{n:010d}"
    return (
        f"MSH|^~\\&|REG|{FLOOD_FACILITY}|REVBRIDGE|FIN|20261102120000||ADT^A31^ADT_A05|{control}|P|2.5\r"
        f"EVN|A31|20261102120000\r"
        f"PID|1||FLOOD{n}^^^FLOOD^MR||FLOOD^PATIENT^{n % 97}||19700101|U|||"
        f"1 FLOOD ST^^SPRINGFIELD^IL^62701\r"
    ).encode()


def control_of(ack: bytes) -> str:
    for segment in ack.strip(SB + EB).split(b"\r"):
        if segment.startswith(b"MSA"):
            parts = segment.split(b"|")
            return parts[2].decode("ascii", "replace") if len(parts) > 2 else ""
    return ""


@dataclass
class BadSender:
    endpoints: list[tuple[str, int]]
    max_frame: int
    records: Records
    stop: threading.Event
    window: int = 64  # frames in flight per flood connection
    counts: Counter[str] = field(default_factory=Counter)
    _numbers: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def threads(self) -> list[threading.Thread]:
        targets = [(self._flood, 0), (self._flood, 1), (self._malformed, 0)]
        return [
            threading.Thread(target=t, args=(i,), name=f"bad-{t.__name__}-{i}", daemon=True)
            for t, i in targets
        ]

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def _flood(self, turn: int) -> None:
        while not self.stop.is_set():
            host, port = self.endpoints[turn % len(self.endpoints)]
            turn += 1
            try:
                with socket.create_connection((host, port), timeout=30) as sock:
                    self._flood_on(sock)
            except OSError:
                self._count("flood reconnects")
                time.sleep(0.2)

    def _flood_on(self, sock: socket.socket) -> None:
        slots = threading.Semaphore(self.window)
        reader = threading.Thread(target=self._read_acks, args=(sock, slots), daemon=True)
        reader.start()
        try:
            while not self.stop.is_set() and reader.is_alive():
                if not slots.acquire(timeout=0.5):
                    continue
                sock.sendall(SB + a31(next(self._numbers)) + EB)
                self._count("flood frames")
        finally:
            sock.shutdown(socket.SHUT_RDWR)
            reader.join(timeout=5)

    def _read_acks(self, sock: socket.socket, slots: threading.Semaphore) -> None:
        buffer = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
                while EB in buffer:
                    frame, buffer = buffer.split(EB, 1)
                    control = control_of(frame + EB)
                    self.records.write(
                        "flood", "flood", [f"{FLOOD_FACILITY}|{control}"], ack_code(frame + EB), None
                    )
                    slots.release()
        except OSError:
            return

    def _malformed(self, turn: int) -> None:
        while not self.stop.is_set():
            host, port = self.endpoints[turn % len(self.endpoints)]
            turn += 1
            try:
                self._one_round(host, port)
            except OSError:
                self._count("malformed reconnects")
            self.stop.wait(0.3)

    def _one_round(self, host: str, port: int) -> None:
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(b"garbage before any frame\r\n")
            sock.sendall(SB + b"this is not HL7 at all\rno MSH here\r" + EB)
            self._count(f"no-MSH frame -> {ack_code(read_frame(sock))}")
            huge = b"MSH|^~\\&|BIG|BIG|RB|RB|20261102||ADT^A31|HUGE1|P|2.5\r" + b"Z" * (self.max_frame + 4096)
            sock.sendall(SB + huge + EB)
            self._count(f"huge frame -> {ack_code(read_frame(sock))}")
