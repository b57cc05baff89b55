"""The ``journalentry`` record as NetSuite's REST web services take and give it, and its errors.

Pure functions, no HTTP: a ``Journal`` becomes the JSON body of an upsert (exact decimal amounts,
references ``{"id": ...}`` mapped by the settings), an error answer becomes the ERP's own words
and the journal lines it named, and a record read back becomes an ``ErpJournal`` in our account
numbers. The body carries accounts, amounts, segments, the date and the journal id: never event
keys or anything else that could identify a patient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from revbridge.connectors.base import ErpAmount, ErpJournal
from revbridge.connectors.exports import ExportLine, exact_lines
from revbridge.ledger.journal import Journal

if TYPE_CHECKING:
    from revbridge.connectors.netsuite import NetsuiteSettings

_LINE_PATH = re.compile(r"line\.items\[(\d+)\]")


def encode(value: Any) -> str:
    """JSON text with every Decimal written as its exact digits (json.dumps would need floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def _ref(value: str) -> dict[str, str]:
    return {"id": value}


def _line(line: ExportLine, settings: NetsuiteSettings) -> dict[str, Any]:
    item: dict[str, Any] = {"account": _ref(settings.accounts.get(line.account, line.account))}
    if line.debit:
        item["debit"] = line.debit
    if line.credit:
        item["credit"] = line.credit
    for field, dimension in settings.segments.items():
        value = getattr(line, dimension)
        if value:  # blank: no value, NetSuite leaves the segment empty
            item[field] = _ref(settings.dimension_values(dimension).get(value, value))
    item["memo"] = line.role.value
    return item


def journal_entry(journal: Journal, settings: NetsuiteSettings) -> dict[str, Any]:
    """The upsert body (erp-apis.md A.6); lines in our order, so ``line.items[i]`` is line i+1."""
    lines = exact_lines(journal)
    currency = journal.currencies[0]
    body: dict[str, Any] = {
        "externalId": journal.id,
        "subsidiary": _ref(settings.subsidiaries.get(journal.legal_entity, journal.legal_entity)),
        "currency": _ref(settings.currencies.get(currency, currency)),
        "trandate": journal.posting_date.isoformat(),
    }
    period = settings.posting_periods.get(journal.posting_date.strftime("%Y-%m"))
    if period:  # else NetSuite takes the period of trandate
        body["postingperiod"] = _ref(period)
    body["memo"] = f"{settings.memo_prefix} {journal.lane.value} {journal.id[:12]}".strip()
    body["line"] = {"items": [_line(line, settings) for line in lines]}
    return body


def error_words(body: Any) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    """From NetSuite's error document (``title``, ``o:errorDetails``): its words, its error codes
    and our 1-based line numbers for each ``o:errorPath`` into ``line.items[i]`` (0-based)."""
    if not isinstance(body, dict):
        return "", (), ()
    words: list[str] = []
    codes: list[str] = []
    lines: set[int] = set()
    for item in body.get("o:errorDetails") or []:
        if not isinstance(item, dict):
            continue
        code = str(item.get("o:errorCode") or "")
        codes.append(code)
        words.append(f"{code}: {item.get('detail', '')}" if code else str(item.get("detail", "")))
        found = _LINE_PATH.search(str(item.get("o:errorPath") or ""))
        if found:
            lines.add(int(found.group(1)) + 1)
    if not words and body.get("title"):
        words.append(str(body["title"]))
    return " ".join("; ".join(words).split())[:500], tuple(codes), tuple(sorted(lines))


def _inverse(mapping: Mapping[str, str]) -> dict[str, str]:
    return {erp: ours for ours, erp in mapping.items()}


def _id(value: Any) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else ""


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def read_back(reference: str, record: Any, settings: NetsuiteSettings) -> ErpJournal | None:
    """A record read with ``expandSubResources=true`` in our terms, or None if it is not one."""
    if not isinstance(record, dict):
        return None
    accounts = _inverse(settings.accounts)
    currencies = _inverse(settings.currencies)
    currency_id = _id(record.get("currency"))
    currency = currencies.get(currency_id, currency_id)
    sublist = record.get("line")
    items = sublist.get("items") or [] if isinstance(sublist, dict) else []
    lines = tuple(
        ErpAmount(
            account=accounts.get(_id(item.get("account")), _id(item.get("account"))),
            debit=_amount(item.get("debit")),
            credit=_amount(item.get("credit")),
            currency=currency,
        )
        for item in items
        if isinstance(item, dict)
    )
    subsidiary = _id(record.get("subsidiary"))
    return ErpJournal(
        reference=reference,
        document=str(record.get("id", "")),
        legal_entity=_inverse(settings.subsidiaries).get(subsidiary, subsidiary),
        posting_date=_date(record.get("trandate")),
        lines=lines,
    )


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
