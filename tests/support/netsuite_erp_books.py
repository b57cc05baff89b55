"""What the NetSuite test ERP holds: subsidiaries, accounts, segments and periods from the chart,
the ``journalentry`` records it stored, and its asynchronous jobs.

``Books.problems`` refuses what NetSuite refuses, as ``o:errorDetails`` items: an unknown
subsidiary, currency, posting period, account or segment value is ``INVALID_KEY_OR_REF`` with an
``o:errorPath`` into the body (``line.items[i].account``); a date in a closed period, a line
without exactly one positive amount, a journal with fewer than two lines or whose debits and
credits differ is ``USER_ERROR``. ``upsert`` stores by external id: a second upsert of the same id
replaces the record's body and keeps its internal id, never a second record.

Internal ids: subsidiaries are numbered 1, 2, ... in the chart's sorted order, USD is currency 1,
accounts are their numbers unless ``account_ids`` renames them, segment values are their codes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from erp_chart import Chart

SEGMENTS = {
    "department": "cost_center",
    "class": "payer_class",
    "location": "facility",
    "custcol_service_line": "service_line",
}


def detail(code: str, text: str, path: str = "") -> dict[str, str]:
    item = {"detail": text, "o:errorCode": code}
    if path:
        item["o:errorPath"] = path
    return item


def error_document(status: int, title: str, details: list[dict[str, str]]) -> dict[str, Any]:
    """NetSuite's error answer (section_156570709583.html)."""
    return {
        "type": f"https://www.w3.org/Protocols/rfc9110.html#status.{status}",
        "title": title,
        "status": status,
        "o:errorDetails": details,
    }


@dataclass
class Record:
    id: str
    external_id: str
    body: dict[str, Any] = field(repr=False)
    versions: int = 1


@dataclass
class Job:
    id: str
    external_id: str
    body: dict[str, Any] = field(repr=False)
    key: str
    polls_needed: int | None  # None: never finishes
    polls: int = 0
    outcome: tuple[int, dict[str, Any] | None, str] | None = None  # status, error body, record href


