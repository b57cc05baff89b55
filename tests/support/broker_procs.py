"""A broker consumer in a process of its own, for the crash tests.

python broker_procs.py DB HOME SOURCE_JSON    consume until killed (or SIGTERM)
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from runtime import build_runtime

from revbridge.settings import BrokerSource


def main(db: str, home: str, source_json: str) -> None:
    rt = build_runtime(db, Path(home))
    consumer = rt.broker_consumer(BrokerSource.model_validate_json(source_json))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signo, _frame: stop.set())
    consumer.run(stop)
    rt.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
