"""The worker's path, measured by what does not move with the machine's load: statements (and
round trips) per message, and CPU ms per message, over one in-process drain of the demo day.

The day is stored by intake first (``Runtime.intake.receive``, not counted), then one worker
drains it (``Worker.drain``: parse, record, post, journal, status) while a SQLAlchemy listener
(tests/support/statements.py) counts what is sent to the database and ``time.process_time``
measures the process's CPU. The posting loop and the outbox then settle the rest, uncounted, and
the run prints what the day ended as, so two runs can be compared for sameness too.

    .venv/bin/python bench/worker_path.py [--scale 0.5] [--db postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from pgdb import create_pg_database, drop_pg_database
from runtime import build_runtime
from sqlalchemy import func, select
from statements import counting

from revbridge.demo import generate
from revbridge.store.schema import journals, messages

START = date(2026, 11, 2)  # a Monday: payers remit on weekdays


def measure(url: str, home: Path, scale: float, seed: int) -> None:
    traffic = generate(start=START, seed=seed, scale=scale)
    rt = build_runtime(url, home, posting=True, log_level="WARNING")
    try:
        for message in traffic.messages:
            rt.intake.receive(message.payload, channel=f"{message.channel}:bench", format=message.format)
        worker = rt.worker()
        cpu, wall = time.process_time(), time.perf_counter()
        with counting(rt.db.engine) as counts:
            drained = worker.drain()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rt.settle(close_windows=True)
        with rt.db.reading() as conn:
            query = select(messages.c.status, func.count()).group_by(messages.c.status)
            states = Counter({str(r[0]): int(r[1]) for r in conn.execute(query)})
            posted = conn.execute(select(func.count()).select_from(journals)).scalar_one()
    finally:
        rt.close()
    per = max(1, drained)
    print(f"{rt.db.dialect}: {drained:,} messages drained in {wall:.2f} s ({drained / wall:,.0f} msg/s wall)")
    print(f"  CPU {cpu * 1000 / per:.3f} ms/msg; statements {counts.statements / per:.2f}/msg; ")
    print(
        f"  round trips {counts.round_trips / per:.2f}/msg (commits {counts.commits}, rollbacks "
        f"{counts.rollbacks}, savepoints {counts.savepoints})"
    )
    print(f"  ended: {dict(sorted(states.items()))}; journals {posted}")
    for verb, n in counts.by_verb.most_common():
        print(f"    {n / per:6.3f}/msg  {verb}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", default=None, help="a PostgreSQL server URL (a fresh database is made)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db is None:
            measure(f"sqlite:///{Path(tmp) / 'worker.db'}", Path(tmp), args.scale, args.seed)
            return
        url = create_pg_database("rbworker")
        try:
            measure(url, Path(tmp), args.scale, args.seed)
        finally:
            drop_pg_database(url)


if __name__ == "__main__":
    main()
