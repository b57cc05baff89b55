"""End to end: a simulated day of the demo health system through the real sources to the ERP.

The day (default 10x the demo's volume) is fed over MLLP, HTTP and the directory source into a
fresh store (embedded SQLite, or a fresh PostgreSQL database made from ``--db`` and dropped after)
served by the real service (workers, posting loop, outbox to the embedded ledger). The senders
run in a process of their own, as the hospital's systems run on hosts of their own: in intake's
process their threads shared its GIL, and the run measured them as much as revbridge. Runs:
- saturated: everything as fast as the senders can go; prints messages/s from the first send
  until the last journal is acknowledged;
- paced: the same day compressed into ``--minutes`` of wall time (the messages keep their order
  and relative spacing), which is how latency is meant: receipt-to-posted for cash events
  (realtime journals: remittances, patient payments, refunds), p50/p99. Target: p99 under 2 s;
- drain (``--drain 1,2``): the day is stored first by intake alone, then N worker processes
  start and the time until every journal is posted is measured, once per N. On a 2-core machine
  this is how worker-process scaling shows: in the saturated run the senders and intake take
  the same cores.
With ``--worker-processes N`` the saturated and paced runs process in N separate worker processes
(each with ``--worker-threads`` threads, the posting loop and the outbox, as ``revbridge worker``)
and the main process only takes messages in; with 0 (the default) the service runs its workers as
threads beside intake, as ``revbridge serve`` did before worker processes.
The floor is bench/intake.py's bare INSERT+COMMIT rate on the same backend (a message that is only
stored), measured in the same run.

    .venv/bin/python bench/e2e.py [--scale 10] [--minutes 10] [--skip-saturated] [--skip-paced]
        [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--worker-processes N]
        [--worker-threads T] [--drain 1,2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from intake import PAYLOAD, floor_postgres, floor_sqlite
from revbridge.bootstrap import Runtime, build
from revbridge.demo import generate
from revbridge.demo.feed import Targets, feed
from revbridge.demo.truth import Message, Traffic
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.settings import Settings
from revbridge.store import apikeys
from revbridge.store.schema import event_lines, events, journals, messages

START = date(2026, 11, 2)  # a Monday: payers remit on weekdays


@dataclass(frozen=True)
class Setup:
    db: str | None  # --db: a PostgreSQL server URL; None: embedded SQLite
    processes: int  # worker processes; 0: worker threads in intake's process
    threads: int  # worker threads per process (or in intake's process)


@contextmanager
def fresh_store(setup: Setup, home: Path) -> Iterator[str]:
    """A URL to an empty store for one run: a SQLite file in ``home``, or a PostgreSQL database
    created for the run on ``setup.db``'s server and dropped after it."""
    if setup.db is None:
        yield f"sqlite:///{home / 'e2e.db'}"
        return
    name = f"rbe2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _admin(setup.db, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(setup.db).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin(setup.db, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url: str, sql: str) -> None:
    """``sql`` on the server's maintenance database, outside a transaction."""
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(sql))
    admin.dispose()


def floor(setup: Setup, home: Path) -> float:
    if setup.db is None:
        return floor_sqlite(home / "floor.db", 2000)
    with fresh_store(setup, home) as url:
        return floor_postgres(url, 2000)


# -- worker processes ---------------------------------------------------------------------------


def _worker_process(settings: dict[str, Any], threads: int, ready: Event, go: Event, stop: Event) -> None:
    """What ``revbridge worker`` runs: worker threads, the posting loop and the ERP outbox."""
    rt = build(Settings(**settings))
    service = Service(rt, http=False, mllp=False, directory=False, workers=threads, post=True)
    ready.set()
    go.wait()
    service.start()
    stop.wait()
    service.stop()
    rt.close()


