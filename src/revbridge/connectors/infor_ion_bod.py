"""The journal as Infor's ``ProcessSourceSystemJournalEntry`` BOD, and the answers read back.

Pure functions, no HTTP. ``process_bod`` builds the BOD with lxml (xmldoc.py) in Infor's
namespace, ``releaseID="9.2" versionID="2.9.0"``, in the shape of the OCA Odoo -> Infor connector's
BOD template and erp-apis.md A.7:
- ``ApplicationArea``: ``Sender/LogicalID`` (our ION connection point), ``ComponentID``,
  ``ConfirmationCode OnError`` (ION answers a failure with a ConfirmBOD), ``CreationDateTime``
  and ``BODID``, Infor's ``infor-nid:{tenant}:{accounting entity}::{journal id}:1?
  SourceSystemJournalEntry&verb=Process`` form: a pure function of the journal id, so every resend
  of one journal carries the same BODID and CloudSuite's duplicate check sees it as a repeat.
- ``DataArea/Process``: ``TenantID``, ``AccountingEntityID``, ``ActionExpression actionCode="Add"``.
- ``SourceSystemJournalEntry``: ``JournalEntryHeader`` (``JournalID accountingEntity=`` = our
  journal id, ``LedgerID``, ``LedgerType Actual``, ``AccountingJournalReference/ID`` = the journal
  source set up for revbridge, ``JournalStatus/Code``) and one ``JournalEntryLine sequence=n`` per
  line, n being our 1-based line number: ``Amount``/``FunctionalAmount`` with ``currencyID``,
  ``GLAccount/GLNominalAccount`` with the accounting entity's chart, ``DimensionCodes/
  DimensionCode listID=`` per dimension the line carries, ``DebitCreditFlag D|C``,
  ``SourceAccountingDate`` (period = month, year, post date), ``TransactionReferenceText`` = the
  journal id. Nothing else: no event keys, no source document reference (it may carry a claim).

``answer`` reads an ``AcknowledgeSourceSystemJournalEntry`` (OAGIS 9 Acknowledge verb:
``OriginalApplicationArea/BODID``, ``ResponseExpression actionCode`` Accepted|Modified|Rejected,
``ChangeStatus`` Reason texts, the noun echoed; CloudSuite's journal number is the header's
``DisplayID``, the refused lines echoed with their ``sequence``) or a ``ConfirmBOD`` (ION's
failure answer, ``BODFailureMessage/ErrorProcessMessage/Description``) into a connector answer.
``erp_journal`` reads the echoed noun of an accepted acknowledgement back into our terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from revbridge.connectors import xmldoc
from revbridge.connectors.base import ErpAmount, ErpJournal, Receipt, Rejection
from revbridge.ledger.journal import Journal, JournalLine, Side

if TYPE_CHECKING:
    from revbridge.connectors.infor_ion import InforIonSettings

NS = "http://schema.infor.com/InforOAGIS/2"
PROCESS = "ProcessSourceSystemJournalEntry"
ACKNOWLEDGE = "AcknowledgeSourceSystemJournalEntry"
CONFIRM = "ConfirmBOD"
NOUN = "SourceSystemJournalEntry"
OUTCOMES = ("Accepted", "Modified", "Rejected")  # OAGIS 9 ResponseExpression actionCode
RELEASE, VERSION = "9.2", "2.9.0"
DIMENSIONS = ("facility", "cost_center", "payer_class", "service_line")


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def bod_id(tenant: str, accounting_entity: str, reference: str) -> str:
    """Infor's BODID for our journal: deterministic, so a resend is the same BOD."""
    return f"infor-nid:{tenant}:{accounting_entity}::{reference}:1?{NOUN}&verb=Process"


def stamp(created: datetime) -> str:
    """CreationDateTime in UTC to the millisecond: what a later answer is told apart by."""
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ticket(bod: str, created: str) -> str:
    """The outbox's ticket for a BOD sent at ``created``: its BODID and when it was sent, so an
    answer to an earlier send of the same BODID (a rejection before a fix) is not taken for it."""
    return f"{bod}@{created}" if created else bod


