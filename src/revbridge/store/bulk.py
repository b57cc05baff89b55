"""Many-row INSERTs in plain driver SQL, for the hot paths (an ERA records thousands of events and
subledger rows in one transaction, and SQLAlchemy's per-row parameter processing cost more than
SQLite's own work). Values go through the column types' own bind processors for the dialect, so
they are bound exactly as a Core INSERT would bind them; only the per-row overhead is gone."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter

from sqlalchemy import Connection, Dialect, Table

Convert = Callable[[object], object]


def placeholder(dialect: Dialect) -> str:
    """The driver's parameter marker: qmark for sqlite3, format for psycopg."""
    return "?" if dialect.name == "sqlite" else "%s"


class _Plan:
    def __init__(self, table: Table, columns: tuple[str, ...], dialect: Dialect) -> None:
        mark = placeholder(dialect)
        quote = dialect.identifier_preparer.quote  # "key" and friends, whatever the backend reserves
        names = ", ".join(quote(c) for c in columns)
        self.statement = (
            f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join([mark] * len(columns))})"
        )
        self.values = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        processors = (table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
        self.convert: tuple[tuple[int, Convert], ...] = tuple(
            (i, f) for i, f in enumerate(processors) if f is not None
        )

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
