"""Reconciliation throughput: `revbridge reconcile` over a store the demo generator filled, against
the floor of reading the same rows, in one run.

The store is built first (not timed): N generated days of the reference health system through
intake, the workers, the posting stage and the runtime's outbox into the embedded ledger. Then,
in interleaved rounds so the machine's drift hits both alike:

- floor: the rows reconciliation must read (events, event_lines, journals, journal_lines,
  gl_entries, messages), fetched as plain tuples through the driver, nothing built from them;
- reconcile: ``pipeline.reconciliation.report``: the same rows turned into facts and every control run,
  for the whole store and for one business day.

Throughput counts subledger rows (event_lines) per second.
Usage: ``.venv/bin/python bench/reconcile.py [--days N] [--scale S] [--rounds R] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from revbridge.bootstrap import build
from revbridge.demo import generate
from revbridge.pipeline.reconciliation import report
from revbridge.settings import Settings

START = date(2025, 3, 3)  # a Monday
TABLES = ("events", "event_lines", "journals", "journal_lines", "gl_entries", "messages")


def fill(home: Path, days: int, scale: float) -> tuple[str, int]:
    url = f"sqlite:///{home / 'bench.db'}"
    rt = build(Settings(home=home, db=url), upgrade=True)
    sent = 0
    try:
        for day in range(days):
            for message in generate(
                start=date.fromordinal(START.toordinal() + day), seed=7 + day, scale=scale
            ).messages:
                rt.intake.receive(message.payload, channel=f"{message.channel}:bench", format=message.format)
                sent += 1
        rt.settle(close_windows=True)
    finally:
        rt.close()
    return url, sent


def floor(engine: Engine) -> int:
    rows = 0
    with engine.connect() as conn:
        for table in TABLES:
            rows += len(conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="rb-bench-reconcile-"))
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    url, sent = fill(home, args.days, args.scale)
    built = time.perf_counter() - started
    rt = build(Settings(home=home, db=url), upgrade=False)
    engine = rt.db.engine  # the floor reads underneath the store, as the driver would
    with engine.connect() as conn:
        counts = {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}
    one_day = date.fromordinal(START.toordinal() + args.days // 2)
    now = datetime.now(UTC)
    timings: dict[str, list[float]] = {"floor": [], "all": [], "day": []}
    ties = True
    for _ in range(args.rounds):
        t = time.perf_counter()
        floor(engine)
        timings["floor"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ties &= report(rt.db, day=None, now=now, connector_for=rt.connector_for).ties
        timings["all"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ties &= report(rt.db, day=one_day, now=now, connector_for=rt.connector_for).ties
        timings["day"].append(time.perf_counter() - t)
    rt.close()
    best = {k: min(v) for k, v in timings.items()}
    lines = counts["event_lines"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"store: {args.days} day(s) at scale {args.scale}: {sent} messages sent, built in {built:.1f} s")
    print("rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    print(f"floor (fetch the rows, build nothing): {best['floor']:.3f} s")
    print(
        f"reconcile whole store: {best['all']:.3f} s = {lines / best['all']:,.0f} subledger rows/s, "
        f"{best['all'] / best['floor']:.1f}x the floor"
    )
    print(f"reconcile one day ({one_day}): {best['day']:.3f} s")
    print(f"ties: {ties} (best of {args.rounds} rounds)")
    if args.keep is None:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
