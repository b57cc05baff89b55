"""What the 10,000-message restart tests of the staging and SFTP sources share: how many messages
the store holds (first copies, by their dedupe keys) and a bounded wait that fails with its reason."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select

from revbridge.bootstrap import Runtime
from revbridge.store.schema import message_keys


def stored(rt: Runtime) -> int:
    with rt.db.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(message_keys)).scalar_one())


def wait_for(until: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
