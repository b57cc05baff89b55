"""CloudSuite Financials behind the Infor ION test ERP: what it does with a
``ProcessSourceSystemJournalEntry`` BOD and the ``AcknowledgeSourceSystemJournalEntry`` it answers.

A BOD is processed when ION delivers it (``Books.process``): refused as CloudSuite refuses, with
one ``ChangeStatus`` per reason and the refused lines echoed with their ``sequence``, when the
accounting entity is unknown, an account or a dimension value (per ``listID``) is not in the
chart, the period is closed, debits and credits differ per currency, or the JournalID (or the
BODID) was already posted; otherwise posted under a CloudSuite journal number (``DisplayID``)
and acknowledged ``Accepted`` with the whole noun echoed. Seeded from erp_chart.Chart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from erp_chart import Chart
from lxml import etree

NS = "http://schema.infor.com/InforOAGIS/2"
LISTS = {
    "FACILITY": "facility",
    "COSTCENTER": "cost_center",
    "PAYERCLASS": "payer_class",
    "SERVICELINE": "service_line",
}
CSF_LOGICAL_ID = "lid://infor.fsm.fsm"


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _t(node: Any, *names: str) -> str:
    found = node
    for name in names:
        found = found.find(q(name)) if found is not None else None
    return (found.text or "").strip() if found is not None and found.text is not None else ""


@dataclass
class Posted:
    journal_id: str
    entity: str
    number: str
    bod_id: str
    period: str  # YYYY-MM
    lines: list[tuple[str, str, Decimal, str]]  # account, D|C, amount, currency
    source: str  # AccountingJournalReference/ID


class Books:
    def __init__(self, chart: Chart, entities: dict[str, str]) -> None:
        self.chart = chart
        self.entities = dict(entities)  # accounting entity -> legal entity
        self.posted: dict[tuple[str, str], Posted] = {}  # (entity, JournalID) -> journal
        self.accepted_bods: set[str] = set()
        self._lock = threading.Lock()

    def count(self, journal_id: str) -> int:
        with self._lock:
            return sum(1 for (_e, j) in self.posted if j == journal_id)

    def balances(self) -> dict[str, Decimal]:
        nets: dict[str, Decimal] = {}
        with self._lock:
            for journal in self.posted.values():
                for account, flag, amount, _currency in journal.lines:
                    nets[account] = nets.get(account, Decimal(0)) + (amount if flag == "D" else -amount)
        return nets

    def process(self, bod: bytes) -> bytes:
        """CloudSuite's acknowledgement of one Process BOD (posting it when it is accepted)."""
        root = etree.fromstring(bod)
        entity = _t(root, "DataArea", "Process", "AccountingEntityID")
        noun = root.find(f"{q('DataArea')}/{q('SourceSystemJournalEntry')}")
        journal_id = _t(noun, "JournalEntryHeader", "JournalID")
        bod_id = _t(root, "ApplicationArea", "BODID")
        lines = noun.findall(q("JournalEntryLine"))
        with self._lock:
            reasons, refused = self._problems(root, entity, journal_id, bod_id, lines)
            number = ""
            if not reasons:
                number = f"GL{entity}-{len(self.posted) + 1:06d}"
                self._post(noun, entity, journal_id, number, bod_id, lines)
        return acknowledge(root, reasons, refused, number)

    def _problems(
        self, root: Any, entity: str, journal_id: str, bod_id: str, lines: list[Any]
    ) -> tuple[list[tuple[str, str]], list[Any]]:
        if entity not in self.entities:
            return [("ACCOUNTING_ENTITY", f"Accounting entity {entity} does not exist")], []
        if bod_id in self.accepted_bods or (entity, journal_id) in self.posted:
            return [("DUPLICATE", f"Journal {journal_id} already exists in accounting entity {entity}")], []
        reasons: list[tuple[str, str]] = []
        refused: list[Any] = []
        totals: dict[str, Decimal] = {}
        for line in lines:
            seq = line.get("sequence")
            problems = self._line_problems(line, seq)
            if problems:
                reasons += problems
                refused.append(line)
            amount = Decimal(_t(line, "Amount"))
            currency = line.find(q("Amount")).get("currencyID")
            sign = 1 if _t(line, "DebitCreditFlag") == "D" else -1
            totals[currency] = totals.get(currency, Decimal(0)) + sign * amount
        if any(totals.values()):
            reasons.append(("UNBALANCED", "Journal debits and credits are not equal"))
        period = self._period(lines)
        if not self.chart.is_open(self.entities[entity], period):
            reasons.append(("PERIOD_CLOSED", f"Period {period} is closed for accounting entity {entity}"))
        return reasons, refused

    def _line_problems(self, line: Any, seq: str) -> list[tuple[str, str]]:
        problems = []
        account = _t(line, "GLAccount", "GLNominalAccount")
        if account not in self.chart.accounts:
            problems.append(("GL_ACCOUNT", f"Line {seq}: GL account {account} does not exist"))
        for code in line.iter(q("DimensionCode")):
            list_id, value = code.get("listID"), (code.text or "").strip()
            if list_id not in LISTS:
                problems.append(("DIMENSION", f"Line {seq}: dimension {list_id} does not exist"))
            elif value not in self.chart.dimension(LISTS[list_id]):
                problems.append(("DIMENSION", f"Line {seq}: {list_id} value {value} does not exist"))
        return problems

    @staticmethod
    def _period(lines: list[Any]) -> str:
        stamp = _t(lines[0], "SourceAccountingDate", "PostDateTime") if lines else ""
        return stamp[:7]

    def _post(
        self, noun: Any, entity: str, journal_id: str, number: str, bod_id: str, lines: list[Any]
    ) -> None:
        made = [
            (
                _t(line, "GLAccount", "GLNominalAccount"),
                _t(line, "DebitCreditFlag"),
                Decimal(_t(line, "Amount")),
                line.find(q("Amount")).get("currencyID"),
            )
            for line in lines
        ]
        source = _t(noun, "JournalEntryHeader", "BaseJournalEntryHeader", "AccountingJournalReference", "ID")
        self.posted[(entity, journal_id)] = Posted(
            journal_id, entity, number, bod_id, self._period(lines), made, source
        )
        self.accepted_bods.add(bod_id)