class WorkerProcesses:
    """``count`` worker processes started with ``spawn`` (no inherited threads or connections);
    ``start`` returns once each has built its runtime, so process start-up is not timed."""

    def __init__(self, settings: dict[str, Any], count: int, threads: int) -> None:
        ctx = mp.get_context("spawn")
        self._go, self._stop = ctx.Event(), ctx.Event()
        self._ready = [ctx.Event() for _ in range(count)]
        self._procs = [
            ctx.Process(target=_worker_process, args=(settings, threads, r, self._go, self._stop))
            for r in self._ready
        ]

    def start(self) -> None:
        for p in self._procs:
            p.start()
        for ready, p in zip(self._ready, self._procs, strict=True):
            while not ready.wait(0.5):
                if not p.is_alive():
                    raise RuntimeError(f"a worker process died while starting (exit {p.exitcode})")
        self._go.set()

    def stop(self) -> None:
        self._go.set()
        self._stop.set()
        for p in self._procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join()


# -- runs ---------------------------------------------------------------------------------------


def _settings(home: Path, url: str) -> dict[str, Any]:
    return {
        "home": home,
        "db": url,
        "http_port": 0,
        "mllp_port": 0,
        "inbox_poll_seconds": 0.2,
        "log_level": "WARNING",
    }


@contextmanager
def _opened(setup: Setup, home: Path) -> Iterator[tuple[dict[str, Any], Runtime, str]]:
    """A fresh store for one run: its settings, the runtime on it and a ``system`` API key."""
    with fresh_store(setup, home) as url:
        settings = _settings(home, url)
        rt = build(Settings(**settings), upgrade=True)
        key = apikeys.create(
            rt.db, name="bench", roles=(Role.SYSTEM,), now=rt.clock.now(), actor="bench", anchor=None
        )[1]
        yield settings, rt, key


def run(
    traffic: Traffic, home: Path, setup: Setup, *, minutes: float | None
) -> tuple[float, list[float], int]:
    """Feed the day into a fresh service in ``home``; wait until every journal is posted.

    Prints each format's cash-journal latency and returns the seconds from the first send to the
    last acknowledgement, every cash journal's receipt-to-posted seconds, and the messages sent.
    """
    with _opened(setup, home) as (settings, rt, key):
        inline = setup.threads if not setup.processes else 0
        service = Service(rt, workers=inline, post=not setup.processes)
        procs = WorkerProcesses(settings, setup.processes, setup.threads) if setup.processes else None
        if procs is not None:
            procs.start()
        service.start()
        assert service.inbox is not None
        senders = Senders(traffic, Targets(service.mllp_port, service.http_port, service.inbox, key), minutes)
        started = time.monotonic()
        senders.go()
        sent = senders.sent()
        wait_until_posted(rt, service.inbox)
        elapsed = time.monotonic() - started
        latencies = cash_latencies(rt)
        if procs is not None:
            procs.stop()
        service.stop()
        rt.close()
    return elapsed, latencies, sent


def drain(traffic: Traffic, home: Path, setup: Setup, processes: int) -> tuple[float, float, int]:
    """Store the day with intake alone, then start ``processes`` worker processes; returns the
    seconds intake took, the seconds until every journal was posted, and the messages stored."""
    with _opened(setup, home) as (settings, rt, key):
        service = Service(rt, workers=0, post=False)
        service.start()
        assert service.inbox is not None
        senders = Senders(traffic, Targets(service.mllp_port, service.http_port, service.inbox, key), None)
        started = time.monotonic()
        senders.go()
        sent = senders.sent()
        while any(p.suffix != ".ready" for p in service.inbox.iterdir()):
            time.sleep(0.05)
        stored = time.monotonic() - started
        service.stop()  # the listeners and the drop folder: nothing more arrives
        procs = WorkerProcesses(settings, processes, setup.threads)
        procs.start()
        started = time.monotonic()
        wait_until_posted(rt, service.inbox)
        drained = time.monotonic() - started
        procs.stop()
        rt.close()
    return stored, drained, sent