class Books:
    def __init__(self, chart: Chart, *, account_ids: Mapping[str, str] | None = None) -> None:
        self.chart = chart
        self.subsidiaries = {le: str(n) for n, le in enumerate(sorted(chart.legal_entities), start=1)}
        self.currencies = {"1": "USD"}
        self.account_ids = {number: (account_ids or {}).get(number, number) for number in chart.accounts}
        self._lock = threading.Lock()
        self.records: dict[str, Record] = {}  # by external id
        self._next_id = 100

    # -- validation --------------------------------------------------------------------------------

    def problems(self, external_id: str, body: Any) -> list[dict[str, str]]:
        if not isinstance(body, dict):
            return [detail("INVALID_CONTENT", "The request body is not a JSON object.")]
        if body.get("externalId") not in (None, external_id):
            return [
                detail(
                    "USER_ERROR", "The externalId in the body differs from the one in the URL.", "externalId"
                )
            ]
        found = self._header_problems(body)
        items = (body.get("line") or {}).get("items")
        if not isinstance(items, list) or len(items) < 2:
            return [*found, detail("USER_ERROR", "You must enter at least two line items.", "line.items")]
        for n, item in enumerate(items):
            found.extend(self._line_problems(n, item))
        if found:
            return found
        debits = sum((item.get("debit", Decimal(0)) for item in items), Decimal(0))
        credits = sum((item.get("credit", Decimal(0)) for item in items), Decimal(0))
        if debits != credits:
            return [detail("USER_ERROR", "The total debits and credits must be equal.", "line.items")]
        return []

    def _header_problems(self, body: dict[str, Any]) -> list[dict[str, str]]:
        found = []
        subsidiary = _id(body.get("subsidiary"))
        legal_entity = {v: k for k, v in self.subsidiaries.items()}.get(subsidiary)
        if legal_entity is None:
            found.append(_invalid(subsidiary, "subsidiary", "subsidiary"))
        if _id(body.get("currency")) not in self.currencies:
            found.append(_invalid(_id(body.get("currency")), "currency", "currency"))
        trandate = str(body.get("trandate") or "")
        period = _id(body.get("postingperiod")) or trandate[:7]
        if len(period) != 7 or period[4] != "-":
            found.append(_invalid(period, "postingperiod", "postingperiod"))
        elif legal_entity is not None and not self.chart.is_open(legal_entity, period):
            found.append(detail("USER_ERROR", f"The accounting period {period} is closed.", "postingperiod"))
        return found

    def _line_problems(self, n: int, item: Any) -> list[dict[str, str]]:
        where = f"line.items[{n}]"
        if not isinstance(item, dict):
            return [detail("INVALID_CONTENT", "A line item is not a JSON object.", where)]
        found = []
        account = _id(item.get("account"))
        if account not in self.account_ids.values():
            found.append(_invalid(account, "account", f"{where}.account"))
        for segment, dimension in SEGMENTS.items():
            if segment in item and _id(item[segment]) not in self.chart.dimension(dimension):
                found.append(_invalid(_id(item[segment]), segment, f"{where}.{segment}"))
        amounts = [item.get(side) for side in ("debit", "credit") if side in item]
        if len(amounts) != 1 or not isinstance(amounts[0], Decimal | int) or amounts[0] <= 0:
            found.append(detail("USER_ERROR", "Each line needs either a debit or a credit amount.", where))
        return found

    # -- records -----------------------------------------------------------------------------------

    def upsert(self, external_id: str, body: dict[str, Any]) -> Record:
        with self._lock:
            record = self.records.get(external_id)
            if record is None:
                self._next_id += 1
                record = Record(id=str(self._next_id), external_id=external_id, body=body)
                self.records[external_id] = record
            else:
                record.body = body
                record.versions += 1
            return record

    def enter(self, body: dict[str, Any]) -> Record:
        """A record typed into NetSuite's UI: no external id, held under ``#<internal id>``."""
        with self._lock:
            self._next_id += 1
            record = Record(id=str(self._next_id), external_id="", body=body)
            self.records[f"#{record.id}"] = record
            return record

    def all(self) -> list[Record]:
        with self._lock:
            return list(self.records.values())

    def by_id(self, internal_id: str) -> Record | None:
        with self._lock:
            return next((r for r in self.records.values() if r.id == internal_id), None)

    def find(self, external_id: str) -> Record | None:
        with self._lock:
            return self.records.get(external_id.lower()) or self.records.get(external_id)

    def as_json(self, record: Record, base: str, *, expand: bool) -> dict[str, Any]:
        body = {k: v for k, v in record.body.items() if k != "line"}
        body |= (
            {"id": record.id, "externalId": record.external_id} if record.external_id else {"id": record.id}
        )
        href = f"{base}/services/rest/record/v1/journalentry/{record.id}"
        body["links"] = [{"rel": "self", "href": href}]
        if expand:
            body["line"] = {
                "items": [dict(item, line=n) for n, item in enumerate(record.body["line"]["items"])]
            }
        else:
            body["line"] = {"links": [{"rel": "self", "href": f"{href}/line"}]}
        return body

    def balances(self) -> dict[str, Decimal]:
        """Net (debit positive) per NetSuite account id over every record held."""
        net: dict[str, Decimal] = {}
        with self._lock:
            for record in self.records.values():
                for item in record.body["line"]["items"]:
                    account = _id(item["account"])
                    net[account] = net.get(account, Decimal(0)) + item.get("debit", 0) - item.get("credit", 0)
        return {k: v for k, v in net.items() if v != 0}


def _id(value: Any) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else ""


def _invalid(value: str, name: str, path: str) -> dict[str, str]:
    return detail("INVALID_KEY_OR_REF", f"Invalid Field Value {value} for the following field: {name}", path)
