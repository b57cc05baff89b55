"""Where `revbridge serve`'s own memory goes: its service in this process, traffic from others.

The soak (bench/soak.py) saw serve's process grow ~1 MB a minute at 300 msg/s while its worker
process stayed flat. This builds the service exactly as ``revbridge serve`` does (service/command.py
run_server: a fresh home, the embedded SQLite store, the listeners and the events publisher here,
one worker child process), feeds it the soak's cached days from a separate process (so the
senders' memory is not counted) and every ``--interval`` seconds prints, besides RSS, what holds
the memory: glibc's heap (in use, and free but kept by the allocator), SQLite's own allocations
(page caches, statements), and Python's live blocks; at ``--warmup`` and at every ``--every``
messages after it a mark, and at the end the object types whose counts grew, then RSS again after
closing the pool and after ``malloc_trim(0)``. glibc's arenas are capped as ``revbridge serve``
caps them (service/allocator.py) unless ``--no-cap``. ``--trace`` adds tracemalloc snapshots
compared by traceback (slow: serve runs several times slower). ``--sources`` picks the channels
(mllp, http, file) to localise a growth. The machine is shared: read memory, not speed.

    .venv/bin/python bench/serve_memory.py [--sources mllp,http,file] [--warmup 3000]
        [--every 10000] [--snapshots 3] [--trace]
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import date
from pathlib import Path

START = date(2026, 11, 2)  # the soak's first day (bench/soak.py)
CHANNELS = {"mllp": ("MLLP",), "http": ("HTTP_FHIR", "HTTP_PORTAL"), "file": ("FILE",)}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def send(files: list[Path], targets: object, channels: tuple[str, ...], count: object) -> None:
    """In a child process: every chosen message of the days, as bench/soak.py's senders do."""
    from revbridge.demo.feed import feed
    from soak import groups
    from soak_parts.traffic import load_days

    def sent(_m: object) -> None:
        with count.get_lock():  # type: ignore[attr-defined]
            count.value += 1  # type: ignore[attr-defined]

    for day in load_days(files):
        chosen = [m for m in day if m.channel.name in channels]
        threads = [
            threading.Thread(target=feed, args=(batch, targets), kwargs={"on_sent": sent})
            for batch in groups([_lane(m) for m in chosen])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def _lane(m: object) -> object:
    from dataclasses import replace

    from revbridge.demo.truth import Channel
    from soak_parts.traffic import lane_of

    return replace(m, facility=lane_of(m, 2)) if m.channel is Channel.MLLP else m  # type: ignore[attr-defined]


def type_counts() -> collections.Counter[str]:
    gc.collect()
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default="mllp,http,file")
    parser.add_argument("--warmup", type=int, default=5000)
    parser.add_argument("--every", type=int, default=20000)
    parser.add_argument("--snapshots", type=int, default=3)
    parser.add_argument("--depth", type=int, default=12, help="tracemalloc frames kept")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--trace", action="store_true", help="tracemalloc snapshots (slow)")
    parser.add_argument("--no-cap", action="store_true", help="leave glibc's arenas uncapped (as before)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between RSS lines")
    parser.add_argument("--scale", type=float, default=10.0, help="demo scale of each day of traffic")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "revbridge-soak-traffic")
    args = parser.parse_args()
    channels = tuple(c for s in args.sources.split(",") for c in CHANNELS[s])
    needed = args.warmup + args.every * (args.snapshots - 1) + 1
    from soak_parts.traffic import days_of_traffic

    files = days_of_traffic(START, needed=needed * 2, scale=args.scale, cache=args.cache)
    with tempfile.TemporaryDirectory(prefix="serve-memory-") as tmp:
        run(args, files, Path(tmp), channels)


