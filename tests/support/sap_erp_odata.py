"""The OData V2 subset of API_JOURNALENTRYITEMBASIC_SRV the SAP test system serves.

``$filter`` with ``eq``/``ge``/``le`` comparisons of a property with a string literal
(``'...'``) or a ``datetime'YYYY-MM-DDThh:mm:ss'`` literal, ``startswith(Property,'...') eq
true``, ``and``/``or`` and parentheses (the OData V2 URI conventions, section 4.5); ``$select``;
``$format=json``; server-driven paging with ``$skiptoken`` and ``d.__next``. Dates are answered as
OData V2 does in JSON: ``/Date(<ms since 1970>)/``. A filter outside this subset, or naming a
property the entity does not have, is refused with 400 and an OData error, as SAP Gateway does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

PROPERTIES = frozenset(
    {
        "CompanyCode", "FiscalYear", "AccountingDocument", "AccountingDocumentItem", "Ledger",
        "DocumentReferenceID", "AccountingDocumentHeaderText", "GLAccount", "AmountInTransactionCurrency",
        "TransactionCurrency", "DebitCreditCode", "PostingDate", "ProfitCenter", "CostCenter", "Segment",
    }
)  # fmt: skip
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<comma>,)|datetime'(?P<dt>[^']*)'|'(?P<str>(?:[^']|'')*)'|(?P<word>[A-Za-z_]+))"
)
Predicate = Callable[[dict[str, Any]], bool]


class ODataError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ODataError(f"Invalid token at position {at}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        found.append((kind, value.replace("''", "'") if kind == "str" else value))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def take(self, kind: str, value: str | None = None) -> str:
        got = self.peek()
        if got[0] != kind or (value is not None and got[1] != value):
            raise ODataError(f"Expected {value or kind}, found {got[1] or got[0]}")
        self.at += 1
        return got[1]

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take("word")
            right, before = self.conjunction(), left
            left = lambda row, a=before, b=right: a(row) or b(row)  # noqa: E731
        return left

    def conjunction(self) -> Predicate:
        left = self.term()
        while self.peek() == ("word", "and"):
            self.take("word")
            right, before = self.term(), left
            left = lambda row, a=before, b=right: a(row) and b(row)  # noqa: E731
        return left

    def term(self) -> Predicate:
        if self.peek()[0] == "open":
            self.take("open")
            inner = self.expression()
            self.take("close")
            return inner
        name = self.take("word")
        if name == "startswith":
            return self._startswith()
        _property(name)
        operator = self.take("word")
        kind, value = self.peek()
        if kind not in ("str", "dt"):
            raise ODataError(f"Expected a literal after {operator}")
        self.at += 1
        compare = {"eq": lambda a, b: a == b, "ge": lambda a, b: a >= b, "le": lambda a, b: a <= b}.get(
            operator
        )
        if compare is None:
            raise ODataError(f"Operator {operator} is not supported")
        wanted = value[:10] if kind == "dt" else value
        return lambda row: bool(compare(str(row.get(name, "")), wanted))

    def _startswith(self) -> Predicate:
        self.take("open")
        name = _property(self.take("word"))
        self.take("comma")
        prefix = self.take("str")
        self.take("close")
        self.take("word", "eq")
        self.take("word", "true")
        return lambda row: str(row.get(name, "")).startswith(prefix)


def _property(name: str) -> str:
    if name not in PROPERTIES:
        raise ODataError(f"Property {name} not found in type A_JournalEntryItemBasicType")
    return name


def _json_date(day: str) -> str:
    moment = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)})/"


def query(rows: list[dict[str, Any]], params: dict[str, str], url: str, page_size: int) -> dict[str, Any]:
    """The ``d`` answer for a query of the entity set; raises ODataError for what SAP refuses."""
    predicate = _Parser(params["$filter"]).expression() if params.get("$filter") else (lambda _row: True)
    selected = params.get("$select", "")
    fields = [_property(f) for f in selected.split(",")] if selected else sorted(PROPERTIES)
    matching = [row for row in rows if predicate(row)]
    skip = int(params.get("$skiptoken") or 0)
    page = matching[skip : skip + page_size]
    results = [
        {f: (_json_date(row[f]) if f == "PostingDate" else row.get(f, "")) for f in fields} for row in page
    ]
    answer: dict[str, Any] = {"results": results}
    if skip + page_size < len(matching):
        answer["__next"] = url + "?" + urlencode({**params, "$skiptoken": str(skip + page_size)})
    return answer
