"""Many-row INSERTs in plain driver SQL, for the hot paths (an ERA records thousands of events and
subledger rows in one transaction, and SQLAlchemy's per-row parameter processing cost more than
SQLite's own work). Values are bound exactly as the schema's column types bind them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter

from sqlalchemy import Connection, Date, Dialect, Table

from revbridge.store.types import UtcDateTime

Convert = Callable[[object], object]


def utc_timestamp(dialect: str) -> Convert:
    """What UtcDateTime binds: naive UTC text on SQLite (SQLAlchemy's storage format), an aware
    UTC datetime on PostgreSQL. A naive datetime is refused, as the column type refuses it."""

    def convert(value: object) -> object:
        if not isinstance(value, datetime):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        if dialect == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    return convert


def _iso_date(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _same(value: object) -> object:
    return value


def _converter(table: Table, column: str, dialect: str) -> Convert:
    kind = table.c[column].type
    if isinstance(kind, UtcDateTime):
        return utc_timestamp(dialect)
    if isinstance(kind, Date) and dialect == "sqlite":
        return _iso_date
    return _same


class _Plan:
    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        mark = "?" if dialect.name == "sqlite" else "%s"
        quote = dialect.identifier_preparer.quote  # "key" and friends, whatever the backend reserves
        names = ", ".join(quote(c) for c in columns)
        self.statement = (
            f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([mark] * len(columns))})"
        )
        self.values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        converters = (_converter(table, c, dialect.name) for c in columns)
        self.convert = tuple((i, f) for i, f in enumerate(converters) if f is not _same)

    def params(self, rows: Sequence[Mapping[str, object]]) -> list[tuple[object, ...]]:
        if not self.convert:
            return [self.values(row) for row in rows]
        # The rows of one insert mostly share their timestamps: convert each value once.
        done: list[dict[object, object]] = [{} for _ in self.convert]
        params = []
        for row in rows:
            values = list(self.values(row))
            for (i, convert), seen in zip(self.convert, done, strict=True):
                value = values[i]
                found = seen.get(value, _MISSING)
                if found is _MISSING:
                    found = seen[value] = convert(value)
                values[i] = found
            params.append(tuple(values))
        return params


_MISSING = object()


_PLANS: dict[tuple[str, tuple[str, ...], str], _Plan] = {}


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """INSERT ``rows`` (all with the same keys) into ``table`` in one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    plan = _PLANS.get((table.name, columns, conn.dialect.name))
    if plan is None:
        plan = _PLANS[(table.name, columns, conn.dialect.name)] = _Plan(table, columns, conn.dialect)
    conn.exec_driver_sql(plan.statement, plan.params(rows))
