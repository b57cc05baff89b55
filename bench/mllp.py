"""MLLP end to end: senders push DFT^P03 messages over real sockets; each waits for its ACK, which
the listener sends only after the durable commit (SQLite WAL + synchronous=FULL).

Prints, for 1 and 8 concurrent senders: messages/s and ACK latency p50/p99; and from the same run
the tokenizer-only floor and python-hl7's parse rate (from bench/hl7v2_parse.py).
Targets (issue 3): >= 2,000 durable messages/s with 8 senders on SQLite; tokenizer >= 20x
python-hl7.

    .venv/bin/python bench/mllp.py [--messages 4000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import statistics
import tempfile
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from hl7v2_parse import MESSAGE, PAYLOAD, floor, measure, python_hl7, tokenize
from revbridge.bootstrap import build
from revbridge.service import Service
from revbridge.settings import Settings

SB, EB = b"\x0b", b"\x1c\x0d"


def frames(sender: int, count: int) -> list[bytes]:
    head, rest = MESSAGE.split("\r", 1)
    fields = head.split("|")
    out = []
    for n in range(count):
        fields[9] = f"B{sender:02d}{n:07d}"
        out.append(SB + ("|".join(fields) + "\r" + rest).encode() + EB)
    return out


def sender(port: int, payloads: list[bytes], latencies: list[float]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for frame in payloads:
            start = time.perf_counter()
            sock.sendall(frame)
            data = b""
            while not data.endswith(EB):
                chunk = sock.recv(4096)
                if not chunk:
                    raise RuntimeError("connection closed before the ACK")
                data += chunk
            latencies.append(time.perf_counter() - start)
            if b"|AA|" not in data:
                raise RuntimeError(f"not accepted: {data[:200]!r}")


def sender_process(port: int, payloads: list[bytes], results: mp.Queue[list[float]], go: EventType) -> None:
    latencies: list[float] = []
    go.wait()
    sender(port, payloads, latencies)
    results.put(latencies)


def run(port: int, senders: int, total: int, tag: int) -> tuple[float, list[float]]:
    """Senders are separate processes, as real interfaces are: they do not share our GIL."""
    per = total // senders
    results: mp.Queue[list[float]] = mp.Queue()
    go = mp.Event()
    procs = [
        mp.Process(target=sender_process, args=(port, frames(tag * 10 + s, per), results, go))
        for s in range(senders)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)
    start = time.perf_counter()
    go.set()
    latencies = [lat for _ in procs for lat in results.get()]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return per * senders / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), db=f"sqlite:///{tmp}/mllp.db", mllp_port=0, http_port=0)
        rt = build(settings, upgrade=True)
        service = Service(rt, http=False, workers=0)  # intake only: the ACK waits for the commit, not parsing
        service.start()
        try:
            results = [(n, *run(service.mllp_port, n, args.messages, n)) for n in (1, 8)]
        finally:
            service.stop()
            rt.close()
    parse_rates = measure(
        {
            "floor": lambda: floor(MESSAGE),
            "tokenizer": lambda: tokenize(PAYLOAD),
            "python-hl7": lambda: python_hl7(MESSAGE),
        },
        seconds=3.0,
    )
    print(f"MLLP: {args.messages} DFT^P03 messages of {len(PAYLOAD)} bytes per run, SQLite, durable ACKs")
    print(f"{'senders':<10}{'msg/s':>10}{'ACK p50 ms':>12}{'ACK p99 ms':>12}")
    for n, rate, lat in results:
        print(f"{n:<10}{rate:>10,.0f}{pct(lat, 50):>12.2f}{pct(lat, 99):>12.2f}")
    floor_rate, ours, oracle = parse_rates["floor"], parse_rates["tokenizer"], parse_rates["python-hl7"]
    print(
        f"parse floor (str.split): {floor_rate:,.0f} msg/s; tokenizer: {ours:,.0f} msg/s "
        f"({ours / floor_rate:.2f}x floor); python-hl7: {oracle:,.0f} msg/s"
    )
    ratio = parse_rates["tokenizer"] / parse_rates["python-hl7"]
    eight = results[1][1]
    print(
        f"target >= 2,000 msg/s with 8 senders: {eight:,.0f} ({'met' if eight >= 2000 else 'NOT met'}); "
        f"tokenizer vs python-hl7: {ratio:.0f}x (target >= 20x: {'met' if ratio >= 20 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