def send(messages: list[Message], targets: Targets, day_start: datetime, minutes: float | None) -> int:
    """Send every message, each at its place in the day compressed into ``minutes`` (None: at once);
    return how many were sent."""
    started = time.monotonic()

    def pace(message: Message) -> None:
        if minutes:
            due = (message.at - day_start).total_seconds() / 86400 * minutes * 60
            wait = started + due - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    lock = threading.Lock()
    sent = [0]

    def count(_m: Message) -> None:
        with lock:
            sent[0] += 1

    feed(messages, targets, on_sent=count, before_send=pace)
    return sent[0]


def _sender_process(
    messages: list[Message],
    targets: Targets,
    day_start: datetime,
    minutes: float | None,
    ready: Event,
    go: Event,
    out: mp.Queue[int],
) -> None:
    ready.set()
    go.wait()
    out.put(send(messages, targets, day_start, minutes))


class Senders:
    """The hospital's systems, in a process of their own as they are in life (on other hosts): in
    intake's process their threads would take its GIL, and the run would measure the senders.
    ``start`` returns once the process holds the day, so its start-up is not timed."""

    def __init__(self, traffic: Traffic, targets: Targets, minutes: float | None) -> None:
        ctx = mp.get_context("spawn")
        self._ready, self._go, self._out = ctx.Event(), ctx.Event(), ctx.Queue()
        day_start = datetime.combine(traffic.days[0].day, datetime.min.time())
        self._proc = ctx.Process(
            target=_sender_process,
            args=(list(traffic.messages), targets, day_start, minutes, self._ready, self._go, self._out),
            daemon=True,
        )
        self._proc.start()
        while not self._ready.wait(0.5):
            if not self._proc.is_alive():
                raise RuntimeError(f"the senders' process died while starting (exit {self._proc.exitcode})")

    def go(self) -> None:
        self._go.set()

    def sent(self) -> int:
        """Wait for the senders to finish; how many messages they sent."""
        while True:
            try:
                count: int = self._out.get(timeout=0.5)
            except queue.Empty:
                if not self._proc.is_alive():
                    raise RuntimeError(f"the senders' process died (exit {self._proc.exitcode})") from None
                continue
            self._proc.join()
            return count


def wait_until_posted(rt: Runtime, inbox: Path) -> None:
    """Wait until the inbox and the message queue are empty and no journal is staged or being sent
    (closing the batch windows once the messages are done, as the end of the day would)."""
    while True:
        status = rt.status()
        inbox_busy = any(p.suffix != ".ready" for p in inbox.iterdir())
        if not inbox_busy and not status["messages"]["pending"] and not status["messages"]["processing"]:
            assert rt.posting is not None
            rt.posting.tick(force_windows=True)
            states = rt.status()["journals"]
            if not states["staged"] and not states["submitting"]:
                break
        time.sleep(0.2)


def cash_latencies(rt: Runtime) -> list[float]:
    """Every posted realtime (cash) journal's receipt-to-posted seconds; prints them per format."""
    with rt.db.reading() as conn:
        rows = conn.execute(
            select(journals.c.first_received_at, journals.c.posted_at, journals.c.id).where(
                journals.c.lane == "realtime", journals.c.posted_at.is_not(None)
            )
        ).all()
        formats = dict(
            conn.execute(
                select(event_lines.c.journal_id, messages.c.format)
                .join(events, events.c.key == event_lines.c.event_key)
                .join(messages, messages.c.id == events.c.message_id)
                .where(event_lines.c.lane == "realtime")
                .distinct()
            ).all()
        )
    by_format: dict[str, list[float]] = {}
    for received, posted, jid in rows:
        by_format.setdefault(formats.get(jid, "?"), []).append((posted - received).total_seconds())
    for fmt, values in sorted(by_format.items()):
        print(
            f"  {fmt}: {len(values):,} cash journals p50 {pct(values, 50):.2f} s, p99 {pct(values, 99):.2f} s"
        )
    return [(posted - received).total_seconds() for received, posted, _ in rows]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def report_runs(traffic: Traffic, tmp: Path, setup: Setup, args: argparse.Namespace, fl: float) -> None:
    """The saturated and paced runs, each printed with its ratio to the floor."""
    if not args.skip_saturated:
        home = tmp / "saturated"
        home.mkdir()
        elapsed, latencies, sent = run(traffic, home, setup, minutes=None)
        rate = sent / elapsed
        print(
            f"saturated: {sent:,} messages, all posted after {elapsed:.1f} s: "
            f"{rate:,.0f} msg/s end to end "
            f"({rate / fl:.3f}x the floor); cash latency p50 {pct(latencies, 50):.2f} s, "
            f"p99 {pct(latencies, 99):.2f} s (a backlog, not a latency)"
        )
    if not args.skip_paced:
        home = tmp / "paced"
        home.mkdir()
        elapsed, latencies, sent = run(traffic, home, setup, minutes=args.minutes)
        p50, p99 = pct(latencies, 50), pct(latencies, 99)
        offered = sent / (args.minutes * 60)
        print(
            f"paced: the day in {args.minutes:g} min ({offered:,.1f} msg/s offered): {len(latencies):,} cash "
            f"journals, receipt-to-posted p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(latencies):.2f} s"
        )
        print(f"target p99 under 2 s: {'met' if p99 < 2 else 'NOT met'}")


