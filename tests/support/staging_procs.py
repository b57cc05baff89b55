"""The staging-table poller in a process of its own, for the crash tests.

python staging_procs.py DB HOME SOURCE_JSON once     poll one batch, then exit
python staging_procs.py DB HOME SOURCE_JSON drain    poll until nothing is waiting, then exit
python staging_procs.py DB HOME SOURCE_JSON forever  poll until killed (SIGTERM: stop, exit 0)
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from runtime import build_runtime

from revbridge.settings import StagingSource


def main(db: str, home: str, source_json: str, mode: str) -> None:
    rt = build_runtime(db, Path(home))
    poller = rt.staging_poller(StagingSource.model_validate(json.loads(source_json)))
    if mode == "once":
        poller.poll_once()
    elif mode == "drain":
        while poller.poll_once() > 0:
            pass
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        poller.run(stop)
    poller.close()
    rt.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
