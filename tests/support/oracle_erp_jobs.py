"""What the fake Oracle Fusion does with an uploaded GlInterface.csv: ESS jobs and Journal Import.

``importBulkData`` submits "Load Interface File for Import" (the load job); when it ends it has
submitted the child "Import Journals" job, named in its log. Each job advances on every status
poll of its request id and ends after ``polls_to_finish`` polls (``None``: never). Journal Import
validates every GL_INTERFACE row as Oracle does (STATUS NEW, the ParameterList's ledger, group and
source, an open period, known segment values, balanced per journal and currency) and imports
each journal (REFERENCE1 batch, REFERENCE4 journal) whose rows all pass; rejected rows keep their
error codes, as they stay in GL_INTERFACE. The job's output is a report listing every journal it
imported (with its JE_BATCH_ID) and every rejected row (codes, description, the row's place in
its journal). Nothing is deduplicated: a second upload of the same group is imported again, as
real Oracle does.

Error codes are those of Oracle's Journal Import: EP01 (date not in an open period), EF04 and
EC03 (a segment value or account combination that is not valid), EU02 (journal unbalanced, no
suspense posting), EL01 (ledger not valid).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erp_chart import Chart

WIDTH = 149
SEGMENT_FIRST, ENTERED_DR, ENTERED_CR = 8, 38, 39
REFERENCE1, REFERENCE4, GROUP_ID, PERIOD_NAME = 42, 45, 66, 94
REPORT_COLUMNS = ("REFERENCE1", "REFERENCE4", "LINE", "STATUS", "STATUS_DESCRIPTION", "JE_BATCH_ID")


@dataclass
class Job:
    request_id: int
    name: str  # load | import
    polls_to_finish: int | None
    polls: int = 0
    status: str = "WAIT"
    files: dict[str, bytes] = field(default_factory=dict)  # execution details: name -> bytes
    upload: Upload | None = None


@dataclass
class Upload:
    file_name: str
    parameters: tuple[str, ...]  # the 7 ParameterList values
    content: bytes  # the zip as sent
    load_request: int = 0


@dataclass
class Line:
    number: int
    segments: tuple[str, ...]
    debit: Decimal
    credit: Decimal
    currency: str


@dataclass
class Batch:
    je_batch_id: int
    name: str
    reference1: str
    journal_name: str
    reference4: str
    ledger_id: str
    accounting_date: str
    period: str
    source: str
    category: str
    currency: str
    header_id: int
    lines: list[Line]
    status: str = "U"  # unposted: Journal Import does not post


@dataclass
class Row:
    number: int  # place in its journal, 1-based
    values: list[str]
    codes: list[str] = field(default_factory=list)
    description: str = ""


def read_zip(content: bytes) -> list[list[str]]:
    """GlInterface.csv rows from the uploaded zip; ValueError if it is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if names != ["GlInterface.csv"]:
                raise ValueError(f"the zip must hold GlInterface.csv, not {names}")
            text = archive.read(names[0]).decode("utf-8")
    except zipfile.BadZipFile:
        raise ValueError("the document is not a zip file") from None
    rows = list(csv.reader(io.StringIO(text)))
    short = [n for n, row in enumerate(rows, start=1) if len(row) != WIDTH]
    if short:
        raise ValueError(f"GlInterface.csv rows {short[:5]} do not have {WIDTH} columns")
    return rows


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Ledgers:
    """Journal Import over the chart: ledgers (id -> legal entity), sources, segment layout."""

    def __init__(
        self,
        chart: Chart,
        ledgers: dict[str, str],
        *,
        sources: frozenset[str],
        segments: tuple[str, ...],
    ) -> None:
        self.chart = chart
        self.ledgers = ledgers
        self.sources = sources
        self.segments = segments
        self.batches: list[Batch] = []
        self.interface: list[Row] = []  # rejected rows left in GL_INTERFACE
        self._next_id = 700000

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def run_import(self, upload: Upload, request_id: int) -> tuple[str, dict[str, bytes]]:
        """Journal Import for one upload: the ending status and the execution files."""
        das, source, ledger, group, *_ = upload.parameters
        log = [f"Import Journals request {request_id}: ledger {ledger}, source {source}, group {group}"]
        if ledger not in self.ledgers:
            log.append(f"EL01 The ledger {ledger} is not valid for data access set {das}.")
            return "ERROR", {f"{request_id}.log": "\n".join(log).encode()}
        if source not in self.sources:
            log.append(f"The journal source {source} is not defined.")
            return "ERROR", {f"{request_id}.log": "\n".join(log).encode()}
        rows = read_zip(upload.content)
        picked = [r for r in rows if r[0] == "NEW" and r[1] == ledger and r[3] == source and r[66] == group]
        journals: dict[tuple[str, str], list[Row]] = {}
        for values in picked:
            key = (values[REFERENCE1], values[REFERENCE4])
            journals.setdefault(key, []).append(Row(len(journals.get(key, [])) + 1, values))
        report: list[list[str]] = []
        for (ref1, ref4), journal_rows in journals.items():
            self._validate(journal_rows, self.ledgers[ledger])
            if any(row.codes for row in journal_rows):
                self.interface.extend(journal_rows)
                report += [
                    [ref1, ref4, str(r.number) if r.number else "", ",".join(r.codes), r.description, ""]
                    for r in journal_rows
                    if r.codes
                ]
                continue
            batch = self._create(journal_rows, request_id, group)
            report.append([ref1, ref4, "", "IMPORTED", "", str(batch.je_batch_id)])
        rejected = sum(1 for line in report if line[3] != "IMPORTED")
        log.append(f"{len(picked)} interface rows read; {rejected} rejected.")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([list(REPORT_COLUMNS), *report])
        files = {
            f"{request_id}.log": "\n".join(log).encode(),
            f"ImportJournals_{request_id}.csv": out.getvalue().encode(),
        }
        return ("WARNING" if rejected else "SUCCEEDED"), files

    def enter(self, name: str, source: str, accounting_date: str, ledger_id: str, lines: list[Line]) -> Batch:
        """A journal batch keyed in Fusion directly (not through Journal Import), as a user or a
        spreadsheet upload makes one: any name, any source."""
        batch = Batch(
            je_batch_id=self.next_id(),
            name=name,
            reference1="",
            journal_name=name[:25],
            reference4="",
            ledger_id=ledger_id,
            accounting_date=accounting_date,
            period="",
            source=source,
            category="Manual",
            currency=lines[0].currency,
            header_id=self.next_id(),
            lines=lines,
        )
        self.batches.append(batch)
        return batch

    def _validate(self, rows: list[Row], legal_entity: str) -> None:
        totals: dict[str, Decimal] = {}
        for row in rows:
            values = row.values
            problems = self._segment_problems(values, legal_entity)
            if problems:
                row.codes += ["EF04", "EC03"]
                row.description = "; ".join(problems)
            when = datetime.strptime(values[2], "%Y/%m/%d").date()
            if not self.chart.is_open(legal_entity, f"{when:%Y-%m}"):
                row.codes.append("EP01")
                row.description = "; ".join(
                    filter(
                        None, [row.description, f"The accounting date {values[2]} is not in an open period."]
                    )
                )
            try:
                debit = Decimal(values[ENTERED_DR] or "0")
                credit = Decimal(values[ENTERED_CR] or "0")
            except InvalidOperation:
                row.codes.append("EA01")
                row.description = "The entered amount is not a number."
                continue
            totals[values[5]] = totals.get(values[5], Decimal(0)) + debit - credit
        off = {currency: total for currency, total in totals.items() if total != 0}
        if off:
            unbalanced = Row(
                0,
                rows[0].values,
                ["EU02"],
                f"This journal is unbalanced by {off} and suspense posting is not allowed.",
            )
            rows.append(unbalanced)

    def _segment_problems(self, values: list[str], legal_entity: str) -> list[str]:
        problems = []
        for n, name in enumerate(self.segments):
            value = values[SEGMENT_FIRST + n]
            if name == "legal_entity":
                known = {legal_entity}
            elif name == "account":
                known = set(self.chart.accounts)
            else:
                known = set(self.chart.dimension(name)) | {""}
            if value not in known:
                problems.append(f"The value {value} of segment {n + 1} ({name}) is not valid")
        return problems

    def _create(self, rows: list[Row], request_id: int, group: str) -> Batch:
        first = rows[0].values
        when = datetime.strptime(first[2], "%Y/%m/%d").date()
        batch = Batch(
            je_batch_id=self.next_id(),
            # Journal Import prepends the first 50 characters of REFERENCE1 to its own batch name
            name=f"{first[REFERENCE1][:50]} {first[3]} {request_id} A {group}",
            reference1=first[REFERENCE1],
            # ... and the first 25 characters of REFERENCE4 to the journal name
            journal_name=f"{first[REFERENCE4][:25]} {first[4]} {first[5]}",
            reference4=first[REFERENCE4],
            ledger_id=first[1],
            accounting_date=when.isoformat(),
            period=first[PERIOD_NAME],
            source=first[3],
            category=first[4],
            currency=first[5],
            header_id=self.next_id(),
            lines=[
                Line(
                    number=row.number,
                    segments=tuple(row.values[SEGMENT_FIRST + n] for n in range(len(self.segments))),
                    debit=Decimal(row.values[ENTERED_DR] or "0"),
                    credit=Decimal(row.values[ENTERED_CR] or "0"),
                    currency=row.values[5],
                )
                for row in rows
            ],
        )
        self.batches.append(batch)
        return batch


