"""The warehouse export (issue 18): the store's events, subledger rows and journal lines as three
Parquet datasets under one directory (``events/``, ``subledger/``, ``journals/``), each
Hive-partitioned by posting date (``posting_date=YYYY-MM-DD/part-0.parquet``) for DuckDB, Spark or
any engine that reads Hive layouts. Events are partitioned by their business date (occurred_on).

Rows arrive from the store in posting date order a batch at a time; each batch is appended to the
open partition's ``ParquetWriter`` as an Arrow record batch, so memory holds one batch, not the
store. A partition is written to a hidden temporary file and renamed over ``part-0.parquet`` when
complete: exporting again replaces it whole (no duplicated rows), and a reader never sees half a
file. Partitions inside the exported date range that no longer have rows are removed, so the
directory says what the store says for that range.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from revbridge.connectors.warehouse_rows import DATASETS, Dataset, Written
from revbridge.core.errors import InputError
from revbridge.store import Database
from revbridge.store.warehouse import Span

PART = "part-0.parquet"
BATCH = 5000  # rows per read from the store and per Arrow record batch
_PARTITION = re.compile(r"^posting_date=(\d{4}-\d{2}-\d{2})$")

Progress = Callable[[str, int], None]  # (dataset name, rows just written)


class _Partitions:
    """The one open partition file of a dataset; rows come in posting date order."""

    def __init__(self, root: Path, dataset: Dataset, written: Written) -> None:
        self._root, self._schema, self._written = root, dataset.schema, written
        self._day: date | None = None
        self._writer: pq.ParquetWriter | None = None
        self._temp: Path | None = None
        self.days: set[date] = set()

    def append(self, day: date, rows: list[dict[str, Any]]) -> None:
        if day != self._day:
            self.finish()
            if day in self.days:
                raise RuntimeError(f"rows for {day} arrived out of posting date order")
            folder = self._root / f"posting_date={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            self._temp = folder / f".{PART}.{os.getpid()}.tmp"
            self._writer = pq.ParquetWriter(self._temp, self._schema, compression="zstd")
            self._day = day
            self.days.add(day)
        assert self._writer is not None
        self._writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=self._schema))
        self._written.rows += len(rows)

    def finish(self) -> None:
        """Close the open partition and put it in place of the one exported before."""
        if self._writer is None or self._temp is None:
            return
        self._writer.close()
        target = self._temp.parent / PART
        os.replace(self._temp, target)
        self._written.files.append(str(target))
        self._writer, self._temp, self._day = None, None, None

    def abandon(self) -> None:
        if self._writer is not None and self._temp is not None:
            self._writer.close()
            self._temp.unlink(missing_ok=True)
        self._writer, self._temp, self._day = None, None, None


def _in_span(day: date, span: Span) -> bool:
    return (span.first is None or day >= span.first) and (span.last is None or day <= span.last)


def _remove_stale(root: Path, span: Span, kept: set[date], written: Written) -> None:
    """Drop partitions an earlier export wrote inside this range that now have no rows."""
    for folder in sorted(root.iterdir()):
        match = _PARTITION.match(folder.name)
        if match is None or not folder.is_dir():
            continue
        day = date.fromisoformat(match.group(1))
        if day in kept or not _in_span(day, span):
            continue
        part = folder / PART
        if part.exists():
            part.unlink()
            written.removed.append(str(part))
        if not any(folder.iterdir()):
            folder.rmdir()


def _export_one(db: Database, out: Path, dataset: Dataset, span: Span, progress: Progress) -> Written:
    written = Written(dataset.name)
    root = out / dataset.name
    root.mkdir(exist_ok=True)  # even when empty: the three datasets are always there
    partitions = _Partitions(root, dataset, written)
    try:
        for records in dataset.batches(db, span, BATCH):
            start = 0
            for end in range(1, len(records) + 1):
                day = dataset.day(records[start])
                if end == len(records) or dataset.day(records[end]) != day:
                    partitions.append(day, [dataset.row(r) for r in records[start:end]])
                    start = end
            progress(dataset.name, len(records))
        partitions.finish()
    except BaseException:
        partitions.abandon()
        raise
    _remove_stale(root, span, partitions.days, written)
    return written


def export(db: Database, out: Path, span: Span, *, progress: Progress | None = None) -> list[Written]:
    """Write the three datasets under ``out`` (created if missing) and say what was written."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a directory")
    report = progress or (lambda _name, _rows: None)
    try:
        out.mkdir(parents=True, exist_ok=True)
        return [_export_one(db, out, dataset, span, report) for dataset in DATASETS]
    except OSError as exc:
        raise InputError(f"cannot write the Parquet export under {out}: {exc.strerror}") from None
