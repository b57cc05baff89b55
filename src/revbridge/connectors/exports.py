"""Journal export files for ERP bulk import: CSV, Oracle FBDI ``GlInterface.csv`` (zipped), beancount.

Pure renderers: journals in, bytes out. Ledger checkers let sub-cent imbalances through (DESIGN.md
section 7), so ``exact_lines`` rounds every amount to its currency's minor unit and refuses a
journal whose rounded lines do not sum to exactly zero per currency; nothing is rendered from a
journal that fails it. Files carry accounts, amounts, dimensions and our journal id, never event
keys or anything else that could identify a patient. Column layouts are documented in
docs/connectors.md; the FBDI positions are erp-apis.md A.1.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from revbridge.connectors.base import ConnectorRejected
from revbridge.core.ids import digest
from revbridge.core.money import exponent
from revbridge.ledger.journal import Journal, Side
from revbridge.ledger.role import AccountRole

CSV_COLUMNS = (
    "journal_id",
    "legal_entity",
    "posting_date",
    "lane",
    "line_no",
    "account",
    "role",
    "debit",
    "credit",
    "currency",
    "facility",
    "cost_center",
    "payer_class",
    "service_line",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportLine:
    line_no: int
    account: str
    role: AccountRole
    debit: Decimal
    credit: Decimal
    currency: str
    facility: str
    cost_center: str
    payer_class: str
    service_line: str

    @property
    def net(self) -> Decimal:
        return self.debit - self.credit


def _text(amount: Decimal, currency: str) -> str:
    return f"{amount:.{exponent(currency)}f}"


def exact_lines(journal: Journal) -> tuple[ExportLine, ...]:
    """The journal's lines rounded to minor units, or ConnectorRejected if they no longer balance."""
    lines = []
    totals: dict[str, Decimal] = {}
    for n, line in enumerate(journal.lines, start=1):
        amount = line.amount.rounded().amount
        debit = amount if line.side is Side.DEBIT else Decimal(0)
        credit = amount if line.side is Side.CREDIT else Decimal(0)
        currency = line.amount.currency
        totals[currency] = totals.get(currency, Decimal(0)) + debit - credit
        d = line.dimensions
        lines.append(
            ExportLine(
                line_no=n,
                account=line.account,
                role=line.role,
                debit=debit,
                credit=credit,
                currency=currency,
                facility=d.facility,
                cost_center=d.cost_center,
                payer_class=d.payer_class,
                service_line=d.service_line,
            )
        )
    off = {currency: total for currency, total in totals.items() if total != 0}
    if off:
        raise ConnectorRejected(f"journal {journal.id} does not sum to zero in minor units: {off}")
    return tuple(lines)


# ---- CSV ---------------------------------------------------------------------------------------