def report_drains(traffic: Traffic, tmp: Path, setup: Setup, counts: list[int], fl: float) -> None:
    """The day stored first, then drained by N worker processes, for each N; the ratio of each
    to the first N's rate."""
    rates: list[float] = []
    for n in counts:
        home = tmp / f"drain{n}"
        home.mkdir()
        stored, drained, sent = drain(traffic, home, setup, n)
        rates.append(sent / drained)
        print(
            f"drain, {n} worker process(es) x {setup.threads} thread(s): {sent:,} messages stored by "
            f"intake alone in {stored:.1f} s ({sent / stored:,.0f} msg/s), then all posted after "
            f"{drained:.1f} s: {rates[-1]:,.0f} msg/s ({rates[-1] / fl:.3f}x the floor, "
            f"{rates[-1] / rates[0]:.2f}x {counts[0]} process(es))"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall time the paced day takes")
    parser.add_argument("--skip-saturated", action="store_true")
    parser.add_argument("--skip-paced", action="store_true")
    parser.add_argument("--db", help="a PostgreSQL server URL (postgresql+psycopg://...); default: SQLite")
    parser.add_argument("--worker-processes", type=int, default=0, help="0: workers as threads beside intake")
    parser.add_argument(
        "--worker-threads", type=int, default=0, help="per process (default: 2 beside intake, else 1)"
    )
    parser.add_argument(
        "--drain", default="", help="worker process counts to drain a stored day with, e.g. 1,2"
    )
    args = parser.parse_args()
    threads = args.worker_threads or (1 if args.worker_processes else 2)
    setup = Setup(db=args.db, processes=args.worker_processes, threads=threads)
    drains = Setup(db=args.db, processes=0, threads=args.worker_threads or 1)
    traffic = generate(start=START, days=1, seed=11, scale=args.scale)
    n = len(traffic.messages)
    where = "PostgreSQL" if setup.db else "embedded SQLite"
    workers = (
        f"{setup.processes} worker process(es) x {threads} thread(s)"
        if setup.processes
        else f"{threads} worker threads in intake's process"
    )
    print(
        f"e2e: one simulated day at scale {args.scale}: {n:,} messages "
        f"({sum(m.channel.value == 'mllp' for m in traffic.messages):,} MLLP); {where}, {workers}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        fl = floor(setup, Path(tmp))
        print(
            f"floor (bare INSERT+COMMIT of a {len(PAYLOAD.format(n=0))}-byte message, {where}): "
            f"{fl:,.0f} msg/s"
        )
        report_runs(traffic, Path(tmp), setup, args, fl)
        if args.drain:
            report_drains(traffic, Path(tmp), drains, [int(c) for c in args.drain.split(",")], fl)


if __name__ == "__main__":
    main()
