"""Reading X12 simple data types (R amounts and decimals, DT dates) and composites.

Every reader returns ``None`` for a value it cannot read, and the caller turns that into a located
problem: what went wrong depends on where the value was. Values are never echoed into problem
messages from here, because a misaligned element can put a patient's name where an amount belongs.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from revbridge.core.money import exponent
from revbridge.formats.x12.segments import Delimiters

# X12 type R: optional minus, digits, optional decimal point. No exponent, no plus sign, no spaces
# (Decimal itself would take "1e3", "NaN" and "1_000").
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")

# Separators a sender may use inside SVC01/SV101/SV202 when they forget ISA16 (see __init__.py).
_STRAY_COMPONENT = frozenset(">:^|\\!}")


def decimal(text: str) -> Decimal | None:
    if _DECIMAL.fullmatch(text) is None:
        return None
    return Decimal(text)


def is_exact(text: str, currency: str) -> bool:
    """True when ``text`` (already a valid R value) has no non-zero digit below the minor unit."""
    dot = text.find(".")
    if dot < 0:
        return True
    extra = text[dot + 1 + exponent(currency) :]
    return not extra or extra.strip("0") == ""


def ccyymmdd(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def period_start(qualifier: str, text: str) -> date | None:
    """A DTP date: D8 CCYYMMDD or the first date of an RD8 CCYYMMDD-CCYYMMDD range."""
    if qualifier == "RD8":
        return ccyymmdd(text[:8]) if len(text) == 17 and text[8] == "-" else None
    return ccyymmdd(text)


def procedure(text: str, delimiters: Delimiters) -> tuple[str, bool]:
    """A procedure composite (SVC01, SV101, SV202) as "HC:99213:26", and whether a stray separator
    was tolerated.

    The composite starts with a two-character product/service id qualifier (HC, AD, ER, IV, N4,
    NU, WK, ZZ...). When the declared component separator does not occur but the third character
    is punctuation, that character is the separator the sender really used.
    """
    comp = delimiters.component
    if comp in text or len(text) < 4:
        return (text if comp == ":" else text.replace(comp, ":")), False
    stray = text[2]
    if stray in _STRAY_COMPONENT and text[:2].isalnum() and stray != delimiters.element:
        return text.replace(stray, ":"), True
    return text, False
