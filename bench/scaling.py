"""Per-message costs of each process kind, measured apart, for docs/scaling.md.

A simulated day of the demo health system (``--scale``) goes through two processes in turn, each a
real ``Service`` in a child process of its own on the same database:
- an intake node (MLLP, HTTP, drop folder; no workers): the senders feed it the whole day; its
  CPU seconds per stored message are the intake cost;
- a worker node (``--workers`` threads, the posting loop and the ERP outbox to the embedded ledger;
  no listeners): it works the stored backlog off until every journal is posted; its CPU seconds per
  message are the processing cost.
For each phase it prints CPU ms per message (the child's user+system time from /proc), statements
sent and transactions committed per message (counted in the child at the driver), and on
PostgreSQL the WAL records, bytes and syncs (fsyncs) per message from ``pg_stat_wal``, which counts
every process of the server.

    .venv/bin/python bench/scaling.py [--db postgresql+psycopg://...] [--scale 0.5] [--workers 1]

Without ``--db`` a fresh PostgreSQL database is made at REVBRIDGE_BENCH_PG's server (default
postgres@127.0.0.1:5432) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Pool, create_engine, event, text
from sqlalchemy.engine import make_url

from intake import floor_postgres, floor_sqlite
from revbridge.bootstrap import build
from revbridge.demo import generate
from revbridge.demo.feed import Targets, feed
from revbridge.demo.truth import Message
from revbridge.security.roles import Role
from revbridge.service import Service
from revbridge.settings import Settings
from revbridge.store import apikeys, partitions

START = date(2026, 11, 2)
ADMIN = os.environ.get("REVBRIDGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, threads included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(kind: str, home: str, db: str, workers: int, pipe: Pipe) -> None:
    """One node: ``intake`` (listeners only) or ``worker`` (workers, posting, outbox). Reports its
    ports, then on "stop" its driver counts, and exits."""
    settings = Settings(
        home=Path(home), db=db, http_port=0, mllp_port=0, inbox_poll_seconds=0.2, log_level="WARNING"
    )
    rt = build(settings)
    counts = {"statements": 0, "commits": 0, "rollbacks": 0, "checkouts": 0}

    def counter(name: str) -> Any:
        def bump(*_: Any) -> None:
            counts[name] += 1

        return bump

    # Every round trip the driver makes: statements, COMMIT/ROLLBACK, and the pre-ping on checkout.
    event.listen(Engine, "before_cursor_execute", counter("statements"))
    event.listen(Engine, "commit", counter("commits"))
    event.listen(Engine, "rollback", counter("rollbacks"))
    event.listen(Pool, "checkout", counter("checkouts"))
    pids: list[int] = []

    def connected(dbapi: Any, _record: Any) -> None:  # the server backend of each new connection
        if rt.db.dialect == "postgresql":
            with dbapi.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pids.append(int(cur.fetchone()[0]))

    event.listen(Pool, "connect", connected)
    intake = kind == "intake"
    service = Service(
        rt, http=intake, mllp=intake, directory=intake, workers=0 if intake else workers, post=not intake
    )
    service.start()
    pipe.send((service.mllp_port, service.http_port, str(service.inbox)))
    while pipe.recv() == "mark":  # until "stop"
        pipe.send((dict(counts), list(pids)))
    service.stop()
    rt.close()


@dataclass
class Sample:
    cpu: float
    counts: dict[str, int]
    backends: dict[int, float]  # PostgreSQL: CPU seconds of each server backend of this database
    wal: dict[str, float]
    at: float


class Node:
    """A child process running one node, with its measurements."""

    def __init__(self, kind: str, home: Path, db: str, workers: int = 1) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, theirs = ctx.Pipe()
        self.process = ctx.Process(target=child, args=(kind, str(home), db, workers, theirs), daemon=True)
        self.process.start()
        self.mllp_port, self.http_port, inbox = self.pipe.recv()
        self.inbox = Path(inbox)
        self.db = db

    def sample(self, counts: dict[str, int], pids: list[int]) -> Sample:
        assert self.process.pid is not None
        return Sample(cpu_seconds(self.process.pid), counts, backends(pids), wal(self.db), time.monotonic())

    def mark(self) -> Sample:
        self.pipe.send("mark")
        counts, pids = self.pipe.recv()
        return self.sample(counts, pids)

    def stop(self) -> Sample:
        done = self.mark()  # while its connections (and their server backends) are alive
        self.pipe.send("stop")
        self.process.join(30)
        return done


def backends(pids: list[int]) -> dict[int, float]:
    """CPU seconds of the node's server backends (PostgreSQL on this host)."""
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return found


def wal(db: str) -> dict[str, float]:
    if not db.startswith("postgresql"):
        return {}
    engine = create_engine(db)
    with engine.connect() as conn:
        time.sleep(1.2)  # other backends flush their statistics at most once a second
        row = conn.execute(text("SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal")).one()
    engine.dispose()
    return {"records": row[0], "bytes": float(row[1]), "writes": row[2], "syncs": row[3]}


