"""Expensive results kept while the store has not changed: the reconciliation report behind the
overview and the reconciliation page, and the what-if behind a proposed version's page.

Both read most of the store and take a second or more on a day of demo traffic, while the pages
that show them are opened far more often than the store changes. A cheap fingerprint of the store
(row counts and latest ids and times of every table they read) decides whether a kept result is
still the result; a maximum age covers what depends on the clock (in-flight thresholds). Results
live on the application object, so each runtime has its own and nothing is global.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select
from starlette.requests import Request

from revbridge.api.app_state import runtime_of
from revbridge.masterdata.configuration import Configuration
from revbridge.store import configs
from revbridge.store.engine import reading
from revbridge.store.schema import (
    config_versions,
    encounter_context,
    event_lines,
    events,
    gl_documents,
    journals,
    messages,
    work_items,
)

T = TypeVar("T")
FRESH = timedelta(seconds=60)
KEEP = 16


@dataclass(frozen=True, slots=True)
class _Kept:
    state: tuple[object, ...]
    at: datetime
    value: Any


def store_state(conn: Connection) -> tuple[object, ...]:
    queries = [
        select(func.count(), func.max(messages.c.completed_at)).select_from(messages),
        select(func.max(events.c.id)).select_from(events),
        select(func.max(event_lines.c.id)).select_from(event_lines),
        select(func.count(), func.max(journals.c.posted_at)).select_from(journals),
        select(func.count(), func.max(work_items.c.updated_at)).select_from(work_items),
        select(func.count(), func.max(config_versions.c.approved_at)).select_from(config_versions),
        select(func.max(gl_documents.c.id)).select_from(gl_documents),
        select(func.count(), func.max(encounter_context.c.updated_at)).select_from(encounter_context),
    ]
    state: list[object] = []
    for query in queries:
        state.extend(conn.execute(query).one())
    state.extend(conn.execute(select(journals.c.status, func.count()).group_by(journals.c.status)).all())
    return tuple(state)


def remembered(request: Request, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, or what it returned last time for ``key`` if the store is unchanged since
    and that was less than ``FRESH`` ago."""
    rt = runtime_of(request)
    kept: dict[Hashable, _Kept] | None = getattr(request.app.state, "workbench_memo", None)
    if kept is None:
        kept = request.app.state.workbench_memo = {}
    with reading(rt.db) as conn:
        state = store_state(conn)
    now = rt.clock.now()
    found = kept.get(key)
    if found is not None and found.state == state and now - found.at < FRESH:
        value: T = found.value
        return value
    value = compute()
    if len(kept) >= KEEP:
        kept.clear()
    kept[key] = _Kept(state, now, value)
    return value


def configuration(request: Request, number: int) -> Configuration:
    """A stored configuration version, parsed once per application: a version's body never
    changes once stored, and parsing one (YAML validation of every file) takes ~100 ms."""
    rt = runtime_of(request)
    kept: dict[int, Configuration] | None = getattr(request.app.state, "workbench_versions", None)
    if kept is None:
        kept = request.app.state.workbench_versions = {}
    found = kept.get(number)
    if found is None:
        found = configs.load_version(rt.db, number)
        if len(kept) >= KEEP:
            kept.clear()
        kept[number] = found
    return found
