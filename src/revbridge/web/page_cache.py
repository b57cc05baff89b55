"""Expensive results kept between page views: the reconciliation report behind the overview and
the reconciliation page, the what-if behind a proposed version's page, parsed configurations.

A report or a what-if reads most of the store and takes seconds on a day of demo traffic, while
its pages are opened far more often than anyone could read a new one. A cheap fingerprint of the
store (``revbridge.store.views.changes``: row counts, latest ids and times of every table they
read) says whether a kept result is still the result; a maximum age covers what depends on the
clock (in-flight thresholds). When either says it is not, the page is served at once with the kept
result, marked as being brought up to date, while one background thread per result recomputes it
(stale-while-revalidate), so a busy store never makes every page view pay for a full
reconciliation. Only the very first view
computes in the request. Results live on the application object: each runtime has its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from starlette.requests import Request

from revbridge.http.state import runtime_of
from revbridge.masterdata.configuration import Configuration
from revbridge.observability.logging import get_logger
from revbridge.store import configs
from revbridge.store.views import changes
from revbridge.store.views.changes import Fingerprint

T = TypeVar("T")
log = get_logger("revbridge.web")
FRESH = timedelta(seconds=60)
KEEP = 16


@dataclass(frozen=True, slots=True)
class Kept(Generic[T]):
    value: T
    at: datetime  # when it was computed
    current: bool  # False: the store has changed since; a newer one is being computed


@dataclass(frozen=True, slots=True)
class _Entry:
    state: Fingerprint
    at: datetime
    value: Any


class _Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[Hashable, _Entry] = {}
        self.running: set[Hashable] = set()

    def put(self, key: Hashable, entry: _Entry) -> None:
        with self.lock:
            if len(self.entries) >= KEEP and key not in self.entries:
                self.entries.clear()
            self.entries[key] = entry


def _results(request: Request) -> _Results:
    found: _Results | None = getattr(request.app.state, "workbench_results", None)
    if found is None:
        found = request.app.state.workbench_results = _Results()
    return found


def remembered(request: Request, key: Hashable, compute: Callable[[], T]) -> Kept[T]:
    """``compute()``'s result for ``key``: the kept one while the store is unchanged and it is
    younger than ``FRESH``; else the kept one marked not current while a thread recomputes it;
    computed here only when nothing is kept yet."""
    runtime = runtime_of(request)
    results = _results(request)

    def state() -> Fingerprint:
        return changes.fingerprint(runtime.db)

    seen = state()
    now = runtime.clock.now()
    with results.lock:
        found = results.entries.get(key)
        fresh = found is not None and found.state == seen and now - found.at < FRESH
        start = found is not None and not fresh and key not in results.running
        if start:
            results.running.add(key)
    if found is not None and fresh:
        return Kept(found.value, found.at, True)
    if found is not None:
        if start:
            threading.Thread(
                target=_refresh, args=(results, key, compute, state, runtime.clock.now), daemon=True
            ).start()
        return Kept(found.value, found.at, False)
    value = compute()
    results.put(key, _Entry(seen, now, value))
    return Kept(value, now, True)


def _refresh(
    results: _Results,
    key: Hashable,
    compute: Callable[[], object],
    state: Callable[[], Fingerprint],
    clock: Callable[[], datetime],
) -> None:
    try:
        seen, at = state(), clock()  # taken first: a change during the computation shows next time
        results.put(key, _Entry(seen, at, compute()))
    except Exception as exc:  # the kept result stays; the next view tries again
        log.warning("workbench.refresh_failed", key=str(key), error=type(exc).__name__)
    finally:
        with results.lock:
            results.running.discard(key)


def configuration(request: Request, number: int) -> Configuration:
    """A stored configuration version, parsed once per application: a version's body never
    changes once stored, and parsing one (YAML validation of every file) takes ~100 ms."""
    runtime = runtime_of(request)
    kept: dict[int, Configuration] | None = getattr(request.app.state, "workbench_versions", None)
    if kept is None:
        kept = request.app.state.workbench_versions = {}
    found = kept.get(number)
    if found is None:
        found = configs.load_version(runtime.db, number)
        if len(kept) >= KEEP:
            kept.clear()
        kept[number] = found
    return found
