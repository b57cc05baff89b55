"""`revbridge serve` as users run it against the simplest thing they could build instead (issue 16).

Both run as their own processes, in the same run, fed the same traffic by 8 MLLP senders (separate
processes, each waiting for every ACK): the demo hospital day's HL7 v2 (ADT registrations, updates
and discharges, DFT^P03 charge batches), each encounter's messages on one sender in order.
- the peer: bench/peer_mllp.py (python-hl7's asyncio MLLP server, python-hl7 parse, one SQLite WAL
  synchronous=FULL commit per message, no processing at all);
- revbridge: `revbridge serve` with nothing but a fresh home: the embedded SQLite store, the
  reference configuration, workers on (their default), the posting loop and the outbox.
Prints msg/s and ACK p50/p99 for each, revbridge's ratio to the peer, and how long revbridge's
backlog (messages stored but not yet processed) takes to drain after the burst. Each server gets
one message first and the burst starts once revbridge has processed it: the burst meets running
workers, as it would in a hospital's day (a worker process takes seconds to start, and a burst at
once measured intake alone for those seconds).
Targets: revbridge >= 2x the peer's msg/s, ACK p99 < 50 ms, backlog drained within 60 s.

    .venv/bin/python bench/serve.py [--messages 4000] [--senders 8] [--rounds 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from revbridge.demo import generate
from revbridge.demo.truth import Channel
from revbridge.settings import Settings
from revbridge.store import Database, queue

SB, EB = b"\x0b", b"\x1c\x0d"
HERE = Path(__file__).resolve().parent


def traffic(messages: int, senders: int) -> list[list[bytes]]:
    """The demo day's HL7 v2, in sending order, dealt to senders by encounter (PV1-19)."""
    scale, found = 1.0, []
    while len(found) < messages:
        day = generate(start=date(2026, 11, 2), scale=scale).days[0]
        found = [m.payload for m in sorted(day.messages, key=lambda m: m.at) if m.channel is Channel.MLLP]
        scale *= 2
    lanes: list[list[bytes]] = [[] for _ in range(senders)]
    for payload in found[:messages]:
        lanes[hash(_visit(payload)) % senders].append(payload)
    return lanes


def _visit(payload: bytes) -> bytes:
    for segment in payload.split(b"\r"):
        if segment.startswith(b"PV1|"):
            fields = segment.split(b"|")
            return fields[19] if len(fields) > 19 else b""
    return b""


def _exchange(sock: socket.socket, payload: bytes) -> bytes:
    """Send one framed message and read its whole ACK frame."""
    sock.sendall(SB + payload + EB)
    data = b""
    while not data.endswith(EB):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the ACK")
        data += chunk
    return data


def _send(port: int, payloads: list[bytes], out: mp.Queue[tuple[list[float], int]], go: EventType) -> None:
    latencies, refused = [], 0
    go.wait()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for payload in payloads:
            start = time.perf_counter()
            data = _exchange(sock, payload)
            latencies.append(time.perf_counter() - start)
            refused += b"MSA|AA|" not in data
    out.put((latencies, refused))


def warm_up(port: int, lanes: Sequence[list[bytes]]) -> bytes:
    """One message before the burst, as a server that has been running all day has had: its
    answer is returned. Its control id (MSH-10) is its own, so the burst's messages stay new."""
    fields = lanes[0][0].split(b"\r", 1)[0].split(b"|")
    fields[9] = b"WARMUP-1"
    payload = b"|".join(fields) + b"\r" + lanes[0][0].split(b"\r", 1)[1]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        return _exchange(sock, payload)