def split_ticket(value: str) -> tuple[str, str]:
    bod, _, created = value.rpartition("@")
    return (bod, created) if bod else (value, "")


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def _header(noun: Any, journal: Journal, entity: str, settings: InforIonSettings) -> None:
    header = xmldoc.sub(noun, _q("JournalEntryHeader"))
    xmldoc.sub(header, _q("JournalID"), journal.id, accountingEntity=entity, variationID="1")
    base = xmldoc.sub(header, _q("BaseJournalEntryHeader"))
    xmldoc.sub(base, _q("LedgerID"), settings.ledger_id)
    xmldoc.sub(base, _q("LedgerType"), "Actual")
    xmldoc.sub(xmldoc.sub(base, _q("AccountingJournalReference")), _q("ID"), settings.journal_reference)
    xmldoc.sub(xmldoc.sub(base, _q("JournalStatus")), _q("Code"), settings.journal_status)


def _line(
    noun: Any, n: int, line: JournalLine, journal: Journal, entity: str, settings: InforIonSettings
) -> None:
    item = xmldoc.sub(noun, _q("JournalEntryLine"), sequence=str(n))
    amount = _money(line.amount.amount)
    xmldoc.sub(item, _q("Amount"), amount, currencyID=line.amount.currency)
    xmldoc.sub(item, _q("FunctionalAmount"), amount, currencyID=line.amount.currency)
    account = xmldoc.sub(item, _q("GLAccount"))
    xmldoc.sub(account, _q("GLNominalAccount"), settings.accounts.get(line.account, line.account))
    xmldoc.sub(xmldoc.sub(account, _q("AccountingChartReference")), _q("ID"), entity)
    codes = [(d, getattr(line.dimensions, d)) for d in DIMENSIONS if d in settings.dimension_lists]
    codes = [(d, value) for d, value in codes if value]
    if codes:
        holder = xmldoc.sub(item, _q("DimensionCodes"))
        for seq, (dimension, value) in enumerate(codes, start=1):
            list_id = settings.dimension_lists[dimension]
            xmldoc.sub(holder, _q("DimensionCode"), value, sequence=str(seq), listID=list_id)
    xmldoc.sub(item, _q("DebitCreditFlag"), "D" if line.side is Side.DEBIT else "C")
    when = xmldoc.sub(item, _q("SourceAccountingDate"))
    xmldoc.sub(when, _q("PeriodID"), journal.posting_date.month)
    xmldoc.sub(when, _q("Year"), journal.posting_date.year)
    xmldoc.sub(when, _q("PostDateTime"), f"{journal.posting_date.isoformat()}T00:00:00Z")
    xmldoc.sub(item, _q("TransactionReferenceText"), journal.id)
    xmldoc.sub(item, _q("Description"), f"{settings.description_prefix} {journal.lane.value} line {n}")


def process_bod(journal: Journal, settings: InforIonSettings, tenant: str, created: datetime) -> bytes:
    """The journal as a ProcessSourceSystemJournalEntry BOD (UTF-8 bytes with a declaration)."""
    entity = settings.accounting_entity(journal.legal_entity)
    root = xmldoc.element(_q(PROCESS), nsmap={None: NS}, releaseID=RELEASE, versionID=VERSION)
    area = xmldoc.sub(root, _q("ApplicationArea"))
    sender = xmldoc.sub(area, _q("Sender"))
    xmldoc.sub(sender, _q("LogicalID"), settings.logical_id)
    xmldoc.sub(sender, _q("ComponentID"), settings.component_id)
    xmldoc.sub(sender, _q("ConfirmationCode"), "OnError")
    xmldoc.sub(area, _q("CreationDateTime"), stamp(created))
    xmldoc.sub(area, _q("BODID"), bod_id(tenant, entity, journal.id))
    data = xmldoc.sub(root, _q("DataArea"))
    process = xmldoc.sub(data, _q("Process"))
    xmldoc.sub(process, _q("TenantID"), tenant)
    xmldoc.sub(process, _q("AccountingEntityID"), entity)
    xmldoc.sub(xmldoc.sub(process, _q("ActionCriteria")), _q("ActionExpression"), actionCode="Add")
    noun = xmldoc.sub(data, _q(NOUN))
    _header(noun, journal, entity, settings)
    for n, line in enumerate(journal.lines, start=1):
        _line(noun, n, line, journal, entity, settings)
    return xmldoc.serialize(root)


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledgement:
    """One acknowledgement (or ConfirmBOD) read from ION, in our terms."""

    bod_id: str  # the BOD it answers: OriginalApplicationArea/BODID
    created: str  # when that BOD was made: OriginalApplicationArea/CreationDateTime
    reference: str  # our journal id, from the echoed JournalID ("" in a ConfirmBOD)
    outcome: str  # Accepted | Modified | Rejected
    document: str  # CloudSuite's journal number (DisplayID), when accepted
    words: str  # the ChangeStatus reasons or ErrorProcessMessage descriptions
    lines: tuple[int, ...]  # our line numbers the refusal named (echoed line sequences)
    root: xmldoc.Element

    @property
    def accepted(self) -> bool:
        return self.outcome in ("Accepted", "Modified")


