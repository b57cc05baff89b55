"""A broker consumer in a process of its own, for the crash tests.

python broker_procs.py DB HOME SOURCE_JSON    consume until killed (or SIGTERM)

``spawn`` starts one from a test; ``keys`` and ``firsts`` are what the tests then count in the
store: every dedupe key stored, and the messages stored that are not duplicates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from runtime import build_runtime
from sqlalchemy import func, select

from revbridge.bootstrap import Runtime
from revbridge.settings import BrokerSource
from revbridge.store.schema import message_keys, messages

PASSWORD = {"RB_TEST_BROKER_PASSWORD": "guest"}


def spawn(
    db: str, home: Path, config: BrokerSource, *, stderr: IO[str] | None = None, **env: str
) -> subprocess.Popen[str]:
    """This script in a child process consuming ``config`` into ``db``; ``env`` adds variables
    (``REVBRIDGE_FAULTS``), ``stderr`` takes its logs."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), db, str(home), config.model_dump_json()],
        env={
            **os.environ,
            **PASSWORD,
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
            **env,
        },
        stderr=stderr,
        text=True,
    )


def keys(rt: Runtime) -> set[str]:
    with rt.db.reading() as conn:
        return {str(k) for (k,) in conn.execute(select(message_keys.c.dedupe_key))}


def firsts(rt: Runtime) -> int:
    """Messages stored as themselves (a redelivery stored again is a ``duplicate``)."""
    with rt.db.reading() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(messages).where(messages.c.status != "duplicate")
            ).scalar_one()
        )


def main(db: str, home: str, source_json: str) -> None:
    rt = build_runtime(db, Path(home))
    consumer = rt.broker_consumer(BrokerSource.model_validate_json(source_json))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signo, _frame: stop.set())
    consumer.run(stop)
    rt.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