def burst(port: int, lanes: Sequence[list[bytes]]) -> dict[str, float]:
    """All lanes at once, each waiting for every ACK: msg/s, ACK p50/p99 (ms), not-AA count."""
    out: mp.Queue[tuple[list[float], int]] = mp.Queue()
    go = mp.Event()
    procs = [mp.Process(target=_send, args=(port, lane, out, go)) for lane in lanes if lane]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start = time.perf_counter()
    go.set()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    latencies = [lat for lats, _ in results for lat in lats]
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "messages": len(latencies),
        "msg_s": len(latencies) / elapsed,
        "ack_p50_ms": cuts[49] * 1000,
        "ack_p99_ms": cuts[98] * 1000,
        "not_aa": sum(n for _, n in results),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(argv: list[str], ready: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it prints ``ready`` on stdout."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log.open("wb"), env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if ready.encode() in line:
            return proc
        if not line and proc.poll() is not None:
            raise RuntimeError(f"{argv[2]} exited: see {log}")
    raise RuntimeError(f"{argv[2]} did not start within 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peer_round(lanes: Sequence[list[bytes]], tmp: Path) -> dict[str, float]:
    port = _free_port()
    argv = [sys.executable, str(HERE / "peer_mllp.py"), "--port", str(port), "--db", str(tmp / "peer.db")]
    proc = _start(argv, "listening", dict(os.environ), tmp / "peer.log")
    try:
        warm_up(port, lanes)
        return burst(port, lanes)
    finally:
        _stop(proc)


def revbridge_round(lanes: Sequence[list[bytes]], tmp: Path) -> dict[str, float]:
    port, home = _free_port(), tmp / "home"
    env = dict(os.environ, REVBRIDGE_HOME=str(home), REVBRIDGE_LOG_LEVEL="WARNING")
    argv = [sys.executable, "-m", "revbridge", "serve", "--port", "0", "--mllp-port", str(port)]
    proc = _start(argv, "revbridge serving", env, tmp / "serve.log")
    try:
        # The burst meets workers that are up, as in a hospital's day: one message first, processed
        # (a worker process takes seconds to start; a burst at once would find none).
        warm_up(port, lanes)
        db = Database.open(Settings(home=home).db_url, null_pool=True)
        deadline = time.monotonic() + 120
        while queue.pending_count(db) and time.monotonic() < deadline:
            time.sleep(0.1)
        db.close()
        result = burst(port, lanes)
        burst_end = time.monotonic()
        db = Database.open(Settings(home=home).db_url, null_pool=True)
        result["backlog_after_burst"] = queue.pending_count(db)
        while queue.pending_count(db) and time.monotonic() - burst_end < 300:
            time.sleep(0.2)
        result["drain_s"] = time.monotonic() - burst_end
        result["backlog_left"] = queue.pending_count(db)
        db.close()
        return result
    finally:
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    lanes = traffic(args.messages, args.senders)
    rounds = []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            peer = peer_round(lanes, Path(tmp))
            ours = revbridge_round(lanes, Path(tmp))
        rounds.append(
            {"round": n + 1, "peer": peer, "revbridge": ours, "ratio": ours["msg_s"] / peer["msg_s"]}
        )
    if args.json:
        print(json.dumps(rounds, indent=2))
        return
    report(rounds, args.messages, args.senders)


def report(rounds: list[dict[str, object]], messages: int, senders: int) -> None:
    print(
        f"serve vs peer (the floor: bench/peer_mllp.py): {messages} HL7 v2 messages of the demo day, "
        f"{senders} MLLP senders waiting for each ACK"
    )
    print(
        f"{'round':<6}{'who':<11}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'not AA':>8}"
        f"{'backlog':>9}{'drain s':>9}"
    )
    for r in rounds:
        for who in ("peer", "revbridge"):
            x = r[who]
            assert isinstance(x, dict)
            tail = f"{x['backlog_after_burst']:>9}{x['drain_s']:>9.1f}" if who == "revbridge" else ""
            print(
                f"{r['round']:<6}{who:<11}{x['msg_s']:>9,.0f}{x['ack_p50_ms']:>9.1f}"
                f"{x['ack_p99_ms']:>9.1f}{x['not_aa']:>8}{tail}"
            )
    for r in rounds:
        ours = r["revbridge"]
        assert isinstance(ours, dict)
        ratio = float(str(r["ratio"]))
        verdicts = [
            f"{ratio:.2f}x the peer (target >= 2x: {'met' if ratio >= 2 else 'NOT met'})",
            f"ACK p99 {ours['ack_p99_ms']:.1f} ms "
            f"(target < 50: {'met' if ours['ack_p99_ms'] < 50 else 'NOT met'})",
            f"drained in {ours['drain_s']:.1f} s (target <= 60: "
            f"{'met' if ours['drain_s'] <= 60 and not ours['backlog_left'] else 'NOT met'})",
        ]
        print(f"round {r['round']}: " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