def acknowledgement(root: xmldoc.Element) -> Acknowledgement | None:
    """An acknowledgement or ConfirmBOD read with xmldoc.parse; None when it is neither."""
    kind = xmldoc.local(root.tag)
    original = xmldoc.text(root, "OriginalApplicationArea", "BODID")
    created = xmldoc.text(root, "OriginalApplicationArea", "CreationDateTime")
    if kind == CONFIRM:
        words = [" ".join((d.text or "").split()) for d in xmldoc.every(root, "Description")]
        return Acknowledgement(
            bod_id=original,
            created=created,
            reference="",
            outcome="Rejected",
            document="",
            words="; ".join(w for w in words if w),
            lines=(),
            root=root,
        )
    if kind != ACKNOWLEDGE or not original:
        return None
    expression = xmldoc.find(root, "ResponseCriteria", "ResponseExpression")
    outcome = expression.get("actionCode", "") if expression is not None else ""
    if outcome not in OUTCOMES:  # not an answer we can read: never a posting or refusal on a guess
        return None
    reasons = [
        " ".join(f"{xmldoc.text(s, 'ReasonCode')}: {xmldoc.text(s, 'Reason')}".strip(": ").split())
        for s in xmldoc.every(root, "ChangeStatus")
    ]
    lines = sorted(
        {int(s) for e in xmldoc.every(root, "JournalEntryLine") if (s := e.get("sequence", "")).isdigit()}
    )
    return Acknowledgement(
        bod_id=original,
        created=created,
        reference=xmldoc.text(root, NOUN, "JournalEntryHeader", "JournalID"),
        outcome=outcome,
        document=xmldoc.text(root, NOUN, "JournalEntryHeader", "DisplayID"),
        words="; ".join(r for r in reasons if r)[:500],
        lines=tuple(lines) if outcome == "Rejected" else (),
        root=root,
    )


def answer(reference: str, ack: Acknowledgement, posted_at: datetime | None = None) -> Receipt | Rejection:
    """The connector's answer for our journal from its acknowledgement."""
    if ack.accepted:
        return Receipt(reference=reference, document=ack.document or ack.bod_id, posted_at=posted_at)
    words = ack.words or f"CloudSuite answered {ack.outcome}"
    return Rejection(
        reference=reference,
        message=f"Infor rejected the journal: {words}",
        lines=ack.lines,
        document=ack.bod_id,
    )


def _amount(value: str) -> Decimal:
    try:
        return Decimal(value) if value else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def erp_journal(ack: Acknowledgement, settings: InforIonSettings) -> ErpJournal:
    """The journal an accepted acknowledgement echoes, in our account numbers and legal entity."""
    accounts = {erp: ours for ours, erp in settings.accounts.items()}
    entities = {erp: ours for ours, erp in settings.accounting_entities.items()}
    header = xmldoc.find(ack.root, NOUN, "JournalEntryHeader", "JournalID")
    entity = header.get("accountingEntity", "") if header is not None else ""
    lines: list[ErpAmount] = []
    posted: date | None = None
    for item in xmldoc.every(ack.root, "JournalEntryLine"):
        found = xmldoc.find(item, "Amount")
        amount = _amount((found.text or "").strip() if found is not None else "")
        account = xmldoc.text(item, "GLAccount", "GLNominalAccount")
        debit = xmldoc.text(item, "DebitCreditFlag") == "D"
        lines.append(
            ErpAmount(
                account=accounts.get(account, account),
                debit=amount if debit else Decimal(0),
                credit=Decimal(0) if debit else amount,
                currency=found.get("currencyID", "USD") if found is not None else "USD",
            )
        )
        posted = posted or _date(xmldoc.text(item, "SourceAccountingDate", "PostDateTime"))
    return ErpJournal(
        reference=ack.reference,
        document=ack.document,
        legal_entity=entities.get(entity, entity),
        posting_date=posted,
        lines=tuple(lines),
    )


def journal_source(ack: Acknowledgement) -> str:
    """The echoed AccountingJournalReference/ID: revbridge's mark on what CloudSuite holds."""
    return xmldoc.text(ack.root, NOUN, "JournalEntryHeader", "AccountingJournalReference", "ID")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None
