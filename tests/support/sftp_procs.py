"""The SFTP poller in a process of its own, for the crash tests.

python sftp_procs.py DB HOME SOURCE_JSON drain    scan until two scans in a row take nothing, then exit
python sftp_procs.py DB HOME SOURCE_JSON forever  scan until killed (SIGTERM: stop, exit 0)
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from runtime import build_runtime

from revbridge.settings import SftpSource


def main(db: str, home: str, source_json: str, mode: str) -> None:
    rt = build_runtime(db, Path(home))
    poller = rt.sftp_poller(SftpSource.model_validate(json.loads(source_json)))
    if mode == "drain":
        idle = 0
        while idle < 2:  # a file is taken at its second listing
            idle = idle + 1 if poller.scan_once() == 0 else 0
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        poller.run(stop)
    rt.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
