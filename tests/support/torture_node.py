"""One torture node through the in-process API, for a revbridge without ``revbridge worker``.

python torture_node.py serve THREADS    the listeners only (MLLP, HTTP, the drop folder)
python torture_node.py worker THREADS   processing, the posting loop and the ERP outbox

Settings come from the environment (REVBRIDGE_*), as the real commands read them. SIGTERM stops
the node cleanly; the torture run mostly sends SIGKILL.
"""

from __future__ import annotations

import signal
import sys
import threading

from revbridge.bootstrap import build
from revbridge.service import Service
from revbridge.settings import Settings


def main(role: str, threads: int) -> None:
    runtime = build(Settings(), upgrade=False)
    if role == "serve":
        service = Service(runtime, workers=0, post=False)
    else:
        service = Service(runtime, http=False, mllp=False, directory=False, workers=threads, post=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    print(f"torture node {role} up: http {service.http_port} mllp {service.mllp_port}", flush=True)
    stop.wait()
    service.stop()
    runtime.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
