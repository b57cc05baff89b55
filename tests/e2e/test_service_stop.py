"""Asking the service to stop from a signal handler (SIGTERM, Ctrl-C in ``revbridge serve`` and
``revbridge worker``): the handler runs in the main thread between any two of its steps, so it
must take no lock that thread may be holding at that moment."""

from __future__ import annotations

import threading
from pathlib import Path

from runtime import build_runtime

from revbridge.service import Service


def test_a_stop_asked_while_the_waiting_thread_holds_the_events_lock_still_stops(tmp_path: Path) -> None:
    """``wait`` sleeps in ``Event.wait``, which holds the event's (non-reentrant) lock at its
    edges; a handler that lands there and sets the event waits for itself forever, and every
    thread waiting on the event behind it: serve ignored Ctrl-C and SIGTERM until killed."""
    rt = build_runtime(f"sqlite:///{tmp_path / 'stop.db'}", tmp_path)
    service = Service(rt, http=False, mllp=False, directory=False, workers=1)
    service.start()

    def handler_landing_inside_event_wait() -> None:
        with service._stop._cond:  # what the main thread holds there
            service.request_stop()
        service.wait()  # returns at once, having stopped everything

    waiter = threading.Thread(target=handler_landing_inside_event_wait, daemon=True)
    waiter.start()
    waiter.join(timeout=20)
    stuck = waiter.is_alive()
    if not stuck:  # stuck, the event's lock is held for good: nothing can stop the service
        rt.close()
    assert not stuck, "the stop waited for a lock its own thread held"
    assert service._stop.is_set()
