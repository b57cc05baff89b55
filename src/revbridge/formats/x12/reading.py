"""What the 835 and 837 readers share: locators, problems, and cached value reading.

A reader keeps the locator of the loop it is in (``ST[1]/2100[3]``) and counts segments by id
inside that loop, so any segment can be located as ``ST[1]/2100[3]/CAS[2]-6`` without keeping it;
the string is only built when something needs it (a problem, an adjustment's locator).

An ERROR problem sets ``blocked``: the 835 reader then withholds the whole transaction set and
the 837 reader the claim, and both stop building events that would be thrown away.

Values are read through small caches keyed by the element text; only checked values enter them.
Remittances repeat the same amounts (chargemaster prices, fee-schedule allowances, copays), dates
and codes thousands of times, so one immutable ``Money``/``date``/``str`` per distinct text saves
most of the parsing time and a good part of the memory of a large file. The caches are bounded and
cleared when full.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal

from revbridge.core.locator import SourceRef
from revbridge.core.money import Money, exponent
from revbridge.core.problem import Problem, ProblemCode, Severity
from revbridge.formats.base import ParseContext
from revbridge.formats.x12.envelope import TransactionHeader, element
from revbridge.formats.x12.values import ccyymmdd, decimal, procedure

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
__all__ = ["ERROR", "INFO", "WARNING", "Reading", "element", "intern", "patient_kind"]
_CACHE_SIZE = 4096


def _exact_amount(currency: str) -> re.Pattern[str]:
    """X12 type R with no non-zero digit below the currency's minor unit."""
    places = exponent(currency)
    if places == 0:
        return re.compile(r"-?(?:[0-9]+(?:\.0*)?|\.0+)")
    return re.compile(rf"-?(?:[0-9]+(?:\.[0-9]{{0,{places}}}0*)?|\.[0-9]{{1,{places}}}0*)")


