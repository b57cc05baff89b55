"""The database staging-table source: rows a patient-accounting system writes to a table.

Each poll reads the next rows in key order, either after the high-water mark (key mode) or those
whose status column holds the ready value (status mode). Each row (or each run of consecutive
rows sharing ``group_column``) becomes one ``staging`` message whose fields the configured mapping
has named canonically (formats/staging). The rows' messages and the new mark are committed in ONE
transaction of revbridge's store (the mark rides with the last message, store/messages.py), so a
crash before that commit repeats the rows and dedupe (``staging:<table>/<key>``) absorbs them. In
status mode the source rows are set to the done value only after that commit: a crash in between
repeats them too, as duplicates with the original outcome. Nothing is marked before it is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from revbridge.core.errors import ConfigurationError, StoreError
from revbridge.core.faults import fault_point
from revbridge.formats.base import Envelope
from revbridge.formats.staging import dedupe_key, document
from revbridge.observability.logging import get_logger
from revbridge.observability.metrics import Metrics
from revbridge.settings import StagingSource
from revbridge.sources.backoff import retry_after
from revbridge.store.staging import StagingMark

log = get_logger("revbridge.staging")

RETRY_CAP_SECONDS = 30.0  # the longest wait between polls while the source cannot be read


class StagingReader(Protocol):
    """What the poller needs of a source table (store/staging_source.py's ``StagingTable``)."""

    def key_text(self, value: object) -> str: ...
    def fetch_after(self, mark: str | None, limit: int) -> list[dict[str, Any]]: ...
    def fetch_ready(self, limit: int) -> list[dict[str, Any]]: ...
    def mark_done(self, keys: Sequence[object]) -> int: ...
    def waiting(self, mark: str | None) -> int: ...
    def close(self) -> None: ...


# envelopes, the mark to commit with them -> the stored outcome per envelope (a status each)
StoreRows = Callable[[Sequence[Envelope], StagingMark], Sequence[str]]


def text_of(value: object) -> str | None:
    """A source column's value as the document's string (null stays null); never a float's repr
    for money: a Decimal column gives its exact digits."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def map_row(config: StagingSource, row: dict[str, Any], key: str) -> dict[str, Any]:
    """One source row -> ``{"key", "kind", "fields"}`` with canonical field names."""
    if config.kind is not None:
        kind: str = config.kind
    else:
        assert config.kind_column is not None  # the settings validator requires one of the two
        kind = config.kinds.get(str(text_of(row.get(config.kind_column))), "")
    fields = {name: text_of(row.get(column)) for name, column in config.columns.get(kind, {}).items()}  # type: ignore[call-overload]
    return {"key": key, "kind": kind, "fields": fields}


def groups(config: StagingSource, rows: list[dict[str, Any]], full: bool) -> list[list[dict[str, Any]]]:
    """Consecutive rows sharing the group column's value, one group each (else one row each). A
    full batch keeps back its last group, which may go on past the batch, unless it is the only one."""
    column = config.group_column
    if column is None:
        return [[row] for row in rows]
    runs: list[list[dict[str, Any]]] = []
    for row in rows:
        if runs and runs[-1][0].get(column) == row.get(column):
            runs[-1].append(row)
        else:
            runs.append([row])
    if full and len(runs) > 1:
        runs.pop()
    return runs


@dataclass
class StagingPoller:
    config: StagingSource
    open_table: Callable[[], StagingReader]
    store_rows: StoreRows
    read_mark: Callable[[], str | None]  # the committed mark in revbridge's store
    metrics: Metrics
    _table: StagingReader | None = None
    _mark: str | None = None
    _mark_known: bool = False

    def poll_once(self) -> int:
        """Store the next batch; returns how many source rows it covered (0: nothing waiting)."""
        table = self._open()
        if not self._mark_known:
            self._mark, self._mark_known = self.read_mark(), True
        c = self.config
        status_mode = c.status_column is not None
        rows = table.fetch_ready(c.batch_size) if status_mode else table.fetch_after(self._mark, c.batch_size)
        runs = groups(c, rows, full=len(rows) == c.batch_size)
        taken = [row for run in runs for row in run]
        if taken:
            self._store(table, runs)
            if status_mode:
                fault_point("staging.after_commit")  # stored, the source rows not yet marked done
                table.mark_done([row[c.key_column] for row in taken])
        self.metrics.staging_lag.labels(c.name).set(table.waiting(self._mark))
        return len(taken)

    def _store(self, table: StagingReader, runs: list[list[dict[str, Any]]]) -> None:
        c = self.config
        envelopes = []
        for run in runs:
            keys = [table.key_text(row[c.key_column]) for row in run]
            mapped = [map_row(c, row, key) for row, key in zip(run, keys, strict=True)]
            envelopes.append(
                Envelope(
                    format="staging",
                    payload=document(c.name, c.table, mapped),
                    dedupe_key=dedupe_key(c.table, keys),
                    locator=f"{c.table}[{keys[0]}]"[:128],
                )
            )
        last = table.key_text(runs[-1][-1][c.key_column])
        self.metrics.staging_rows.labels(c.name, "received").inc(sum(len(run) for run in runs))
        statuses = self.store_rows(envelopes, StagingMark(c.name, last))
        self._mark = last
        for status in statuses:
            self.metrics.staging_rows.labels(c.name, "duplicate" if status == "duplicate" else "stored").inc()
        log.info("staging.stored", source=c.name, messages=len(envelopes), high_water=last)

    def _open(self) -> StagingReader:
        if self._table is None:
            self._table = self.open_table()
        return self._table

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop``. A failed poll (the source database restarting or unreachable, the
        table missing, revbridge's store refusing the commit) is counted and retried with backoff:
        ``poll_seconds`` doubling per failure up to ``RETRY_CAP_SECONDS``. One line when the polls
        start failing and one when they succeed again, not one per try; the connections are opened
        anew and the mark read again from the store, so nothing unstored is ever skipped."""
        failures = 0
        while not stop.is_set():
            try:
                handled = self.poll_once()
            except (StoreError, ConfigurationError) as exc:
                failures += 1
                self._failed(exc, first=failures == 1)
                stop.wait(retry_after(self.config.poll_seconds, failures, RETRY_CAP_SECONDS))
                continue
            if failures:
                log.info("staging.poll_recovered", source=self.config.name, failed_polls=failures)
                failures = 0
            if handled < self.config.batch_size:
                stop.wait(self.config.poll_seconds)
        self.close()

    def _failed(self, exc: Exception, *, first: bool) -> None:
        # Named by type only: a driver's message may quote a row. The mark is read again.
        error = type(exc).__name__
        self.metrics.staging_poll_failures.labels(self.config.name, error).inc()
        if first:
            log.warning("staging.poll_failed", source=self.config.name, error=error, retrying="with backoff")
        self._forget()

    def close(self) -> None:
        """Release the source connections; the next poll opens them again."""
        self._forget()

    def _forget(self) -> None:
        self._mark_known = False
        if self._table is not None:
            self._table.close()
            self._table = None
