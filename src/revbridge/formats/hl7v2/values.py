"""Reading HL7 v2 data types that carry money, quantities and dates (v2.5 section 2.A).

Each reader returns the value or a short PHI-free reason; callers turn reasons into located
problems. Values read here never appear in problem text: a garbled field may hold anything,
including a shifted name or date of birth, so reasons describe the shape, not the content.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from revbridge.core.money import CURRENCY_EXPONENT

# DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. A business date needs the day.
_DTM = re.compile(
    r"(\d{4})(\d{2})(\d{2})"
    r"(?:(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,4})?)?)?)?"
    r"(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?"
)
# NM: an optional sign, digits, an optional decimal point (HL7 v2.5 section 2.A.47).
_NM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_CODE = re.compile(r"[A-Za-z0-9]{1,3}")


def read_date(value: str) -> date | str:
    """The calendar date of a DT/DTM/TS value as the sender wrote it (its own time zone)."""
    found = _DTM.fullmatch(value.strip())
    if found is None:
        return "not a date of the form YYYYMMDD[HHMM[SS]][+ZZZZ]"
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return "not a calendar date"


def read_number(value: str) -> Decimal | str:
    """An NM value: optional sign, digits and decimal point only (no exponents, no commas)."""
    text = value.strip()
    if _NM.fullmatch(text) is None:
        return "not a decimal number"
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return "not a decimal number"


def read_currency(code: str, default: str) -> str | None:
    """The currency code if it is one we can hold; ``default`` when none was sent."""
    code = code.strip().upper()
    if not code:
        return default
    return code if code in CURRENCY_EXPONENT else None


def looks_like_currency(code: str) -> bool:
    code = code.strip()
    return len(code) == 3 and code.isascii() and code.isalpha()


def shown(code: str) -> str:
    """A code as it may appear in problem text: short codes only (message types, transaction
    types); anything longer or odd is described, never echoed."""
    return repr(code) if _CODE.fullmatch(code) else f"a value of {len(code)} characters"