def render_csv(journals: Iterable[Journal]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for journal in journals:
        for line in exact_lines(journal):
            writer.writerow(
                (
                    journal.id,
                    journal.legal_entity,
                    journal.posting_date.isoformat(),
                    journal.lane.value,
                    line.line_no,
                    line.account,
                    line.role.value,
                    _text(line.debit, line.currency),
                    _text(line.credit, line.currency),
                    line.currency,
                    line.facility,
                    line.cost_center,
                    line.payer_class,
                    line.service_line,
                )
            )
    return out.getvalue().encode("utf-8")


# ---- Oracle FBDI ------------------------------------------------------------------------------

FBDI_WIDTH = 149  # columns of the 25c JournalImportTemplate GL_INTERFACE sheet
FBDI_SEGMENT_FIRST = 8  # SEGMENT1 is column 8, SEGMENT30 column 37
FBDI_ENTERED_DR, FBDI_ENTERED_CR = 38, 39
FBDI_REFERENCE1, FBDI_REFERENCE2, FBDI_REFERENCE4, FBDI_REFERENCE5, FBDI_REFERENCE10 = 42, 43, 45, 46, 51
FBDI_GROUP_ID, FBDI_PERIOD_NAME = 66, 94
SEGMENT_SOURCES = ("legal_entity", "account", "cost_center", "payer_class", "service_line", "facility")


@dataclass(frozen=True, slots=True, kw_only=True)
class FbdiSettings:
    ledger_ids: Mapping[str, str]  # legal entity -> LEDGER_ID
    source: str = "Patient Accounting"  # USER_JE_SOURCE_NAME, as registered in Fusion
    categories: Mapping[str, str] = field(
        default_factory=lambda: {"realtime": "Payments", "batch": "Charges"}
    )  # lane -> USER_JE_CATEGORY_NAME
    segments: tuple[str, ...] = ("legal_entity", "cost_center", "account", "payer_class", "service_line")

    def __post_init__(self) -> None:
        unknown = [s for s in self.segments if s not in SEGMENT_SOURCES]
        if unknown or not 1 <= len(self.segments) <= 30:
            raise ValueError(f"FBDI segments must be 1-30 of {', '.join(SEGMENT_SOURCES)}; got {unknown}")


def _segment(name: str, journal: Journal, line: ExportLine) -> str:
    if name == "legal_entity":
        return journal.legal_entity
    return str(getattr(line, name))


def fbdi_rows(journal: Journal, settings: FbdiSettings, *, group_id: int) -> list[list[str]]:
    ledger = settings.ledger_ids.get(journal.legal_entity)
    if not ledger:
        raise ConnectorRejected(f"no FBDI ledger id for legal entity {journal.legal_entity!r}")
    category = settings.categories.get(journal.lane.value)
    if not category:
        raise ConnectorRejected(f"no FBDI journal category for lane {journal.lane.value!r}")
    rows = []
    for line in exact_lines(journal):
        row = [""] * FBDI_WIDTH
        row[0] = "NEW"
        row[1] = ledger
        row[2] = journal.posting_date.strftime("%Y/%m/%d")
        row[3] = settings.source
        row[4] = category
        row[5] = line.currency
        row[6] = journal.posting_date.strftime("%Y/%m/%d")
        row[7] = "A"
        for n, name in enumerate(settings.segments):
            row[FBDI_SEGMENT_FIRST + n] = _segment(name, journal, line)
        if line.debit:
            row[FBDI_ENTERED_DR] = _text(line.debit, line.currency)
        if line.credit:
            row[FBDI_ENTERED_CR] = _text(line.credit, line.currency)
        row[FBDI_REFERENCE1] = journal.id  # batch name: the idempotency key
        row[FBDI_REFERENCE2] = f"revbridge {journal.lane.value} {journal.legal_entity} {journal.posting_date}"
        row[FBDI_REFERENCE4] = journal.id
        row[FBDI_REFERENCE5] = f"revbridge journal {journal.id}"
        row[FBDI_REFERENCE10] = f"{line.role.value} {line.cost_center}".strip()
        row[FBDI_GROUP_ID] = str(group_id)
        row[FBDI_PERIOD_NAME] = journal.posting_date.strftime("%b-%y")
        rows.append(row)
    return rows


def group_id_of(keys: Sequence[str]) -> int:
    """A numeric GROUP_ID (NUMBER(15)) derived from journal ids, so a re-export is byte-identical."""
    return int(digest("fbdi-group", *keys, length=12), 16) % 10**15


def render_fbdi(journals: Sequence[Journal], settings: FbdiSettings, *, group_id: int | None = None) -> bytes:
    """A zip holding ``GlInterface.csv``: positional, no header row."""
    gid = group_id if group_id is not None else group_id_of([j.id for j in journals])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for journal in journals:
        writer.writerows(fbdi_rows(journal, settings, group_id=gid))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # a fixed timestamp: the same journals always give the same bytes
        info = zipfile.ZipInfo("GlInterface.csv", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, out.getvalue().encode("utf-8"))
    return buffer.getvalue()


# ---- beancount --------------------------------------------------------------------------------

# Where each role lives in beancount's five roots. Deductions from revenue (contractual allowance,
# denials, write-offs, charity) are contra-revenue and stay under Income, as hospitals report them.
BEANCOUNT_ROOTS: Mapping[AccountRole, str] = {
    AccountRole.CASH_CLEARING: "Assets",
    AccountRole.AR_PAYER: "Assets",
    AccountRole.AR_PATIENT: "Assets",
    AccountRole.AR_UNBILLED: "Assets",
    AccountRole.SUSPENSE: "Assets",
    AccountRole.PAYER_CREDIT_BALANCE: "Liabilities",
    AccountRole.PATIENT_CREDIT_BALANCE: "Liabilities",
    AccountRole.GROSS_REVENUE: "Income",
    AccountRole.CONTRACTUAL_ALLOWANCE: "Income",
    AccountRole.DENIAL_WRITEOFF: "Income",
    AccountRole.ADMINISTRATIVE_WRITEOFF: "Income",
    AccountRole.CHARITY_CARE: "Income",
    AccountRole.INTEREST_INCOME: "Income",
    AccountRole.THIRD_PARTY_SETTLEMENT: "Income",
    AccountRole.BAD_DEBT: "Expenses",
    AccountRole.OPENING_BALANCE: "Equity",  # the go-live cut-over's counterpart (docs/golive.md)
}
_NOT_COMPONENT = re.compile(r"[^A-Za-z0-9\-]")


def _component(text: str) -> str:
    clean = _NOT_COMPONENT.sub("-", text) or "X"
    if clean[0].islower():
        return clean[0].upper() + clean[1:]
    return clean if clean[0].isupper() or clean[0].isdigit() else "X" + clean


def beancount_account(legal_entity: str, account: str, role: AccountRole) -> str:
    return f"{BEANCOUNT_ROOTS[role]}:{_component(legal_entity)}:{_component(account)}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_beancount(journals: Sequence[Journal], *, title: str = "revbridge export") -> str:
    """A self-contained ledger: options, one ``open`` per account (dated at its first use), then
    the transactions in date order, each tagged with the journal id."""
    rendered: list[tuple[Journal, tuple[ExportLine, ...]]] = [(j, exact_lines(j)) for j in journals]
    opened: dict[str, date] = {}
    origin: dict[str, tuple[str, str]] = {}
    currencies: set[str] = set()
    for journal, lines in rendered:
        for line in lines:
            name = beancount_account(journal.legal_entity, line.account, line.role)
            if origin.setdefault(name, (journal.legal_entity, line.account)) != (
                journal.legal_entity,
                line.account,
            ):
                raise ConnectorRejected(f"two accounts would share the beancount name {name}")
            opened[name] = min(opened.get(name, journal.posting_date), journal.posting_date)
            currencies.add(line.currency)
    out = [f"option {_quoted('title')} {_quoted(title)}"]
    out += [f"option {_quoted('operating_currency')} {_quoted(c)}" for c in sorted(currencies)]
    out.append("")
    out += [f"{opened[name].isoformat()} open {name}" for name in sorted(opened)]
    for journal, lines in sorted(rendered, key=lambda item: (item[0].posting_date, item[0].id)):
        out.append("")
        narration = f"{journal.lane.value} journal {journal.legal_entity} {journal.posting_date.isoformat()}"
        out.append(f"{journal.posting_date.isoformat()} * {_quoted('revbridge')} {_quoted(narration)}")
        out.append(f"  journal: {_quoted(journal.id)}")
        for line in lines:
            name = beancount_account(journal.legal_entity, line.account, line.role)
            out.append(f"  {name}  {_text(line.net, line.currency)} {line.currency}")
            for key in ("facility", "cost_center", "payer_class", "service_line"):
                value = getattr(line, key)
                if value:
                    out.append(f"    {key}: {_quoted(value)}")
    return "\n".join(out) + "\n"