def acknowledge(process: Any, reasons: list[tuple[str, str]], refused: list[Any], number: str) -> bytes:
    """The AcknowledgeSourceSystemJournalEntry CloudSuite sends back through ION."""
    root = etree.Element(
        q("AcknowledgeSourceSystemJournalEntry"), nsmap={None: NS}, releaseID="9.2", versionID="2.9.0"
    )
    area = etree.SubElement(root, q("ApplicationArea"))
    sender = etree.SubElement(area, q("Sender"))
    etree.SubElement(sender, q("LogicalID")).text = CSF_LOGICAL_ID
    etree.SubElement(sender, q("ComponentID")).text = "CloudSuite Financials"
    etree.SubElement(area, q("CreationDateTime")).text = (
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    )
    original_area = process.find(q("ApplicationArea"))
    etree.SubElement(area, q("BODID")).text = _t(original_area, "BODID").replace(
        "verb=Process", "verb=Acknowledge"
    )
    data = etree.SubElement(root, q("DataArea"))
    ack = etree.SubElement(data, q("Acknowledge"))
    etree.SubElement(ack, q("TenantID")).text = _t(process, "DataArea", "Process", "TenantID")
    etree.SubElement(ack, q("AccountingEntityID")).text = _t(
        process, "DataArea", "Process", "AccountingEntityID"
    )
    original = etree.SubElement(ack, q("OriginalApplicationArea"))
    for child in original_area:
        original.append(_copy(child))
    criteria = etree.SubElement(ack, q("ResponseCriteria"))
    outcome = "Rejected" if reasons else "Accepted"
    etree.SubElement(criteria, q("ResponseExpression"), actionCode=outcome)
    for code, reason in reasons or [("POSTED", f"Journal posted as {number}")]:
        status = etree.SubElement(criteria, q("ChangeStatus"))
        etree.SubElement(status, q("Code")).text = outcome
        etree.SubElement(status, q("ReasonCode")).text = code
        etree.SubElement(status, q("Reason")).text = reason
    noun = process.find(f"{q('DataArea')}/{q('SourceSystemJournalEntry')}")
    echo = etree.SubElement(data, q("SourceSystemJournalEntry"))
    header = _copy(noun.find(q("JournalEntryHeader")))
    if number:
        display = etree.Element(q("DisplayID"))
        display.text = number
        header.insert(1, display)
    echo.append(header)
    for line in refused if reasons else noun.findall(q("JournalEntryLine")):
        echo.append(_copy(line))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def confirm_failure(bod: bytes) -> bytes:
    """ION's ConfirmBOD for a BOD it could not deliver (no active flow to CloudSuite)."""
    process = etree.fromstring(bod)
    process_area = process.find(q("ApplicationArea"))
    tenant = _t(process, "DataArea", "Process", "TenantID")
    words = "ION could not deliver the BOD: no active document flow to lid://infor.fsm.fsm"
    root = etree.Element(q("ConfirmBOD"), nsmap={None: NS}, releaseID="9.2", versionID="2.9.0")
    area = etree.SubElement(root, q("ApplicationArea"))
    etree.SubElement(etree.SubElement(area, q("Sender")), q("LogicalID")).text = "lid://infor.ion.ion"
    etree.SubElement(area, q("CreationDateTime")).text = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(area, q("BODID")).text = "infor-nid:ion:confirm:" + _t(process_area, "BODID")[-40:]
    data = etree.SubElement(root, q("DataArea"))
    confirm = etree.SubElement(data, q("Confirm"))
    etree.SubElement(confirm, q("TenantID")).text = tenant
    original = etree.SubElement(confirm, q("OriginalApplicationArea"))
    for child in process_area:
        original.append(_copy(child))
    failure = etree.SubElement(etree.SubElement(data, q("BOD")), q("BODFailureMessage"))
    etree.SubElement(etree.SubElement(failure, q("ErrorProcessMessage")), q("Description")).text = words
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _copy(node: Any) -> Any:
    return etree.fromstring(etree.tostring(node))
