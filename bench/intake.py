"""Intake throughput: store.accept() with 1 and 8 concurrent producers, SQLite and PostgreSQL.

The floor is a bare INSERT + COMMIT of the same bytes, one row per commit, at the same durability
(SQLite WAL + synchronous=FULL; PostgreSQL synchronous_commit=on), measured in the same run.
accept() adds AES-GCM sealing, hashing, dedupe lookups and a dedupe-key row, and wins back with
group commit. Target: >= 2,000 messages/s with 8 producers on SQLite.

Then the broker and table sources (issue 19, bench/intake_sources.py): revbridge's RabbitMQ and
NATS JetStream consumers and its staging-table poller (PostgreSQL, MariaDB) against a bare client
that only acks, or only advances its mark. A source whose server does not answer is skipped.

    .venv/bin/python bench/intake.py [--messages N] [--no-postgres]
        [--sources rabbitmq,nats,postgresql,mariadb|none] [--source-messages N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

from intake_sources import SOURCES, SourceRow, measure, print_rows
from revbridge.bootstrap import build
from revbridge.settings import Settings
from revbridge.store.messages import Arrival

PAYLOAD = (
    "MSH|^~\\&|HIS|F01|ERP|F01|20261102083000||DFT^P03|{n}|P|2.5\r"
    "EVN|P03|20261102083000\rPID|1||MRN{n}^^^F01^MR||DOE^JANE||19700101|F\r"
    "PV1|1|O|ED^01^01^F01||||1234^SMITH^JOHN|||ED||||||||OP|V{n}\r"
    + "".join(f"FT1|{i}|T{{n}}-{i}||20261102||CG|99213^OFFICE VISIT|||1|125.10|||ED\r" for i in range(1, 12))
)


def floor_sqlite(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, payload BLOB)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO raw VALUES (?, ?)", (uuid.uuid4().hex, PAYLOAD.format(n=i).encode()))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def floor_postgres(url: str, n: int) -> float:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = on")
        conn.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, payload BYTEA)")
        conn.commit()
        start = time.perf_counter()
        for i in range(n):
            conn.execute("INSERT INTO raw VALUES (%s, %s)", (uuid.uuid4().hex, PAYLOAD.format(n=i).encode()))
            conn.commit()
        elapsed = time.perf_counter() - start
    return n / elapsed


def accept_rate(db_url: str, home: Path, n: int, producers: int, tag: str) -> float:
    # Intake needs no parsers: accept() stores bytes, parsing happens later in the worker.
    rt = build(Settings(home=home, db=db_url), formats={}, upgrade=True)
    per = n // producers

    def produce(w: int) -> None:
        for i in range(per):
            payload = PAYLOAD.format(n=f"{tag}{w}-{i}").encode()
            rt.store.accept(
                Arrival(channel="bench", format="hl7v2", payload=payload, dedupe_key=f"F01|{tag}{w}-{i}")
            )

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(producers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    rt.close()
    return per * producers / elapsed


def pg_database() -> tuple[str, str]:
    admin_url = os.environ.get("REVBRIDGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"rbbench_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def accept_rows(n: int, postgres: bool) -> list[tuple[str, str, float, float]]:
    results: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        floor = floor_sqlite(home / "floor.db", n)
        for producers in (1, 8):
            rate = accept_rate(
                f"sqlite:///{home / f'accept{producers}.db'}", home, n, producers, f"s{producers}"
            )
            results.append(("sqlite", f"{producers} producer(s)", rate, floor))
        if postgres:
            admin_url, url = pg_database()
            try:
                floor_pg = floor_postgres(url, n)
                for producers in (1, 8):
                    rate = accept_rate(url, home, n, producers, f"p{producers}")
                    results.append(("postgresql", f"{producers} producer(s)", rate, floor_pg))
            finally:
                drop(admin_url, url)
    return results


def print_accept(n: int, results: list[tuple[str, str, float, float]]) -> None:
    print(f"intake: {n} messages of {len(PAYLOAD.format(n=0))} bytes, durable commits")
    print(f"{'backend':<12}{'producers':<16}{'accept msg/s':>14}{'floor msg/s':>14}{'ratio':>8}")
    for backend, label, rate, fl in results:
        print(f"{backend:<12}{label:<16}{rate:>14,.0f}{fl:>14,.0f}{rate / fl:>8.2f}")
    sqlite8 = next(r for b, label, r, _ in results if b == "sqlite" and label.startswith("8"))
    verdict = "meets" if sqlite8 >= 2000 else "MISSES"
    print(f"target: >= 2,000 msg/s with 8 producers on SQLite: {sqlite8:,.0f} msg/s {verdict} it")


def as_json(
    results: list[tuple[str, str, float, float]], sources: list[SourceRow], skipped: list[str]
) -> str:
    accept = [
        {"backend": b, "producers": label, "rate": r, "floor": fl, "ratio": round(r / fl, 3)}
        for b, label, r, fl in results
    ]
    return json.dumps({"accept": accept, "sources": [r.as_dict() for r in sources], "skipped": skipped})


def chosen_sources(text: str) -> list[str]:
    if text == "none":
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SOURCES))
    if unknown:
        raise SystemExit(f"--sources: unknown {', '.join(unknown)} (known: {', '.join(SOURCES)}, none)")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--sources", default=",".join(SOURCES), help="comma-separated broker and table sources, or none"
    )
    parser.add_argument("--source-messages", type=int, default=5000, help="messages (rows) per source row")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    args = parser.parse_args()
    sources = chosen_sources(args.sources)
    results = accept_rows(args.messages, not args.no_postgres)
    rows, skipped = measure(sources, PAYLOAD, args.source_messages)
    if args.json:
        print(as_json(results, rows, skipped))
        return
    print_accept(args.messages, results)
    print_rows(rows, skipped)


if __name__ == "__main__":
    main()
