"""Entry points the crash and concurrency tests run in separate processes.

python procs.py accept DB HOME PAYLOAD      accept one message, print its id, then wait to be killed
python procs.py work DB HOME OWNER OUT LEASE  process until the queue is empty; append ids to OUT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lineformat import FORMATS
from runtime import build_runtime

from revbridge.store.messages import Arrival


def accept(db: str, home: str, payload: str) -> None:
    rt = build_runtime(db, Path(home), formats=FORMATS)
    acc = rt.store.accept(Arrival(channel="test", format="lines", payload=payload.encode()))
    print(acc.message_id, flush=True)
    time.sleep(600)  # the parent kills us here, right after accept() returned


def work(db: str, home: str, owner: str, out: str, lease: str) -> None:
    rt = build_runtime(db, Path(home), formats=FORMATS, lease_seconds=float(lease), batch_size=16)
    worker = rt.worker(owner=owner)
    with open(out, "a", encoding="utf-8") as fh:

        def note(result: object) -> None:
            fh.write(getattr(result, "message_id") + "\n")  # noqa: B009
            fh.flush()

        idle = 0
        while idle < 3:
            idle = idle + 1 if worker.run_once(note) == 0 else 0
            if idle:
                time.sleep(0.2)
    rt.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"accept": accept, "work": work}[command](*args)