def report(name: str, start: Sample, end: Sample, messages: int) -> None:
    n = max(messages, 1)
    cpu_ms = (end.cpu - start.cpu) * 1000 / n
    wall = end.at - start.at
    c = {k: (end.counts[k] - start.counts[k]) / n for k in start.counts}
    trips = c["statements"] + c["commits"] + c["rollbacks"] + c["checkouts"]
    line = (
        f"{name}: {messages:,} messages in {wall:.1f} s; CPU {cpu_ms:.2f} ms/message "
        f"(one core: {1000 / cpu_ms:,.0f} msg/s); per message {c['statements']:.2f} statements, "
        f"{c['commits']:.3f} commits, {c['rollbacks']:.3f} rollbacks, {c['checkouts']:.2f} pool checkouts "
        f"(~{trips:.1f} round trips + BEGINs)"
    )
    if end.backends:
        server = sum(cpu - start.backends.get(pid, 0.0) for pid, cpu in end.backends.items())
        line += f"; PostgreSQL backends CPU {server * 1000 / n:.2f} ms/message"
    if start.wal and end.wal:
        d = {k: (end.wal[k] - start.wal[k]) / n for k in start.wal}
        line += (
            f"; WAL {d['records']:.1f} records, {d['bytes'] / 1024:.1f} KiB, {d['writes']:.3f} writes, "
            f"{d['syncs']:.3f} syncs per message (whole server)"
        )
    print(line, flush=True)


def lookups(db: str, months: int) -> None:
    """What a lookup by message id costs as months accumulate: the primary key is (id,
    received_at), so ``WHERE id = ?`` probes every month's index. Times a SELECT and an UPDATE by
    id with the partitions there are, then with ``months`` more (empty) months."""
    engine = create_engine(db)
    with engine.connect() as conn:
        ids = list(conn.execute(text("SELECT id FROM messages ORDER BY random() LIMIT 500")).scalars())
    for step in ("now", "more"):
        if step == "more":
            with engine.begin() as conn:
                partitions.lock(conn)
                for month in partitions.months_from(date(2020, 1, 1), months):
                    partitions.create_month(conn, "messages", month)
        with engine.connect() as conn:
            count = len(partitions.existing_months(conn, "messages"))
            raw = conn.connection.driver_connection
            assert raw is not None
            timed = {}
            for name, sql in (
                ("select", "SELECT status FROM messages WHERE id = %s"),
                ("update", "UPDATE messages SET attempts = attempts WHERE id = %s"),
            ):
                with raw.cursor() as cur:
                    started = time.perf_counter()
                    for mid in ids:
                        cur.execute(sql, (mid,))
                    timed[name] = (time.perf_counter() - started) / len(ids) * 1e6
            raw.rollback()
        print(
            f"by-id lookups with {count} monthly partitions (+ default): SELECT {timed['select']:.0f} us, "
            f"UPDATE {timed['update']:.0f} us per statement (round trip included)",
            flush=True,
        )
    engine.dispose()


def attach_months(db: str, months: int) -> None:
    """Empty partitions for ``months`` past months of messages and events, as a store that keeps
    that many months has attached."""
    engine = create_engine(db)
    with engine.begin() as conn:
        partitions.lock(conn)
        for table in partitions.LAYOUTS:
            for month in partitions.months_from(date(2020, 1, 1), months):
                partitions.create_month(conn, table, month)
    engine.dispose()


def wait_for(predicate: Any, timeout: float = 1800.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the phase did not finish in time")
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh PostgreSQL database)")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=1, help="worker threads in the worker node")
    parser.add_argument(
        "--extra-months", type=int, default=0, help="PostgreSQL: attach this many (empty) past months first"
    )
    parser.add_argument("--months", type=int, default=36, help="PostgreSQL: months added for the lookup test")
    args = parser.parse_args()
    traffic = generate(start=START, days=1, seed=11, scale=args.scale)
    print(f"scaling: one simulated day at scale {args.scale}: {len(traffic.messages):,} messages", flush=True)
    with database(args.db) as db, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        rt = build(Settings(home=home, db=db, log_level="WARNING"), upgrade=True)
        key = apikeys.create(
            rt.db, name="bench", roles=(Role.SYSTEM,), now=rt.clock.now(), actor="b", anchor=None
        )[1]
        if args.extra_months:
            attach_months(db, args.extra_months)
        intake = Node("intake", home, db)
        begin = intake.mark()
        sent = send(traffic.messages, Targets(intake.mllp_port, intake.http_port, intake.inbox, key))
        wait_for(lambda: not any(p.suffix != ".ready" for p in intake.inbox.iterdir()))
        stored = sum(rt.status()["messages"].values())
        report(f"intake node ({sent:,} sent)", begin, intake.stop(), stored)
        on_pg = db.startswith("postgresql")
        rate = floor_postgres(db, 500) if on_pg else floor_sqlite(home / "floor.db", 500)
        print(f"floor (a bare INSERT+COMMIT per message on the same server): {rate:,.0f} msg/s", flush=True)
        worker = Node("worker", home, db, workers=args.workers)
        begin = worker.mark()
        wait_for(lambda: done(rt))
        report(f"worker node ({args.workers} thread(s), posting, outbox)", begin, worker.stop(), stored)
        rt.close()
        if db.startswith("postgresql") and args.months:
            lookups(db, args.months)


def send(messages: list[Message], targets: Targets) -> int:
    sent = [0]

    def count(_m: Message) -> None:
        sent[0] += 1

    feed(messages, targets, on_sent=count)
    return sent[0]


def done(rt: Any) -> bool:
    status = rt.status()
    if status["messages"].get("pending") or status["messages"].get("processing"):
        return False
    rt.posting.tick(force_windows=True)  # the end of the day closes the batch windows
    journals = rt.status()["journals"]
    return not journals.get("staged") and not journals.get("submitting")


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    name = f"rbscale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
