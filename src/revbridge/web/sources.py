"""The overview's "Sources and events out" table: every staging table, broker queue and SFTP
folder configured or seen, and the events-out sink, from the same figures `revbridge status`
prints (``revbridge.runtime_status``).

Rendering asks nothing outside revbridge: rows waiting in a staging table and messages waiting in
a broker queue are counted by a background thread, at most once every ``FRESH`` seconds, and the
page shows the last count and its time (stale-while-revalidate, as ``page_cache`` does for the
reconciliation report). Only the very first view waits for that count, and at most ``FIRST_WAIT``
seconds: a broker that does not answer makes the page say "not counted yet", never slow.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request

from revbridge import runtime_status
from revbridge.bootstrap import Runtime
from revbridge.http.state import runtime_of
from revbridge.observability.logging import get_logger

log = get_logger("revbridge.web")
FRESH = 15.0  # seconds a count of what waits outside is shown before it is counted again
FIRST_WAIT = 0.5  # seconds the first view waits for the first count


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    kind: str  # staging | rabbitmq | nats | sftp | events out
    name: str
    where: str  # the table, queue, stream or sink (no URL: it may hold a host or a user)
    figures: tuple[tuple[str, object], ...]  # label, value; in the order shown
    waiting: int | str | None  # a count, "unknown (<error type>)", or None: not counted yet


@dataclass(frozen=True, slots=True)
class _Counted:
    at: float  # time.monotonic() of the count
    waiting: dict[tuple[str, str], int | str]  # (kind, name) -> count or "unknown (<error>)"


class _Waiting:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counted: _Counted | None = None
        self.thread: threading.Thread | None = None

    def current(self, rt: Runtime) -> _Counted | None:
        """The last count; a fresh one is started when it is older than FRESH (or none)."""
        with self.lock:
            counted = self.counted
            stale = counted is None or time.monotonic() - counted.at > FRESH
            if stale and (self.thread is None or not self.thread.is_alive()):
                self.thread = threading.Thread(
                    target=self._count, args=(rt,), daemon=True, name="overview-waiting"
                )
                self.thread.start()
            thread = self.thread
        if counted is None and thread is not None:
            thread.join(FIRST_WAIT)
            with self.lock:
                counted = self.counted
        return counted

    def _count(self, rt: Runtime) -> None:
        waiting: dict[tuple[str, str], int | str] = {}
        try:
            for name, entry in runtime_status.staging_sources(rt, ask=True).items():
                waiting[("staging", name)] = _waiting(entry)
            for name, entry in runtime_status.broker_sources(rt, ask=True).items():
                waiting[("broker", name)] = _waiting(entry)
        except Exception as exc:  # the page goes on without counts; the log names the type only
            log.warning("overview.waiting_failed", error=type(exc).__name__)
            return
        with self.lock:
            self.counted = _Counted(time.monotonic(), waiting)


def _waiting(entry: dict[str, object]) -> int | str:
    value = entry.get("waiting")
    return value if isinstance(value, int) else f"unknown ({entry.get('error')})"


def _kept(request: Request) -> _Waiting:
    found: _Waiting | None = getattr(request.app.state, "workbench_waiting", None)
    if found is None:
        found = request.app.state.workbench_waiting = _Waiting()
    return found


def rows(request: Request) -> list[Row]:
    """The table's rows: staging, brokers, SFTP, then events out (empty: nothing configured)."""
    rt = runtime_of(request)
    found = runtime_status.sources(rt, ask=False, since_start=True)
    asks = bool(rt.settings.staging_sources or rt.settings.broker_sources)
    counted = _kept(request).current(rt) if asks else None
    waiting = counted.waiting if counted is not None else {}
    table: list[Row] = []
    for name, entry in _entries(found, "staging"):
        figures: tuple[tuple[str, object], ...] = (
            ("high-water mark", entry.get("high_water")),
            ("mark moved", _when(entry.get("updated_at"))),
        )
        table.append(
            Row(
                kind="staging",
                name=name,
                where="table",
                figures=figures,
                waiting=waiting.get(("staging", name)),
            )
        )
    for name, entry in _entries(found, "brokers"):
        since = entry.get("since_start")
        counts = tuple(since.items()) if isinstance(since, dict) else ()
        table.append(
            Row(
                kind=str(entry["broker"]),
                name=name,
                where=str(entry["queue"]),
                figures=counts,
                waiting=waiting.get(("broker", name)),
            )
        )
    for name, entry in _entries(found, "sftp"):
        taken = entry.get("taken")
        counts = tuple(sorted(taken.items())) if isinstance(taken, dict) else ()
        figures = (*counts, ("last taken", _when(entry.get("last_taken_at"))))
        table.append(Row(kind="sftp", name=name, where="folder", figures=figures, waiting=None))
    events = found.get("events_out")
    if isinstance(events, dict):
        figures = tuple((k, events[k]) for k in ("pending", "failing", "sent"))
        age = events.get("oldest_pending_seconds")
        figures += (("oldest pending", "none" if age is None else f"{age} s"),)
        table.append(
            Row(
                kind="events out",
                name=str(events["sink"]),
                where="event outbox",
                figures=figures,
                waiting=None,
            )
        )
    return table


def _entries(found: dict[str, object], kind: str) -> list[tuple[str, dict[str, object]]]:
    entries = found.get(kind)
    if not isinstance(entries, dict):
        return []
    return [(str(name), entry) for name, entry in sorted(entries.items()) if isinstance(entry, dict)]


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value) if value else "never"