def run(args: argparse.Namespace, files: list[Path], home: Path, channels: tuple[str, ...]) -> None:
    from revbridge.cli.common import open_runtime
    from revbridge.demo.feed import Targets
    from revbridge.service.allocator import limit_arenas
    from revbridge.service.processes import WorkerProcesses
    from revbridge.service.runner import Service
    from soak_parts.served import Served

    if not args.no_cap:
        print(f"malloc arenas capped: {limit_arenas()}")  # as run_server does, before any thread
    served = Served(home, db=None, workers=1, log_level="WARNING")
    served.cli("db", "upgrade")
    import json

    key = json.loads(served.cli("apikey", "create", "--role", "system", "--name", "mem", "--json"))["key"]
    os.environ.update(served.env)
    overrides = {"http_host": "127.0.0.1", "http_port": served.http_port, "mllp_port": served.mllp_port}
    with open_runtime(None, None, upgrade=True, **overrides) as runtime:
        service = Service(
            runtime, mllp=True, workers=0, post=False, events=True, processes=WorkerProcesses(1, [])
        )
        service.start()
        targets = Targets(served.mllp_port, served.http_port, served.inbox, key)
        count = multiprocessing.get_context("spawn").Value("l", 0)
        sender = multiprocessing.get_context("spawn").Process(
            target=send, args=(files, targets, channels, count), daemon=True
        )
        sender.start()
        try:
            measure(args, count, runtime.db.engine.pool)
            runtime.db.engine.dispose()  # every pooled connection closed: their page caches freed
            print("after closing the pool: " + line(time.monotonic(), count), flush=True)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            print("after malloc_trim(0):    " + line(time.monotonic(), count), flush=True)
        finally:
            sender.kill()
            service.request_stop()
            service.stop()


def sqlite_mb() -> float:
    """What SQLite has malloc'd in this process (page caches, statements): tracemalloc and
    Python's block count do not see it."""
    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return float(lib.sqlite3_memory_used()) / 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def malloc_mb() -> tuple[float, float]:
    """glibc's heap over every arena: bytes in use, bytes free but kept (fragmentation)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def line(began: float, count: object, extra: str = "") -> str:
    used, free = malloc_mb()
    return (
        f"{time.monotonic() - began:6.0f} s  messages {count.value:>7,}  RSS {rss_mb():6.1f} MB  "  # type: ignore[attr-defined]
        f"malloc used {used:6.1f} free {free:6.1f} MB  sqlite {sqlite_mb():5.2f} MB  "
        f"python blocks {sys.getallocatedblocks():>8,}{extra}"
    )


def measure(args: argparse.Namespace, count: object, pool: object) -> None:
    began = time.monotonic()
    marks = [args.warmup + n * args.every for n in range(args.snapshots)]
    snaps: list[tracemalloc.Snapshot] = []
    types: list[collections.Counter[str]] = []
    for n, mark in enumerate(marks):
        while count.value < mark:  # type: ignore[attr-defined]
            time.sleep(args.interval)
            if count.value < mark:  # type: ignore[attr-defined]
                print(line(began, count, f"  pool {pool.status()}"), flush=True)  # type: ignore[attr-defined]
        if n == 0 and args.trace:
            gc.collect()
            tracemalloc.start(args.depth)
        if n in (0, len(marks) - 1):
            types.append(type_counts())
        traced = f"  traced {tracemalloc.get_traced_memory()[0] / 2**20:.2f} MB" if args.trace else ""
        if args.trace:
            snaps.append(
                tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
            )
        print("mark " + line(began, count, traced), flush=True)
    if args.trace:
        print(f"\ngrowth by traceback, {marks[0]:,} -> {marks[-1]:,} messages:")
        for stat in snaps[-1].compare_to(snaps[0], "traceback")[: args.top]:
            print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
            for frame in stat.traceback.format()[-2 * args.depth :]:
                print("    " + frame)
    print("\nobject types whose count grew:")
    for name, diff in (types[-1] - types[0]).most_common(args.top):
        print(f"{diff:+8d} {name}")


if __name__ == "__main__":
    main()
