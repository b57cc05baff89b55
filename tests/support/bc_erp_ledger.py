"""What the test Business Central holds and the rules it enforces, apart from HTTP (bc_erp.py).

One company per legal entity of the chart (ids are GUIDs), each with its general journal batches,
their lines and dimension set lines, and the G/L entries posted. BC's rules, with BC's wording:
- a journal batch code is unique (``Internal_EntityWithSameKeyExists``) and at most 10 characters;
- a journal line's account must exist (``Internal_RecordNotFound``: "The G/L Account does not
  exist."), Code fields are upper-cased and bounded (documentNumber 20, externalDocumentNumber 35);
- a dimension set line's code and value must exist (``Internal_RecordNotFound``);
- posting (``Microsoft.NAV.post``) refuses, as ``Application_DialogException``, a line dated in a
  closed period ("... is not within your range of allowed posting dates ...", naming the line)
  and a document number whose lines do not sum to zero ("Document No. ... is out of balance");
  a posted batch is emptied and its lines become G/L entries.
BC does NOT dedupe on documentNumber or externalDocumentNumber: posting the same lines twice makes
two sets of entries, which is what the connector's lookups must prevent.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from erp_chart import Chart

DIMENSION_CODES = {
    "DEPARTMENT": "cost_center",
    "PAYERCLASS": "payer_class",
    "FACILITY": "facility",
    "SERVICELINE": "service_line",
}
CODE_LENGTHS = {"accountNumber": 20, "documentNumber": 20, "externalDocumentNumber": 35}


class BcError(Exception):
    """An answer BC gives instead of a success: status and its OData error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": f"{self.message}  CorrelationId:  {uuid.uuid4()}."}}


@dataclass
class Batch:
    id: str
    code: str
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # line id -> line
    dimensions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # line id -> set lines


@dataclass
class Company:
    id: str
    name: str
    batches: dict[str, Batch] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)


