"""What the fake F&O holds: general journals (headers and lines) per company, the chart's checks on
each line, and the OData entities LedgerJournalHeaders and LedgerJournalLines over them.

Checks, as F&O makes them: the company (dataAreaId) must exist; the account display value must
have the integration format's segment count, a main account in the chart and, per non-blank
segment, a value of that dimension; the line's date must be in an open period of the company; a
voucher must balance (checked when a DMF import copies a journal to its target and when journals
are posted). Journals are not told apart by description: F&O keeps two journals with the same one.
``post_all`` is the finance team's Journal post batch job: it posts every unposted journal whose
vouchers balance and whose dates are open, and sets ``IsPosted`` to ``Yes``.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from erp_chart import Chart

DIMENSION_NAMES = {
    "facility": "Facility",
    "cost_center": "CostCenter",
    "payer_class": "PayerClass",
    "service_line": "ServiceLine",
}
HEADER_FIELDS = ("dataAreaId", "JournalBatchNumber", "JournalName", "Description")
_KEY = re.compile(r"^\(dataAreaId='([^']*)',JournalBatchNumber='([^']*)'\)$")
_TERM = re.compile(r"^(\w+) (eq|ge|gt|le|lt) ('(?:[^']|'')*'|\d{4}-\d\d-\d\dT[0-9:.]+Z)$")
_COMPARE = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


class Ledger:
    def __init__(
        self,
        chart: Chart,
        *,
        dimension_format: Sequence[str],
        delimiter: str,
        journal_names: Sequence[str],
        page_size: int = 10_000,
    ) -> None:
        self.chart = chart
        self.dimension_format = tuple(dimension_format)
        self.delimiter = delimiter
        self.journal_names = frozenset(journal_names)
        self.page_size = page_size
        self.headers: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self._numbers = itertools.count(1)

    # -- the chart's checks ------------------------------------------------------------------------

    def company_error(self, company: str) -> str:
        if company.upper() not in self.chart.legal_entities:
            return f"Company '{company}' does not exist."
        return ""

    def line_error(self, company: str, display: str, when: date) -> str:
        """F&O's words for the first thing wrong with one line; "" when it is right."""
        problem = self.company_error(company)
        if problem:
            return problem
        account, *values = display.split(self.delimiter)
        if len(values) != len(self.dimension_format):
            segments = len(self.dimension_format) + 1
            return f"Account '{display}' does not match the integration format ({segments} segments)."
        if account not in self.chart.accounts:
            ledger = company.upper()
            return f"Main account '{account}' does not exist in the chart of accounts of the ledger {ledger}."
        for name, value in zip(self.dimension_format, values, strict=True):
            if value and value not in self.chart.dimension(name):
                return (
                    f"The value '{value}' of the financial dimension {DIMENSION_NAMES[name]} does not exist."
                )
        if not self.chart.is_open(company.upper(), f"{when:%Y-%m}"):
            return f"The ledger period for {when:%m/%d/%Y} is closed in company {company.upper()}."
        return ""

    # -- journals ----------------------------------------------------------------------------------

    def add_header(self, company: str, journal_name: str, description: str) -> dict[str, Any]:
        header = {
            "dataAreaId": company.lower(),
            "JournalBatchNumber": f"{next(self._numbers):06d}",
            "JournalName": journal_name,
            "Description": description,
            "IsPosted": "No",
        }
        self.headers.append(header)
        return header

    def header(self, company: str, batch: str) -> dict[str, Any] | None:
        for header in self.headers:
            if header["dataAreaId"] == company.lower() and header["JournalBatchNumber"] == batch:
                return header
        return None

    def delete(self, header: Mapping[str, Any]) -> None:
        where = (header["dataAreaId"], header["JournalBatchNumber"])
        self.headers = [h for h in self.headers if (h["dataAreaId"], h["JournalBatchNumber"]) != where]
        self.lines = [r for r in self.lines if (r["dataAreaId"], r["JournalBatchNumber"]) != where]

    def lines_of(self, header: Mapping[str, Any]) -> list[dict[str, Any]]:
        where = (header["dataAreaId"], header["JournalBatchNumber"])
        return [r for r in self.lines if (r["dataAreaId"], r["JournalBatchNumber"]) == where]

    def unbalanced(self, lines: Sequence[Mapping[str, Any]]) -> str:
        totals: dict[tuple[str, str], Decimal] = {}
        for line in lines:
            voucher = (str(line.get("Voucher", "")), str(line["TransDate"])[:10])
            totals[voucher] = totals.get(voucher, Decimal(0)) + line["DebitAmount"] - line["CreditAmount"]
        for (voucher, when), total in sorted(totals.items()):
            if total != 0:
                name = voucher or "(none)"
                return f"The transactions on voucher {name} do not balance as per {when}. Difference: {total}"
        return ""

    def post_all(self) -> int:
        """The Journal post batch job: posts what balances and is open; counts what it posted."""
        posted = 0
        for header in self.headers:
            lines = self.lines_of(header)
            if header["IsPosted"] == "Yes" or not lines or self.unbalanced(lines):
                continue
            if any(
                not self.chart.is_open(header["dataAreaId"].upper(), str(r["TransDate"])[:7]) for r in lines
            ):
                continue
            header["IsPosted"] = "Yes"
            posted += 1
        return posted

    def balances(self, *, posted_only: bool = True) -> dict[str, Decimal]:
        """Net (debit positive) per main account over the journals held."""
        held = {
            (h["dataAreaId"], h["JournalBatchNumber"])
            for h in self.headers
            if h["IsPosted"] == "Yes" or not posted_only
        }
        result: dict[str, Decimal] = {}
        for line in self.lines:
            if (line["dataAreaId"], line["JournalBatchNumber"]) in held:
                account = str(line["AccountDisplayValue"]).split(self.delimiter)[0]
                result[account] = result.get(account, Decimal(0)) + line["DebitAmount"] - line["CreditAmount"]
        return {k: v for k, v in result.items() if v != 0}

    # -- OData -------------------------------------------------------------------------------------

    def query(
        self, rows: Sequence[Mapping[str, Any]], params: Mapping[str, str], url: str
    ) -> tuple[int, Any]:
        """$filter of terms (``Field eq 'value'``, ``*`` a wildcard in the value as in F&O;
        ``Field ge|gt|le|lt <date-time>``) joined by ``or`` inside parentheses and by ``and``;
        without cross-company=true only the default company (the first legal entity of the chart)
        answers, as in F&O. At most ``page_size`` rows a page, the next named in
        ``@odata.nextLink`` (``$skip``), as F&O pages (10,000 rows)."""
        text = params.get("$filter", "")
        clauses: list[list[tuple[str, str, str]]] = []
        for clause in _split(text, " and ") if text else []:
            clause = clause.strip()
            inner = clause[1:-1] if clause.startswith("(") and clause.endswith(")") else clause
            terms = [_TERM.match(part.strip()) for part in _split(inner, " or ")]
            if not all(terms):
                return 400, {"error": {"message": f"Unsupported $filter term: {clause[:60]}"}}
            clauses.append([t.groups() for t in terms if t])
        default = sorted(self.chart.legal_entities)[0].lower()
        every = params.get("cross-company", "").lower() == "true"
        found = [
            _odata(row)
            for row in rows
            if (every or row["dataAreaId"] == default)
            and all(any(_holds(row, *term) for term in clause) for clause in clauses)
        ]
        skip = int(params.get("$skip", "0"))
        answer: dict[str, Any] = {"@odata.context": "$metadata", "value": found[skip : skip + self.page_size]}
        if skip + self.page_size < len(found):
            answer["@odata.nextLink"] = url + "?" + urlencode({**params, "$skip": skip + self.page_size})
        return 200, answer

    def create_header(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        company, name = str(body.get("dataAreaId", "")), str(body.get("JournalName", ""))
        problem = self.company_error(company)
        if not problem and name not in self.journal_names:
            problem = f"Journal name '{name}' does not exist."
        if not problem and len(str(body.get("Description", ""))) > 60:
            problem = "Description is longer than 60 characters."
        if problem:
            return 400, {
                "error": {
                    "message": "Write failed for table row of type 'LedgerJournalHeaderEntity'. " + problem
                }
            }
        return 201, _odata(self.add_header(company, name, str(body.get("Description", ""))))

    def create_line(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        company = str(body.get("dataAreaId", ""))
        header = self.header(company, str(body.get("JournalBatchNumber", "")))
        try:
            when = date.fromisoformat(str(body.get("TransDate", ""))[:10])
            debit, credit = Decimal(str(body["DebitAmount"])), Decimal(str(body["CreditAmount"]))
        except (KeyError, ValueError, InvalidOperation):
            return 400, {"error": {"message": "TransDate, DebitAmount and CreditAmount are required."}}
        problem = "Journal batch number does not exist." if header is None else ""
        if header is not None and header["IsPosted"] == "Yes":  # MS Learn: "an existing, unposted header"
            problem = "The journal is posted and cannot be changed."
        if not problem and body.get("AccountType") != "Ledger":
            problem = "Account type must be Ledger."
        problem = problem or self.line_error(company, str(body.get("AccountDisplayValue", "")), when)
        if problem:
            return 400, {
                "error": {
                    "message": "Write failed for table row of type 'LedgerJournalLineEntity'. " + problem
                }
            }
        assert header is not None
        line = {
            "dataAreaId": header["dataAreaId"],
            "JournalBatchNumber": header["JournalBatchNumber"],
            "LineNumber": Decimal(str(body.get("LineNumber", len(self.lines_of(header)) + 1))),
            "AccountType": "Ledger",
            "AccountDisplayValue": str(body["AccountDisplayValue"]),
            "TransDate": f"{when.isoformat()}T12:00:00Z",
            "Voucher": f"V{header['JournalBatchNumber']}",
            "CurrencyCode": str(body.get("CurrencyCode", "")),
            "DebitAmount": debit,
            "CreditAmount": credit,
        }
        self.lines.append(line)
        return 201, _odata(line)

    def snapshot(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What the ledger holds, to put back when a changeset fails (its writes are one unit)."""
        return [dict(h) for h in self.headers], [dict(r) for r in self.lines]

    def restore(self, held: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        self.headers, self.lines = [dict(h) for h in held[0]], [dict(r) for r in held[1]]

    def header_lines(self, key: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """POST LedgerJournalHeaders(..)/JournalLines: a line of that header (the key says which)."""
        match = _KEY.match(key)
        if match is None or self.header(match.group(1), match.group(2)) is None:
            return 404, {"error": {"message": "No resources were found when selecting for update."}}
        return self.create_line({**body, "dataAreaId": match.group(1), "JournalBatchNumber": match.group(2)})

    def entity(self, method: str, key: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """PATCH or DELETE LedgerJournalHeaders(dataAreaId='..',JournalBatchNumber='..')."""
        match = _KEY.match(key)
        header = self.header(match.group(1), match.group(2)) if match else None
        if header is None:
            return 404, {"error": {"message": "No resources were found when selecting for update."}}
        if method == "DELETE":
            self.delete(header)
            return 204, None
        if header["IsPosted"] == "Yes":
            return 400, {"error": {"message": "The journal is posted and cannot be changed."}}
        for field in set(body) & {"Description", "JournalName"}:
            header[field] = str(body[field])
        return 204, None


def _split(text: str, word: str) -> list[str]:
    """``text`` split at ``word`` where it stands outside quotes and parentheses."""
    parts, depth, quoted, start, at = [], 0, False, 0, 0
    while at < len(text):
        char = text[at]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and text.startswith(word, at):
            parts.append(text[start:at])
            start = at = at + len(word)
            continue
        at += 1
    return [*parts, text[start:]]


def _holds(row: Mapping[str, Any], field: str, compare: str, literal: str) -> bool:
    value = str(row.get(field, ""))
    if compare == "eq":
        wanted = literal[1:-1].replace("''", "'")
        if "*" in wanted:
            return (
                re.fullmatch(".*".join(map(re.escape, wanted.split("*"))), value, re.IGNORECASE) is not None
            )
        return value == wanted
    if not value:
        return False
    return bool(_COMPARE[compare](datetime.fromisoformat(value), datetime.fromisoformat(literal)))


def _odata(row: Mapping[str, Any]) -> dict[str, Any]:
    return dict(row)