# -- journalBatches as the REST resource shows them -------------------------------------------------

_TERM = re.compile(r"^(\w+)\s*(LIKE|>=|<=|=|>|<)\s*('(?:[^']|'')*'|\d+)$")
_JOIN = re.compile(r"\s+(and|or)\s+(?=(?:[^']*'[^']*')*[^']*$)")  # and/or outside quotes
_FIELDS = {"BatchName", "JeBatchId", "UserJeSourceName", "DefaultEffectiveDate"}


def matches(batch: Batch, q: str) -> bool:
    """The journalBatches ``q`` row-finder expression: terms joined by ``and``/``or`` (``and``
    binding first), each ``<attribute> <op> <literal>`` over BatchName (LIKE 'prefix%'),
    JeBatchId, UserJeSourceName and DefaultEffectiveDate; ValueError for anything else (a 400)."""
    parts = _JOIN.split(q.strip())
    terms, joins = parts[::2], parts[1::2]
    groups: list[list[str]] = [[terms[0]]]
    for join, term in zip(joins, terms[1:], strict=True):
        if join == "or":
            groups.append([term])
        else:
            groups[-1].append(term)
    return any(all(_holds(batch, term) for term in group) for group in groups)


def _holds(batch: Batch, term: str) -> bool:
    match = _TERM.match(term.strip().removeprefix("(").removesuffix(")").strip())
    if match is None or match.group(1) not in _FIELDS:
        raise ValueError(f"the q expression {term!r} is not valid for journalBatches")
    name, op, literal = match.groups()
    value = literal[1:-1].replace("''", "'") if literal.startswith("'") else literal
    if name == "BatchName":
        if op != "LIKE" or not value.endswith("%") or "%" in value[:-1]:
            raise ValueError(f"BatchName supports LIKE 'prefix%' here, not {term!r}")
        return batch.name.startswith(value[:-1])
    if op == "LIKE":
        raise ValueError(f"LIKE is for text attributes, not {name}")
    have: Any = {
        "JeBatchId": batch.je_batch_id,
        "UserJeSourceName": batch.source,
        "DefaultEffectiveDate": batch.accounting_date,
    }[name]
    want: Any = int(value) if name == "JeBatchId" else value  # ISO dates compare as text
    return {"=": have == want, ">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want}[op]


def batch_page(batches: list[Batch], query: dict[str, str], max_limit: int) -> tuple[list[Any], bool]:
    """One page of the journalBatches collection as the REST framework pages it: the batches
    ``q`` matches, in JeBatchId order, ``limit`` (default 25, at most ``max_limit``) from
    ``offset``, ``expand``ed or not; hasMore when rows are left after it. ValueError: a 400."""
    found = sorted((b for b in batches if matches(b, query.get("q", ""))), key=lambda b: b.je_batch_id)
    limit = min(int(query.get("limit") or 25), max_limit)
    offset = int(query.get("offset") or 0)
    expand = "journalHeaders" in query.get("expand", "")
    return [batch_item(b, expand) for b in found[offset : offset + limit]], offset + limit < len(found)


def batch_item(batch: Batch, expand: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "JeBatchId": batch.je_batch_id,
        "BatchName": batch.name,
        "Status": batch.status,
        "AccountingPeriodName": batch.period,
        "UserJeSourceName": batch.source,
        "DefaultEffectiveDate": batch.accounting_date,
    }
    if expand:
        item["journalHeaders"] = [header_item(batch, lines=True)]
    return item


def header_item(batch: Batch, *, lines: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "JeHeaderId": batch.header_id,
        "JournalName": batch.journal_name,
        "LedgerId": int(batch.ledger_id),
        "AccountingDate": batch.accounting_date,
        "UserJeCategoryName": batch.category,
        "CurrencyCode": batch.currency,
    }
    if lines:
        item["journalLines"] = [
            {
                "JeLineNumber": line.number,
                "AccountCombination": ".".join(line.segments),
                "EnteredDebitAmount": float(line.debit) if line.debit else None,
                "EnteredCreditAmount": float(line.credit) if line.credit else None,
                "CurrencyCode": line.currency,
            }
            for line in batch.lines
        ]
    return item
