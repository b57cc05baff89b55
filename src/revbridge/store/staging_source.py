"""The SOURCE side of the staging-table poller: reading a hospital system's staging table.

This is not revbridge's store: it is a table in the patient-accounting system's own database
(PostgreSQL or MariaDB/MySQL), read with SQLAlchemy Core. It lives under store/ because only the
store may speak SQL (the import-linter contract). Rows are read in key order, either after a
high-water mark (key mode) or where a status column holds the "ready" value (status mode); in
status mode ``mark_done`` sets the "done" value once the rows' messages are committed. Only the
configured columns are selected. Errors are raised as ``StoreUnavailable``/``StoreError`` named by
type only: a driver message may quote a row's values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, create_engine, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError

from revbridge.core.errors import ConfigurationError
from revbridge.store.database import translated


@dataclass(frozen=True, slots=True, kw_only=True)
class TableSpec:
    url: str
    table: str
    key_column: str
    columns: frozenset[str]  # every column the mapping reads
    schema: str | None = None
    password: str | None = None
    status_column: str | None = None
    ready_value: str = "ready"
    done_value: str = "done"


class StagingTable:
    """One staging table in a source database."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        try:
            url = make_url(spec.url)
        except ArgumentError:
            raise ConfigurationError(f"staging table {spec.table}: the source url is not valid") from None
        if spec.password is not None:
            url = url.set(password=spec.password)
        self._engine = create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=0)
        try:
            self._table = self._reflect()
        except BaseException:
            self._engine.dispose()  # a poller retrying a bad table must not leak a connection a try
            raise
        wanted = {spec.key_column, *spec.columns, *([spec.status_column] if spec.status_column else [])}
        self._selected = [self._table.c[name] for name in sorted(wanted)]
        self._key: Column[Any] = self._table.c[spec.key_column]
        try:
            self._key_type: type = self._key.type.python_type
        except NotImplementedError:
            self._key_type = str

    def _reflect(self) -> Table:
        spec = self.spec
        with translated():
            try:
                table = Table(spec.table, MetaData(), schema=spec.schema, autoload_with=self._engine)
            except NoSuchTableError:
                raise ConfigurationError(f"staging table {spec.table} does not exist in the source") from None
        wanted = {spec.key_column, *spec.columns, *([spec.status_column] if spec.status_column else [])}
        missing = sorted(wanted - set(table.c.keys()))
        if missing:
            raise ConfigurationError(f"staging table {spec.table} has no column(s) {', '.join(missing)}")
        return table

    def key_text(self, value: object) -> str:
        return str(value)

    def key_value(self, text: str) -> object:
        """A stored mark back as a value of the key column's type (an int key compares as int)."""
        if self._key_type is int:
            return int(text)
        return text

    def fetch_after(self, mark: str | None, limit: int) -> list[dict[str, Any]]:
        """Key mode: the next ``limit`` rows after the mark, in key order."""
        query = select(*self._selected).order_by(self._key).limit(limit)
        if mark is not None:
            query = query.where(self._key > self.key_value(mark))
        return self._rows(query)

    def fetch_ready(self, limit: int) -> list[dict[str, Any]]:
        """Status mode: the first ``limit`` rows whose status is the ready value, in key order."""
        status = self._status()
        query = (
            select(*self._selected).where(status == self.spec.ready_value).order_by(self._key).limit(limit)
        )
        return self._rows(query)

    def mark_done(self, keys: Sequence[object]) -> int:
        """Status mode: the rows with these keys that are still ready are set to done."""
        status = self._status()
        changed = 0
        with translated(), self._engine.begin() as conn:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                result = conn.execute(
                    update(self._table)
                    .where(self._key.in_(chunk), status == self.spec.ready_value)
                    .values({self.spec.status_column: self.spec.done_value})
                )
                changed += result.rowcount
        return changed

    def waiting(self, mark: str | None) -> int:
        """Rows not yet stored: after the mark (key mode) or still ready (status mode)."""
        query = select(func.count()).select_from(self._table)
        if self.spec.status_column:
            query = query.where(self._status() == self.spec.ready_value)
        elif mark is not None:
            query = query.where(self._key > self.key_value(mark))
        with translated(), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def close(self) -> None:
        self._engine.dispose()

    def _status(self) -> Column[Any]:
        if not self.spec.status_column:
            raise ConfigurationError(f"staging table {self.spec.table} has no status column configured")
        return self._table.c[self.spec.status_column]

    def _rows(self, query: Any) -> list[dict[str, Any]]:
        with translated(), self._engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def columns_of(mappings: Iterable[Mapping[str, str]], extra: Iterable[str]) -> frozenset[str]:
    """Every source column the per-kind mappings (canonical field -> column) read, plus ``extra``."""
    names = {column for fields in mappings for column in fields.values()}
    return frozenset(names | {e for e in extra if e})
