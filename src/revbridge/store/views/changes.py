"""A cheap fingerprint of the store: whether anything a kept page result was computed from has
changed since.

The workbench keeps expensive results (a reconciliation report, a what-if) between page views
and serves them again while this fingerprint is unchanged (``web/page_cache.py``). It is row
counts, latest ids and latest times of every table those results read, and the journals per
state, all read with indexes or table scans of one column: milliseconds on a day of traffic,
where the results it guards take seconds. Equal fingerprints mean nothing was added, finished,
posted, resolved or approved; they say nothing about what the clock alone changes.
"""

from __future__ import annotations

from sqlalchemy import func, select

from revbridge.store.database import Database
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

Fingerprint = tuple[object, ...]


def fingerprint(db: Database) -> Fingerprint:
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
    with db.reading() as tx:
        for query in queries:
            state.extend(tx.execute(query).one())
        by_status = (
            select(journals.c.status, func.count()).group_by(journals.c.status).order_by(journals.c.status)
        )
        state.extend(tuple(row) for row in tx.execute(by_status))
    return tuple(state)
