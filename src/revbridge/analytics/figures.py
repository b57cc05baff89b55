"""What a report returns: named tables of plain values, and the period buckets they group by.

A ``Table`` is columns and rows of str, int or Decimal (money to the cent, shares and rates to
four places), so one shape serves ``--json`` (decimals as strings), ``--csv`` (one file, a
``table`` column first), the terminal and the workbench's charts alike.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

Value = str | int | Decimal
CENT = Decimal("0.01")
SHARE = Decimal("0.0001")


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def bucket(day: date, by: Period) -> str:
    """The period ``day`` falls in: ``2025-03-03``, ``2025-W10`` (ISO week) or ``2025-03``."""
    match by:
        case Period.DAY:
            return day.isoformat()
        case Period.WEEK:
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        case Period.MONTH:
            return f"{day.year}-{day.month:02d}"


def days_between(start: date, end: date) -> int:
    """Calendar days from ``start`` to ``end``, both included."""
    return (end - start).days + 1


def each_day(start: date, end: date) -> Iterable[date]:
    for n in range(days_between(start, end)):
        yield start + timedelta(days=n)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def ratio(part: Decimal | int, whole: Decimal | int) -> Decimal:
    """``part / whole`` to four places; 0 when there is no whole to divide."""
    if not whole:
        return Decimal(0).quantize(SHARE)
    return (Decimal(part) / Decimal(whole)).quantize(SHARE, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    name: str  # machine name: the JSON key and the CSV ``table`` column
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]

    def records(self) -> list[dict[str, Value]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Value]:
        at = self.columns.index(name)
        return [row[at] for row in self.rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    report: str
    start: date
    end: date
    by: Period
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def as_json(self) -> dict[str, object]:
        return {
            "report": self.report,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "by": self.by.value,
            "tables": {t.name: [_jsonable(r) for r in t.records()] for t in self.tables},
            "notes": list(self.notes),
        }

    def as_csv(self) -> str:
        """Every table in one CSV: ``table`` first, then the union of the columns in order."""
        columns: list[str] = []
        for t in self.tables:
            columns.extend(c for c in t.columns if c not in columns)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["table", *columns])
        for t in self.tables:
            for record in t.records():
                writer.writerow([t.name, *(str(record.get(c, "")) for c in columns)])
        return out.getvalue()


def _jsonable(record: Mapping[str, Value]) -> dict[str, str | int]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in record.items()}
