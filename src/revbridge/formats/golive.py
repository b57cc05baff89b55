"""The go-live opening-balance file: open receivables at cut-over, one row per patient account.

A patient-accounting system's aged trial balance exported as CSV (docs/golive.md): the header
names the columns ``legal_entity, facility, payer_class, account, amount`` in any order. This
module only reads and checks the file's own shape (every row complete, amounts exact to the cent,
no account twice for the same payer class); whether the codes exist is master data's question
(rules/golive.py). It reads everything before answering, so a bad file yields every error with its
CSV line number and no rows. Account numbers are kept as sent, like the visit and claim numbers
the other formats keep; the errors never quote them (they are PHI-adjacent).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

COLUMNS = ("legal_entity", "facility", "payer_class", "account", "amount")
MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class OpeningRow:
    line: int  # the CSV line number, for errors found later against master data
    legal_entity: str
    facility: str
    payer_class: str
    account: str
    amount: Decimal  # signed: a credit balance is negative


@dataclass(frozen=True, slots=True, kw_only=True)
class OpeningFile:
    rows: tuple[OpeningRow, ...]
    errors: tuple[str, ...]  # one line each, "line N: ..."


def parse(text: str) -> OpeningFile:
    """Every row of the file, or every error in it (then no rows)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        return OpeningFile(rows=(), errors=("line 1: the file is empty; expected a header row",))
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        wanted = ", ".join(COLUMNS)
        return OpeningFile(rows=(), errors=(f"line 1: the header must name exactly {wanted}",))
    index = {name: names.index(name) for name in COLUMNS}
    rows: list[OpeningRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(f"line {number}: more than {MAX_ROWS} rows")
            break
        found = _row(number, record, index)
        if isinstance(found, str):
            errors.append(found)
            continue
        key = (found.facility, found.payer_class, found.account)
        if key in seen:
            errors.append(f"line {number}: the same account and payer class as line {seen[key]}")
            continue
        seen[key] = number
        rows.append(found)
    if not rows and not errors:
        errors.append("line 2: the file has a header but no rows")
    return OpeningFile(rows=() if errors else tuple(rows), errors=tuple(errors))


def _row(number: int, record: list[str], index: dict[str, int]) -> OpeningRow | str:
    if len(record) != len(index):
        return f"line {number}: {len(record)} fields, the header has {len(index)}"
    cells = {name: record[i].strip() for name, i in index.items()}
    empty = [name for name, value in cells.items() if not value]
    if empty:
        return f"line {number}: {', '.join(empty)} is empty"
    amount = _amount(cells["amount"])
    if amount is None:
        return f"line {number}: amount is not a decimal number with at most 2 decimal places"
    if amount == 0:
        return f"line {number}: amount is zero"
    return OpeningRow(
        line=number,
        legal_entity=cells["legal_entity"],
        facility=cells["facility"],
        payer_class=cells["payer_class"],
        account=cells["account"],
        amount=amount,
    )


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return value
