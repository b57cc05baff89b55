"""SuiteQL as the NetSuite test ERP answers it: the one query shape the connector's ``held``
sends, evaluated over the records the books hold, paged as NetSuite pages a collection.

``POST /services/rest/query/v1/suiteql`` needs ``Prefer: transient`` and a body ``{"q": ...}``.
The query must select ``t.id, t.externalid, t.memo`` from ``transaction t`` where ``t.type`` is a
type, ``t.memo LIKE '...'`` (``%`` and ``_`` wildcards, an optional one-character ``ESCAPE``) and
``t.trandate BETWEEN TO_DATE(...) AND TO_DATE(...)``, ordered by ``t.id``; anything else is 400
``INVALID_PARAMETER``, as NetSuite answers a query it cannot parse. Every record held is a
``Journal``. ``limit`` (default and most 1000) and ``offset`` page the rows; the answer has
``links`` (self, next), ``count``, ``hasMore``, ``items``, ``offset`` and ``totalResults``, and
omits a column whose value is empty, as NetSuite does.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from netsuite_erp_books import Books, Record, detail, error_document

SUITEQL = "/services/rest/query/v1/suiteql"
_STRING = r"'((?:[^']|'')*)'"
_DATE = r"TO_DATE\('(\d{4}-\d\d-\d\d)', 'YYYY-MM-DD'\)"
_SHAPE = re.compile(
    r"SELECT t\.id, t\.externalid, t\.memo FROM transaction t"
    rf" WHERE t\.type = {_STRING} AND t\.memo LIKE {_STRING}(?: ESCAPE '(.)')?"
    rf" AND t\.trandate BETWEEN {_DATE} AND {_DATE} ORDER BY t\.id",
    re.IGNORECASE,
)


def _pattern(like: str, escape: str | None) -> re.Pattern[str]:
    """A SQL LIKE pattern as a regular expression (case-sensitive, as in NetSuite's database)."""
    out: list[str] = []
    chars = iter(like)
    for c in chars:
        if escape is not None and c == escape:
            out.append(re.escape(next(chars, "")))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


def _invalid(text: str) -> tuple[int, dict[str, Any]]:
    return 400, error_document(400, "Bad Request", [detail("INVALID_PARAMETER", text)])


def _row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {"links": [], "id": record.id}
    if record.external_id:
        row["externalid"] = record.external_id
    if record.body.get("memo"):
        row["memo"] = record.body["memo"]
    return row


def _matches(books: Books, shape: re.Match[str]) -> list[Record]:
    kind, like, escape, start, end = shape.groups()
    if kind.replace("''", "'") != "Journal":
        return []
    pattern = _pattern(like.replace("''", "'"), escape)
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    found = [
        r
        for r in books.all()
        if pattern.fullmatch(str(r.body.get("memo") or ""))
        and first <= date.fromisoformat(str(r.body.get("trandate"))) <= last
    ]
    return sorted(found, key=lambda r: int(r.id))


def suiteql(books: Books, base: str, prefer: str, raw: bytes, query: dict[str, list[str]]) -> tuple[int, Any]:
    """The answer to one SuiteQL request: a page of rows, or NetSuite's refusal."""
    if "transient" not in prefer:
        return _invalid("The request must contain the header Prefer: transient.")
    try:
        q = " ".join(str(json.loads(raw)["q"]).split())
        limit = int(query.get("limit", ["1000"])[0])
        offset = int(query.get("offset", ["0"])[0])
    except (ValueError, KeyError, TypeError):
        return _invalid("Invalid request body or paging parameters.")
    shape = _SHAPE.fullmatch(q)
    if shape is None:
        return _invalid(f"Invalid search query. Detailed unprocessed description follows. {q[:80]}")
    if not 1 <= limit <= 1000 or offset < 0:
        return _invalid("The limit must be between 1 and 1000 and the offset not negative.")
    rows = _matches(books, shape)
    page = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    links = [{"rel": "self", "href": f"{base}{SUITEQL}?limit={limit}&offset={offset}"}]
    if more:
        links.insert(0, {"rel": "next", "href": f"{base}{SUITEQL}?limit={limit}&offset={offset + limit}"})
    return 200, {
        "links": links,
        "count": len(page),
        "hasMore": more,
        "items": [_row(r) for r in page],
        "offset": offset,
        "totalResults": len(rows),
    }