class Reading:
    def __init__(self, header: TransactionHeader, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.tokenizer = ctx.tokenizer
        self.header = header
        self.delimiters = header.delimiters
        self.currency = ctx.default_currency
        self.message_id = ctx.message_id
        self.problems: list[Problem] = []
        self.blocked = False
        self.tolerated = False  # a stray component separator has been reported (once is enough)
        self.path = header.where
        self.seen: dict[str, int] = {}
        self._exact = _exact_amount(self.currency).fullmatch
        self.amounts: dict[str, Money] = {}  # read with .get() for the fast path; filled by amount()
        self._procedures: dict[str, str] = {}
        self._quantities: dict[str, Decimal] = {}
        self._dates: dict[str, date] = {}
        self.zero_money = Money(Decimal(0), self.currency)

    def enter(self, path: str) -> None:
        """Start a loop: segments are counted afresh inside it."""
        self.path = path
        self.seen = {}

    def count(self, sid: str) -> int:
        n = self.seen.get(sid, 0) + 1
        self.seen[sid] = n
        return n

    def at(self, sid: str, n: int, element: int | None = None) -> str:
        where = f"{self.path}/{sid}[{n}]"
        return where if element is None else f"{where}-{element}"

    def ref(self, locator: str) -> SourceRef:
        return SourceRef(self.message_id, locator)

    def problem(
        self,
        code: ProblemCode,
        message: str,
        locator: str,
        severity: Severity = ERROR,
        *,
        event_key: str | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        where = SourceRef(self.message_id, locator)
        self.problems.append(
            Problem(
                code=code,
                message=message,
                where=where,
                severity=severity,
                event_key=event_key,
                details=details,
            )
        )
        if severity is ERROR:
            self.blocked = True

    def attribute(self, start: int, key: str) -> None:
        """Name ``key`` as the event of every problem from ``start`` on that names none yet.

        Everything inside an 835 transaction set is about its remittance, and everything inside a
        CLM loop about that claim; the pipeline holds a whole message back only for errors that
        name no event, so a bad transaction set must not hide behind an anonymous problem.
        """
        problems = self.problems
        for n in range(start, len(problems)):
            if problems[n].event_key is None:
                problems[n] = replace(problems[n], event_key=key)

    def amount(
        self, el: list[str], n: int, seg: int, *, required: bool = True, severity: Severity = ERROR
    ) -> Money | None:
        """Element ``n`` of the ``seg``-th segment of its id in this loop, as Money; None (with a
        problem when it was required or is not a valid exact amount) otherwise."""
        text = el[n] if n < len(el) else ""
        found = self.amounts.get(text)
        if found is not None:
            return found
        if not text:
            if required:
                self.problem(
                    ProblemCode.MISSING_AMOUNT, f"{el[0]}{n:02d} is empty", self.at(el[0], seg, n), severity
                )
            return None
        if self._exact(text) is None:
            if decimal(text) is None:
                code, why = ProblemCode.INVALID_AMOUNT, "is not a decimal amount"
            else:
                code, why = ProblemCode.INEXACT_AMOUNT, f"has more decimal places than {self.currency} allows"
            self.problem(code, f"{el[0]}{n:02d} {why}", self.at(el[0], seg, n), severity)
            return None
        if len(self.amounts) >= _CACHE_SIZE:
            self.amounts.clear()
        found = self.amounts[text] = Money(Decimal(text), self.currency)
        return found

    def procedure(self, el: list[str], n: int, seg: int) -> str:
        """A procedure composite (SVC01, SV101, SV202) as "HC:99213:26"; see values.procedure."""
        text = el[n] if n < len(el) else ""
        found = self._procedures.get(text)
        if found is not None:
            return found
        found, tolerated = procedure(text, self.delimiters)
        if tolerated and not self.tolerated:
            self.tolerated = True
            message = (
                f"{el[0]}{n:02d} separates components with {text[2]!r} although ISA16 declares "
                f"{self.delimiters.component!r}; read with the separator used"
            )
            self.problem(ProblemCode.MALFORMED_SEGMENT, message, self.at(el[0], seg, n), INFO)
        if len(self._procedures) >= _CACHE_SIZE:
            self._procedures.clear()
        found = self._procedures[text] = sys.intern(found)
        return found

    def quantity(self, el: list[str], n: int, seg: int) -> Decimal | None:
        text = el[n] if n < len(el) else ""
        if not text:
            return None
        found = self._quantities.get(text)
        if found is None:
            found = decimal(text)
            if found is None:
                message = f"{el[0]}{n:02d} is not a decimal quantity"
                self.problem(ProblemCode.INVALID_VALUE, message, self.at(el[0], seg, n), WARNING)
                return None
            if len(self._quantities) >= _CACHE_SIZE:
                self._quantities.clear()
            self._quantities[text] = found
        return found

    def date(self, el: list[str], n: int, seg: int, severity: Severity = WARNING) -> date | None:
        text = el[n] if n < len(el) else ""
        found = self._dates.get(text)
        if found is None and text:
            found = ccyymmdd(text)
            if found is None:
                message = f"{el[0]}{n:02d} is not a CCYYMMDD date"
                self.problem(ProblemCode.INVALID_DATE, message, self.at(el[0], seg, n), severity)
                return None
            if len(self._dates) >= _CACHE_SIZE:
                self._dates.clear()
            self._dates[text] = found
        return found


# One shared string per distinct code (CAS groups and reasons, procedures, statuses).
intern = sys.intern

# Tokenizer kinds by NM108 identification code qualifier: the ones formats/hl7v2/identity.py
# uses, so a member id from an 835 and the same id from an ADT IN1 become the same token. MI
# member id, II unique health identifier, HN HIC number and any other qualifier are "member".
_KINDS = {"MR": "mrn", "34": "ssn"}


def patient_kind(qualifier: str) -> str:
    return _KINDS.get(qualifier, "member")