class Ledger:
    def __init__(self, chart: Chart, *, page_size: int = 20000) -> None:
        self.chart = chart
        self.page_size = page_size  # entries per page of a collection (BC online: 20,000)
        self.accounts = {a.upper() for a in chart.accounts}
        self.values = {
            code: {v.upper() for v in chart.dimension(name)} for code, name in DIMENSION_CODES.items()
        }
        self.companies = {
            c.id: c for c in (Company(id=str(uuid.uuid4()), name=le) for le in sorted(chart.legal_entities))
        }
        self.next_entry = 1

    def snapshot(self) -> dict[str, Company]:
        return copy.deepcopy(self.companies)

    def restore(self, saved: dict[str, Company]) -> None:
        self.companies = saved

    # -- resources ---------------------------------------------------------------------------------

    def company(self, company_id: str) -> Company:
        if company_id not in self.companies:
            raise BcError(404, "BadRequest_ResourceNotFound", f"The company '{company_id}' does not exist.")
        return self.companies[company_id]

    def batch(self, company: Company, batch_id: str) -> Batch:
        if batch_id not in company.batches:
            raise BcError(404, "BadRequest_ResourceNotFound", "The journal does not exist.")
        return company.batches[batch_id]

    def create_batch(self, company: Company, body: dict[str, Any]) -> dict[str, Any]:
        code = str(body.get("code", "")).upper()
        if not code or len(code) > 10:
            raise BcError(
                400,
                "Application_StringExceededLength",
                f"The length of the string is {len(code)}, "
                f"but it must be less than or equal to 10 characters. Value: {code}",
            )
        if any(b.code == code for b in company.batches.values()):
            raise BcError(
                400,
                "Internal_EntityWithSameKeyExists",
                "The General Journal Batch already exists. "
                f"Identification fields and values: Journal Template Name='GENERAL',Name='{code}'",
            )
        batch = Batch(id=str(uuid.uuid4()), code=code)
        company.batches[batch.id] = batch
        return self.batch_view(batch, expand=False)

    def batch_view(self, batch: Batch, *, expand: bool) -> dict[str, Any]:
        view: dict[str, Any] = {"id": batch.id, "code": batch.code, "displayName": batch.code}
        if expand:
            view["journalLines"] = [dict(line) for line in batch.lines.values()]
        return view

    def create_line(self, batch: Batch, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("accountType", "G/L Account") != "G/L Account":
            raise BcError(400, "BadRequest", "Only G/L Account lines are supported by this test ERP.")
        line: dict[str, Any] = {"id": str(uuid.uuid4()), "journalId": batch.id}
        for name, limit in CODE_LENGTHS.items():
            value = str(body.get(name, "")).upper()
            if len(value) > limit:
                raise BcError(
                    400,
                    "Application_StringExceededLength",
                    f"The length of the string is "
                    f"{len(value)}, but it must be less than or equal to {limit} characters. Value: {value}",
                )
            line[name] = value
        if line["accountNumber"] not in self.accounts:
            raise BcError(
                400,
                "Internal_RecordNotFound",
                "The G/L Account does not exist. "
                f"Identification fields and values: No.='{line['accountNumber']}'",
            )
        amount = body.get("amount")
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
            raise BcError(400, "BadRequest", "Invalid value for amount: a decimal number is required.")
        number = body.get("lineNumber") or (len(batch.lines) + 1) * 10000
        description = str(body.get("description", ""))[:100]
        line |= {
            "lineNumber": number,
            "accountType": "G/L Account",
            "postingDate": str(body.get("postingDate")),
            "amount": Decimal(amount),
            "description": description,
        }
        batch.lines[line["id"]] = line
        batch.dimensions[line["id"]] = []
        return dict(line)

    def create_dimension(self, batch: Batch, line_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if line_id not in batch.lines:
            raise BcError(404, "BadRequest_ResourceNotFound", "The journal line does not exist.")
        code, value = str(body.get("code", "")).upper(), str(body.get("valueCode", "")).upper()
        if code not in self.values:
            raise BcError(
                400,
                "Internal_RecordNotFound",
                f"The Dimension does not exist. Identification fields and values: Code='{code}'",
            )
        if value not in self.values[code]:
            raise BcError(
                400,
                "Internal_RecordNotFound",
                "The Dimension Value does not exist. "
                f"Identification fields and values: Dimension Code='{code}',Code='{value}'",
            )
        existing = batch.dimensions[line_id]
        if any(d["code"] == code for d in existing):
            raise BcError(400, "Internal_EntityWithSameKeyExists", f"The dimension {code} is already set.")
        entry = {"id": str(uuid.uuid4()), "code": code, "valueCode": value, "parentId": line_id}
        existing.append(entry)
        return dict(entry)

    # -- posting -----------------------------------------------------------------------------------

    def post(self, company: Company, batch: Batch) -> None:
        """Microsoft.NAV.post: all lines or none, BC's checks first."""
        lines = sorted(batch.lines.values(), key=lambda line: line["lineNumber"])
        if not lines:
            raise BcError(400, "Application_DialogException", "There is nothing to post.")
        for line in lines:
            if not self.chart.is_open(company.name, line["postingDate"][:7]):
                raise BcError(
                    400,
                    "Application_DialogException",
                    "Posting Date is not within your range of "
                    "allowed posting dates in Gen. Journal Line Journal Template Name='GENERAL',"
                    f"Journal Batch Name='{batch.code}',Line No.='{line['lineNumber']}'.",
                )
        totals: dict[tuple[str, str], Decimal] = {}
        for line in lines:
            key = (line["documentNumber"], line["postingDate"])
            totals[key] = totals.get(key, Decimal(0)) + line["amount"]
        for (document, _), total in totals.items():
            if total != 0:
                raise BcError(
                    400,
                    "Application_DialogException",
                    f"Document No. {document} is out of balance "
                    f"by {total}. Please check that Posting Date, Document Type, Document No. and "
                    "Currency Code are correct for each line.",
                )
        for line in lines:
            self._enter(company, line, batch.dimensions.get(line["id"], []))
        batch.lines.clear()
        batch.dimensions.clear()

    def _enter(self, company: Company, line: dict[str, Any], dimensions: list[dict[str, Any]]) -> None:
        amount: Decimal = line["amount"]
        company.entries.append(
            {
                "id": str(uuid.uuid4()),
                "entryNumber": self.next_entry,
                "postingDate": line["postingDate"],
                "documentNumber": line["documentNumber"],
                "documentType": " ",
                "accountNumber": line["accountNumber"],
                "description": line["description"],
                "debitAmount": amount if amount > 0 else Decimal(0),
                "creditAmount": -amount if amount < 0 else Decimal(0),
                # not in the v2.0 generalLedgerEntries API: kept for the tests only
                "_externalDocumentNumber": line["externalDocumentNumber"],
                "_dimensions": {d["code"]: d["valueCode"] for d in dimensions},
            }
        )
        self.next_entry += 1


_EQ = re.compile(r"^(\w+) eq '((?:[^']|'')*)'$")
_STARTS = re.compile(r"^startswith\((\w+),'((?:[^']|'')*)'\)$")
_COMPARE = re.compile(r"^(\w+) (eq|ne|ge|gt|le|lt) (\d{4}-\d{2}-\d{2})$")  # Edm.Date literals, unquoted
_ORDER: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


def _term(part: str, text: str) -> Callable[[dict[str, Any]], bool]:
    """One comparison: ``f eq 'v'``, ``startswith(f,'v')`` or a date compared (``postingDate ge
    2026-06-01``; ISO dates order as strings); anything else is refused as BC refuses it."""
    if (eq := _EQ.match(part)) is not None:
        name, value = eq.group(1), eq.group(2).replace("''", "'")
        return lambda item: str(item.get(name, "")) == value
    if (starts := _STARTS.match(part)) is not None:
        name, value = starts.group(1), starts.group(2).replace("''", "'")
        return lambda item: str(item.get(name, "")).startswith(value)
    if (compare := _COMPARE.match(part)) is not None:
        name, test, value = compare.group(1), _ORDER[compare.group(2)], compare.group(3)
        return lambda item: test(str(item.get(name, ""))[:10], value)
    raise BcError(400, "BadRequest", f"The filter expression '{text}' is not supported.")


def odata_filter(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """The part of OData $filter the connector uses: terms (``_term``) joined by ``and``, those
    joined by ``or`` (``and`` binds tighter, as in OData), no parentheses."""
    if not text:
        return lambda item: True
    alternatives = [
        [_term(part.strip(), text) for part in alternative.split(" and ")]
        for alternative in text.split(" or ")
    ]
    return lambda item: any(all(test(item) for test in terms) for terms in alternatives)
