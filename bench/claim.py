"""The worker's claim with a backlog: before migration 0012 (ORDER BY id over an OR of pending-and-due
and expired leases, index (status, next_attempt_at)) and after (pending-and-due in (priority, id)
order off the (status, priority, id) index, expired leases apart), on the same rows in one run.

A store at revision 0011 gets ``--processed`` finished messages and then ``--pending`` pending
ones (a fifth of them cash: 835s and portal payments); the old claim is timed ``--rounds`` times
(each claim of ``--limit`` is put back to pending afterwards, untimed, so the backlog stays the
same); then the store is upgraded to head (timed: the index build), the cash rows get priority 0
as intake now writes it, and the new claim is timed the same way. Both plans are printed
(SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN). The ratio old/new is the figure: the machine
is shared, so absolute times move with its load, the ratio much less.

    .venv/bin/python bench/claim.py [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
        [--pending 20000] [--processed 200000] [--limit 64] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Select, and_, create_engine, event, insert, or_, select, text, update

from revbridge.core.ids import uuid7
from revbridge.store import Database, migrate, queue
from revbridge.store.schema import messages

LEASE = timedelta(seconds=60)
Claim = Callable[[Database, datetime, int], list[str]]


def old_candidates(now: datetime, limit: int) -> Select[str]:
    """The SELECT the claim ran up to revision 0011 (store/queue.py before cash-first claiming)."""
    due = or_(
        and_(
            messages.c.status == queue.PENDING,
            or_(messages.c.next_attempt_at.is_(None), messages.c.next_attempt_at <= now),
        ),
        and_(messages.c.status == queue.PROCESSING, messages.c.lease_expires_at < now),
    )
    return select(messages.c.id).where(due).order_by(messages.c.id).limit(limit)


def old_select(db: Database, now: datetime, limit: int) -> list[str]:
    with db.reading() as conn:
        return list(conn.execute(old_candidates(now, limit)).scalars())


def new_select(db: Database, now: datetime, limit: int) -> list[str]:
    expired, due = queue.claimable(now, limit, locking=False)
    with db.reading() as conn:
        ids = list(conn.execute(expired).scalars())
        return ids + list(conn.execute(due.limit(limit - len(ids))).scalars())


def old_claim(db: Database, now: datetime, limit: int) -> list[str]:
    """The claim as it was up to revision 0011: the SELECT above inside an UPDATE ... RETURNING."""
    candidates = old_candidates(now, limit)
    if db.dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    statement = (
        update(messages)
        .where(messages.c.id.in_(candidates.scalar_subquery()))
        .values(
            status=queue.PROCESSING,
            lease_owner="bench",
            lease_expires_at=now + LEASE,
            attempts=messages.c.attempts + 1,
        )
        .returning(messages.c.id)
    )
    with db.transaction() as conn:
        return sorted(str(mid) for (mid,) in conn.execute(statement))


def new_claim(db: Database, now: datetime, limit: int) -> list[str]:
    return [c.id for c in queue.claim(db, owner="bench", now=now, lease=LEASE, limit=limit)]


def fill(db: Database, processed: int, pending: int, now: datetime) -> None:
    """Finished messages first (older ids), then the pending backlog; every fifth pending one is
    cash. Rows as intake writes them at 0011 (no priority column yet)."""
    statement = insert(messages)  # the priority column (0012) has only a server default: left out
    body = os.urandom(300)
    stamp = now - timedelta(minutes=1)

    def rows(n: int, status: str, offset: int) -> Iterator[dict[str, object]]:
        for i in range(n):
            cash = status == queue.PENDING and i % 5 == 4
            mid = uuid7()
            yield {
                "id": mid,
                "channel": "bench",
                "format": ("x12" if i % 10 == 4 else "portal") if cash else "hl7v2",
                "dedupe_key": f"bench:{offset + i}",
                "content_hash": "h",
                "key_id": "k",
                "payload": body,
                "size": len(body),
                "locator": "",
                "received_at": stamp,
                "correlation_id": mid,
                "status": status,
                "attempts": 1 if status != queue.PENDING else 0,
                "completed_at": stamp if status != queue.PENDING else None,
            }

    for status, n, offset in ((queue.PROCESSED, processed, 0), (queue.PENDING, pending, processed)):
        batch: list[dict[str, object]] = []
        for row in rows(n, status, offset):
            batch.append(row)
            if len(batch) == 5000:
                with db.transaction() as conn:
                    conn.execute(statement, batch)
                batch = []
        if batch:
            with db.transaction() as conn:
                conn.execute(statement, batch)
    if db.dialect == "postgresql":
        with db.transaction() as conn:
            conn.execute(text("ANALYZE messages"))


def put_back(db: Database, ids: Sequence[str]) -> None:
    with db.transaction() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(list(ids)))
            .values(status=queue.PENDING, lease_owner=None, lease_expires_at=None)
        )


def time_claims(
    db: Database, claim: Claim, now: datetime, limit: int, rounds: int, *, writes: bool = True
) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        ids = claim(db, now, limit)
        times.append(time.perf_counter() - start)
        assert len(ids) == limit, f"claimed {len(ids)}, expected {limit}"
        if writes:
            put_back(db, ids)
    return times


@contextmanager
def plans(db: Database) -> Iterator[list[str]]:
    """The plans of the SELECTs and UPDATEs on messages run inside the block."""
    seen: list[tuple[str, object]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("SELECT", "UPDATE")) and "messages" in statement and "EXPLAIN" not in head:
            seen.append((statement, parameters))

    found: list[str] = []
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield found
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    explain = "EXPLAIN QUERY PLAN" if db.dialect == "sqlite" else "EXPLAIN"
    with db.transaction() as conn:
        for statement, parameters in seen:
            rows = _driver(conn, f"{explain} {statement}", parameters)
            lines = [str(r[3]) if db.dialect == "sqlite" else str(r[0]) for r in rows]
            found.append(statement.split()[0] + ": " + " | ".join(line.strip() for line in lines))
        conn.rollback()


def _driver(conn: Connection, statement: str, parameters: object) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.exec_driver_sql(statement, parameters)]  # type: ignore[arg-type]


def show(label: str, times: list[float]) -> float:
    med = statistics.median(times)
    p90 = sorted(times)[int(len(times) * 0.9)]
    print(f"{label}: median {med * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms per claim ({len(times)} claims)")
    return med


def run(url: str, args: argparse.Namespace) -> None:
    db = Database.open(url)  # pooled, as a worker's
    try:
        migrate.upgrade(db, "0011")
        now = datetime.now(UTC)
        start = time.perf_counter()
        fill(db, args.processed, args.pending, now)
        print(
            f"{db.dialect}: {args.processed:,} processed + {args.pending:,} pending messages stored "
            f"in {time.perf_counter() - start:.1f} s; claims of {args.limit}"
        )
        with plans(db) as before_plans:
            old_claim(db, now, 1)
        old_only = show(
            "before, the SELECT alone",
            time_claims(db, old_select, now, args.limit, args.rounds, writes=False),
        )
        before = show(
            "before (0011: ORDER BY id over the OR)", time_claims(db, old_claim, now, args.limit, args.rounds)
        )
        start = time.perf_counter()
        migrate.upgrade(db)
        took = time.perf_counter() - start
        print(f"migration 0012 on the {args.processed + args.pending:,} rows: {took:.2f} s")
        with db.transaction() as conn:
            conn.execute(update(messages).where(messages.c.format.in_(["x12", "portal"])).values(priority=0))
            if db.dialect == "postgresql":
                conn.execute(text("ANALYZE messages"))
        with plans(db) as after_plans:
            first = new_claim(db, now, args.limit)
        put_back(db, first)
        with db.reading() as conn:
            formats = conn.execute(select(messages.c.format).where(messages.c.id.in_(first))).scalars().all()
        cash = sum(f != "hl7v2" for f in formats)
        print(f"the first claim after: {cash} of {len(first)} are cash (priority 0)")
        new_only = show(
            "after, the SELECTs alone",
            time_claims(db, new_select, now, args.limit, args.rounds, writes=False),
        )
        after = show(
            "after (0012: (priority, id) off ix_messages_status_priority_id)",
            time_claims(db, new_claim, now, args.limit, args.rounds),
        )
        ratios = f"the SELECTs {old_only / new_only:.1f}x, the whole claim {before / after:.1f}x"
        print(f"ratio before/after: {ratios} (the floor: the claim before 0012, in the same run)")
        for label, found in (("plan before", before_plans), ("plan after", after_plans)):
            for line in found:
                print(f"  {label}: {line if len(line) < 700 else line[:700] + ' ...'}")
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL server URL: a fresh database is made on it and dropped")
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument("--processed", type=int, default=200_000)
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    if args.db:
        name = f"rbclaim_{os.getpid()}"
        admin = create_engine(args.db, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(args.db.rsplit("/", 1)[0] + f"/{name}", args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'claim.db'}", args)


if __name__ == "__main__":
    main()
